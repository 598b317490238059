"""SifReader: a SIF's header and descriptor table -> layers (partitions) and metadata.

Partitions are read in place at their offset by the squashfs and ext3 readers; nothing is
copied out of the file. The header and the descriptor table are parsed when the reader is
made, so a file that is not a SIF, or whose table is cut short, fails at once. A data object
whose bytes lie outside the file (or over the header or table) is only reported in describe()
(as a warning) and refused when something tries to read it, so the rest stays browsable.
"""

from __future__ import annotations

import dataclasses
import lzma
import os
import struct
import threading
import zlib
from collections.abc import Collection, Hashable, Iterator
from typing import TypeVar

from layerscope import limits
from layerscope.errors import (
    CorruptImageError,
    EncryptedError,
    LayerscopeError,
    ReaderError,
    UnsupportedFormatError,
    UsageError,
)
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.readers.base import Cancel, StoredForm, Traits
from layerscope.readers.detect import OpenOptions, no_tag
from layerscope.readers.identity import partition_identity
from layerscope.readers.sif import format as sf
from layerscope.readers.sif.keys import load_keys
from layerscope.readers.sif.meta import definition_summary, fill_metadata
from layerscope.readers.sif.partitions import PartitionFS, open_partition
from layerscope.readers.sif.signatures import verify_signatures

__all__ = ["SifReader"]

_MEDIA_TYPES = {
    sf.FS_SQUASHFS: "squashfs",
    sf.FS_EXT3: "ext3",
    sf.FS_IMMUOBJ: "archive",
    sf.FS_RAW: "raw",
    sf.FS_ENCRYPTED_SQUASHFS: "squashfs-encrypted",
    sf.FS_GOCRYPTFS_SQUASHFS: "squashfs-gocryptfs",
}
# Library failures a partition reader could leak; anything else is a bug, not bad input.
_DATA_ERRORS = (
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    UnicodeError,
    OverflowError,
    RecursionError,
)


_T = TypeVar("_T")
_SHOWN_DESCRIPTORS = 4  # named in the "no filesystem partition" error


def _label(d: sf.SifDescriptor) -> str:
    """siftool's TYPE column, with the raw number when the type is not a known one."""
    label = d.type_label()
    return f"{label} (type {d.data_type:#x})" if d.type_name == "Unknown" else label


class SifReader:
    """Read-only view of one SIF file (implements readers.base.ImageReader)."""

    traits = Traits(random_access=True, inner_metadata=True)

    def __init__(self, path: str, keyrings: tuple[str, ...] = ()) -> None:
        self._path = path
        self._keyrings = keyrings
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file or directory") from None
        except OSError as e:
            raise ReaderError(f"{path}: cannot open: {e.strerror}") from None
        self._fs: dict[int, PartitionFS] = {}
        self._fs_lock = threading.Lock()  # a UI may preview a file while a walk runs
        try:
            self._size = os.fstat(self._fd).st_size
            self._header = self._read_header()
            self._table = self._read_table()
            self._used = [d for d in self._table if d.used]
            self._bad = {d.id: msg for d in self._used if (msg := self._bounds_error(d))}
            self._layers = self._plan_layers()
        except BaseException:
            os.close(self._fd)
            raise

    # -- ImageReader ------------------------------------------------------------------------

    def describe(self) -> ImageMeta:
        arch = sf.go_arch(self._header.arch)
        meta = ImageMeta(
            format="sif",
            source=self._path,
            architecture=None if arch == "unknown" else arch,
            os=None if arch == "unknown" else "linux",  # SIF is Apptainer's: Linux only
            created=sf.iso_time(self._header.created_at),
            stored_bytes=self._size,
        )
        header = self._header.to_json()
        header["file_size"] = self._size
        meta.sif = {"header": header, "descriptors": [d.to_json() for d in self._used]}
        meta.warnings.extend(self._bad.values())
        fill_metadata(meta, self._used, lambda d: self._read_object(d, meta.warnings))
        summary = definition_summary(meta.definition)
        for planned, d in self._layers:
            info = dataclasses.replace(planned, extra=dict(planned.extra))  # callers may edit
            if info.index == 0 and d.part_type == sf.PART_PRIMSYS:
                info.created_by = summary
            self._add_fs_facts(info, d, meta.warnings)
            meta.layers.append(info)
        return meta

    def verify_signatures(self, meta: ImageMeta) -> None:
        """Check meta.signatures as `apptainer verify` would (readers/sif/signatures.py)."""
        if meta.signatures:
            keys, bad = load_keys(self._keyrings), set(self._bad)
            verify_signatures(self._header, self._used, self._pread, bad, keys, meta.signatures)

    def check_listable(self) -> None:
        """readers.base.ListCheck: without a primary or overlay filesystem partition there
        is no tree, and an empty listing with exit 0 would say the image is empty."""
        if self._layers:
            return
        shown = [f"{d.id}: {_label(d)}" for d in self._used[:_SHOWN_DESCRIPTORS]]
        if len(self._used) > _SHOWN_DESCRIPTORS:
            shown.append(f"{len(self._used) - _SHOWN_DESCRIPTORS} more")
        held = f"descriptors {'; '.join(shown)}" if shown else "no data objects"
        raise UnsupportedFormatError(
            f"{self._path}: no readable filesystem partition (the SIF holds {held})"
        )

    def layer_identity(self, layer: int) -> str | None:
        info, d = self._layer(layer)
        if info.encrypted:
            return None
        return partition_identity(self._path, d.offset, d.size, info.media_type)

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        info, d = self._layer(layer)
        fs = self._open_fs(info, d)
        return self._guard(d, fs.iter_entries())

    def layer_columns(self, layer: int, cancel: Cancel | None) -> LayerColumns | None:
        info, d = self._layer(layer)
        fs = self._open_fs(info, d)
        columns = getattr(fs, "columns", None)  # squashfs partitions only
        if columns is None:
            return None
        try:
            cols: LayerColumns = columns(cancel)
        except LayerscopeError:
            raise
        except (*_DATA_ERRORS, OSError) as e:
            raise self._translate(d, e) from e
        return cols

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        info, d = self._layer(layer)
        fs = self._open_fs(info, d)
        return self._guard(d, fs.read_content(loc, size))

    def content_extent(self, layer: int, loc: int) -> Hashable | None:
        """Where a squashfs partition stores a file's bytes (None for ext3 overlays)."""
        info, d = self._layer(layer)
        extent = getattr(self._open_fs(info, d), "extent", None)
        if extent is None:
            return None
        try:
            got: Hashable = extent(loc)
        except (*_DATA_ERRORS, OSError) as e:
            raise self._translate(d, e) from e
        return got

    def stored_codec(self, layer: int) -> str | None:
        """The squashfs partition's codec (readers.base.StoredForms); None for partitions
        with no stored form (ext3 overlays) and for those that cannot be opened (an
        encrypted one): their contents are then compared, or refused, by reading them."""
        info, d = self._layer(layer)
        try:
            codec = getattr(self._open_fs(info, d), "codec", None)
        except LayerscopeError:
            return None
        return None if codec is None else str(codec())

    def stored_forms(
        self, layer: int, locs: Collection[int], inflate: bool = False
    ) -> Iterator[tuple[int, StoredForm]]:
        """SquashFS.stored_forms of the layer's partition."""
        info, d = self._layer(layer)
        forms = getattr(self._open_fs(info, d), "stored_forms", None)
        if forms is None:
            raise UsageError(f"{self._path}: layer {layer} has no stored forms")
        # SquashFS.stored_forms raises only typed errors naming this partition (its own
        # checks, Source's reads and inflates): no _guard generator per file around it.
        got: Iterator[tuple[int, StoredForm]] = forms(locs, inflate)
        return got

    def close(self) -> None:
        with self._fs_lock:
            for fs in self._fs.values():
                fs.close()
            self._fs.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SifReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- header and table -------------------------------------------------------------------

    def _pread(self, offset: int, size: int) -> bytes:
        try:
            return os.pread(self._fd, size, offset)
        except OSError as e:
            raise ReaderError(f"{self._path}: cannot read at byte {offset}: {e.strerror}") from e

    def _read_header(self) -> sf.SifHeader:
        raw = self._pread(0, sf.HEADER.size)
        magic_end = sf.MAGIC_OFFSET + len(sf.MAGIC)
        if not raw:
            raise UnsupportedFormatError(f"{self._path}: not a SIF image (empty file)")
        if raw[sf.MAGIC_OFFSET : magic_end] != sf.MAGIC:
            raise UnsupportedFormatError(
                f"{self._path}: not a SIF image (no SIF magic at byte {sf.MAGIC_OFFSET})"
            )
        if len(raw) < sf.HEADER.size:
            raise CorruptImageError(
                f"{self._path}: truncated SIF global header: {len(raw)} of {sf.HEADER.size} bytes"
            )
        h = sf.SifHeader.parse(raw)
        if h.version != sf.VERSION_01:
            raise UnsupportedFormatError(
                f"{self._path}: unsupported SIF version {sf.cstr(h.version)!r} (only 01)"
            )
        return h

    def _read_table(self) -> list[sf.SifDescriptor]:
        h = self._header
        total, off = h.descriptors_total, h.descriptors_offset
        if total < 0 or off < sf.HEADER.size:
            raise CorruptImageError(
                f"{self._path}: bad descriptor table in header: {total} descriptors at byte {off}"
            )
        # Apptainer makes 48; a bogus count must not make us read (or allocate) gigabytes.
        if total > limits.get("max_sif_descriptors"):
            raise limits.exceeded(
                f"{self._path}: header claims {total} descriptors", "max_sif_descriptors"
            )
        need = total * sf.DESCRIPTOR.size
        if h.descriptors_size < need:
            raise CorruptImageError(
                f"{self._path}: descriptor table at byte {off} is {h.descriptors_size} bytes, "
                f"too small for {total} descriptors"
            )
        raw = self._pread(off, need) if need else b""
        if len(raw) < need:
            raise CorruptImageError(
                f"{self._path}: truncated descriptor table: bytes {off}-{off + need} needed, "
                f"file ends at {self._size}"
            )
        step = sf.DESCRIPTOR.size
        return [sf.SifDescriptor.parse(raw[i : i + step]) for i in range(0, need, step)]

    def _bounds_error(self, d: sf.SifDescriptor) -> str | None:
        """Why descriptor d's data object cannot be trusted, or None."""
        start, end = d.offset, d.offset + d.size
        where = f"{self._path}: descriptor {d.id}: data object at bytes {start}-{end}"
        if start < 0 or d.size < 0:
            return f"{where} has a negative offset or size"
        if end > self._size:
            return f"{where} extends past the end of the file ({self._size} bytes)"
        if d.size == 0:
            return None
        if start < sf.HEADER.size:
            return f"{where} overlaps the global header (bytes 0-{sf.HEADER.size})"
        t_start = self._header.descriptors_offset
        t_end = t_start + len(self._table) * sf.DESCRIPTOR.size
        if start < t_end and end > t_start:
            return f"{where} overlaps the descriptor table (bytes {t_start}-{t_end})"
        return None

    def _read_object(self, d: sf.SifDescriptor, warnings: list[str]) -> bytes | None:
        if d.id in self._bad:
            return None  # already in the warnings
        # Metadata objects are read whole; larger ones are skipped with a warning.
        cap = limits.get("max_sif_object_bytes")
        if d.size > cap:
            warnings.append(
                f"{self._path}: descriptor {d.id}: {d.size} bytes, larger than the "
                f"{cap}-byte limit for metadata objects; not read "
                f"({limits.hint('max_sif_object_bytes')})"
            )
            return None
        return self._pread(d.offset, d.size)

    def _add_fs_facts(self, info: LayerInfo, d: sf.SifDescriptor, warnings: list[str]) -> None:
        """Merge the partition's superblock facts into info.extra; a partition that cannot
        be opened becomes a warning here and an error only when someone reads it."""
        if d.id in self._bad or d.fs_type in sf.ENCRYPTED_FS:
            return
        try:
            fs = self._open_fs(info, d)
        except LayerscopeError as e:
            warnings.append(str(e))
            return
        info.extra.update(fs.info)
        if info.extra.get("needs_recovery"):
            warnings.append(
                f"{self._path} (descriptor {d.id}): the overlay journal holds unreplayed "
                "changes: the most recent writes may be missing"
            )

    # -- layers -----------------------------------------------------------------------------

    def _plan_layers(self) -> list[tuple[LayerInfo, sf.SifDescriptor]]:
        parts = [d for d in self._used if d.data_type == sf.PARTITION]
        primary = [d for d in parts if d.part_type == sf.PART_PRIMSYS][:1]
        overlays = [d for d in parts if d.part_type == sf.PART_OVERLAY]
        # Every overlay is a layer the tree is built from, like an OCI manifest's layers;
        # thousands of descriptors may point at one small ext3 image, each costing a walk.
        cap = limits.get("max_layers")
        if len(primary) + len(overlays) > cap:
            raise limits.exceeded(
                f"{self._path}: {len(primary) + len(overlays)} filesystem partitions "
                f"({len(overlays)} overlays)",
                "max_layers",
            )
        layers: list[tuple[LayerInfo, sf.SifDescriptor]] = []
        for d in primary + overlays:
            base = _MEDIA_TYPES.get(d.fs_type, "unknown")
            if d.part_type == sf.PART_OVERLAY:
                base += "-overlay"
            info = LayerInfo(
                index=len(layers),
                id=f"descriptor {d.id}",
                media_type=base,
                stored_size=d.size,
                encrypted=d.fs_type in sf.ENCRYPTED_FS,
                comment="overlay partition" if d.part_type == sf.PART_OVERLAY else None,
                # an overlay partition is an overlayfs upper directory: 0/0 char devices
                # delete, opaque xattrs hide what the primary partition holds
                whiteouts="overlayfs" if d.part_type == sf.PART_OVERLAY else "none",
                extra={
                    "descriptor": d.id,
                    "partition_type": sf.PART_NAMES.get(d.part_type, "Unknown"),
                    "fs_type": sf.FS_NAMES.get(d.fs_type, "Unknown"),
                    "arch": d.part_arch,
                    "offset": d.offset,
                    "group": d.group,
                },
            )
            layers.append((info, d))
        return layers

    def _layer(self, layer: int) -> tuple[LayerInfo, sf.SifDescriptor]:
        if not 0 <= layer < len(self._layers):
            raise UsageError(f"{self._path}: no layer {layer} (the image has {len(self._layers)})")
        return self._layers[layer]

    def _open_fs(self, info: LayerInfo, d: sf.SifDescriptor) -> PartitionFS:
        with self._fs_lock:
            fs = self._fs.get(info.index)
            if fs is None:
                fs = self._fs[info.index] = self._new_fs(d)
            return fs

    def _new_fs(self, d: sf.SifDescriptor) -> PartitionFS:
        if d.id in self._bad:
            raise CorruptImageError(self._bad[d.id])
        where = f"{self._path} (descriptor {d.id})"
        if d.fs_type in sf.ENCRYPTED_FS:
            raise EncryptedError(f"{where}: encrypted partition: contents cannot be read")
        try:
            fs = open_partition(self._path, d, where)
        except LayerscopeError:
            raise
        except (*_DATA_ERRORS, OSError) as e:
            raise self._translate(d, e) from e
        return fs

    def _guard(self, d: sf.SifDescriptor, it: Iterator[_T]) -> Iterator[_T]:
        """Re-raise what a partition reader lets slip as a typed error naming the partition."""
        try:
            yield from it
        except LayerscopeError:
            raise
        except (*_DATA_ERRORS, OSError) as e:
            raise self._translate(d, e) from e

    def _translate(self, d: sf.SifDescriptor, e: BaseException) -> ReaderError:
        first = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, OSError) and not isinstance(e, EOFError):
            return ReaderError(f"{self._path} (descriptor {d.id}): cannot read: {first}")
        return CorruptImageError(
            f"{self._path} (descriptor {d.id} at byte {d.offset}): corrupt partition: "
            f"{type(e).__name__}: {first}"
        )


def open_sif(path: str, tag: str | None, opts: OpenOptions) -> SifReader:
    """The opener readers.detect names for SIF files."""
    no_tag(path, tag, "a SIF file")
    return SifReader(path, opts.keyrings)
