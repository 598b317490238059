"""Squashfs 4.0 images: a bare .sqfs file, or a squashfs partition inside a SIF.

Listing reads only metadata: the inode and directory tables are inflated once, block by
block, and walked in memory (squashfs_walk); data blocks are read only by read_content.
The on-disk format is declared in squashfs_format, metadata I/O lives in squashfs_meta.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Hashable, Iterator
from typing import Any

from layerscope import limits
from layerscope.errors import (
    CorruptImageError,
    MissingCodecError,
    ReaderError,
    UnsupportedFormatError,
    UsageError,
    where,
)
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.readers.base import Cancel, StoredForm, Traits
from layerscope.readers.detect import OpenOptions, no_tag
from layerscope.readers.identity import partition_identity
from layerscope.readers.squashfs import codecs
from layerscope.readers.squashfs.format import (
    DATA_SIZE_MASK,
    DATA_UNCOMPRESSED,
    FILE,
    FLAG_COMPRESSOR_OPTIONS,
    FRAGMENT_ENTRY,
    I_FILE,
    I_FILE_LAYOUT,
    I_XFILE,
    I_XFILE_LAYOUT,
    NO_INDEX,
    NO_TABLE,
    SUPERBLOCK_SIZE,
    XFILE,
    Table,
    parse_superblock,
)
from layerscope.readers.squashfs.meta import (
    MetaReader,
    Source,
    first_block,
    load_table,
    read_block,
    read_lookup_table,
)
from layerscope.readers.squashfs.walk import Tables, walk
from layerscope.readers.squashfs.xattr import XattrTable

__all__ = ["SquashFS", "SquashfsImageReader"]

_FRAGMENT_CACHE = 8
_RAW_CHUNK = 1 << 20  # stored block bytes are handed out in reads of about this size


class SquashFS:
    """One squashfs filesystem at byte `offset` of `path`, `size` bytes long (None: to EOF)."""

    def __init__(
        self, path: str, offset: int = 0, size: int | None = None, source: str | None = None
    ) -> None:
        name = source or path
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as e:
            raise ReaderError(f"{name}: cannot open: {e.strerror}") from e
        try:
            total = os.fstat(fd).st_size
            if size is None:
                size = total - offset
            if offset < 0 or size < 0 or offset + size > total:
                raise CorruptImageError(
                    f"{where(name, offset)}: squashfs of {size} bytes runs past the end "
                    f"of the file ({total} bytes): truncated"
                )
            raw = os.pread(fd, min(size, SUPERBLOCK_SIZE), offset)
            sb = parse_superblock(raw, size, name, offset)
            try:
                decompress = codecs.decompressor(sb.compressor)
            except MissingCodecError as e:
                raise MissingCodecError(f"{where(name, offset)}: {e}") from e
        except OSError as e:
            os.close(fd)
            raise ReaderError(f"{name}: cannot read: {e.strerror}") from e
        except BaseException:
            os.close(fd)
            raise
        self.path = path
        self.file_size = total
        self._sb = sb
        self._src = Source(fd, offset, size, name, decompress)
        self.info: dict[str, Any] = sb.info()
        self._itab: Table | None = None
        self._imap: dict[int, int] = {}
        self._tables: Tables | None = None
        self._inodes: MetaReader | None = None
        self._xattrs = XattrTable(self._src, None if sb.xattr_table == NO_TABLE else sb.xattr_table)
        self._fragments: bytes | None = None
        self._frag_cache: dict[int, bytes] = {}
        if sb.flags & FLAG_COMPRESSOR_OPTIONS:
            try:
                self.info["compressor_options"] = self._compressor_options()
            except BaseException:
                self._src.close()
                raise

    # -- superblock extras -------------------------------------------------------------

    def _compressor_options(self) -> dict[str, Any]:
        data, _ = read_block(self._src, SUPERBLOCK_SIZE, "compressor options")
        comp = self._sb.compressor
        try:
            if comp == "gzip":
                level, window, strategies = struct.unpack_from("<IHH", data)
                return {"level": level, "window_size": window, "strategies": strategies}
            if comp == "xz":
                dict_size, filters = struct.unpack_from("<II", data)
                return {"dict_size": dict_size, "filters": filters}
            if comp == "lz4":
                version, flags = struct.unpack_from("<II", data)
                if version != 1:
                    raise UnsupportedFormatError(
                        f"{where(self._src.name, self._src.base)}: lz4 stream version {version}"
                    )
                return {"version": version, "hc": bool(flags & 1)}
            if comp == "zstd":
                (level,) = struct.unpack_from("<I", data)
                return {"level": level}
            if comp == "lzo":
                algorithm, level = struct.unpack_from("<II", data)
                return {"algorithm": algorithm, "level": level}
        except struct.error as e:
            raise self._src.corrupt(SUPERBLOCK_SIZE, "compressor options cut off") from e
        return {}

    # -- listing -------------------------------------------------------------------------

    def _dir_table_end(self) -> int:
        """Where the directory table ends: the nearest table that follows it."""
        sb, src = self._sb, self._src
        marks = [sb.bytes_used]
        for start in (sb.fragment_table, sb.export_table, sb.id_table, sb.xattr_table):
            if start != NO_TABLE:
                marks.append(start)
        # Lookup tables keep their metadata blocks before the index the superblock names.
        if sb.fragment_table != NO_TABLE and sb.fragment_count:
            marks.append(first_block(src, sb.fragment_table))
        if sb.export_table != NO_TABLE and sb.inode_count:
            marks.append(first_block(src, sb.export_table))
        marks.append(first_block(src, sb.id_table))
        if sb.xattr_table != NO_TABLE:
            marks.append(first_block(src, sb.xattr_table))  # the key/value table start
        # bytes_used is always among them: parse_superblock checked the table starts.
        return min(m for m in marks if m > sb.directory_table)

    def _load_tables(self) -> Tables:
        if self._tables is None:
            sb, src = self._sb, self._src
            itab, imap = load_table(src, sb.inode_table, sb.directory_table, "inode table")
            # The two tables are held together: they share max_metadata_bytes.
            dtab, dmap = load_table(
                src, sb.directory_table, self._dir_table_end(), "directory table", len(itab)
            )
            raw_ids = read_lookup_table(src, sb.id_table, sb.id_count, 4, "id table")
            ids = struct.unpack_from(f"<{sb.id_count}I", raw_ids)
            self._itab, self._imap = itab, imap
            self._tables = Tables(
                itab, imap, dtab, dmap, ids, self._xattrs.get, where(src.name, src.base)
            )
        return self._tables

    def columns(self, cancel: Cancel | None = None) -> LayerColumns:
        """Every entry except the root, column-wise (model.columns), parents first."""
        tables = self._load_tables()
        self._xattrs.budget = limits.XattrBudget(where(self._src.name, self._src.base))
        # The limits.max_entries cap, and a structural one: a directory record is at least
        # 9 bytes, so a well-formed table never yields more than len(table) // 9 entries.
        try:
            return walk(
                tables,
                self._sb.root_inode,
                limits.get("max_entries"),
                len(tables.dtab) // 9 + 1,
                cancel,
            )
        finally:
            # The inflated tables take ~50 bytes an entry; content reads afterwards find
            # their inode through MetaReader's few cached blocks instead. Dropping them
            # here, before the caller indexes the listing, is what keeps peak memory
            # under the tree's own size plus one copy of the tables.
            self._tables = self._itab = None
            self._imap = {}

    def iter_entries(self) -> Iterator[Entry]:
        """Every entry except the root, parents before children, absolute paths."""
        yield from self.columns().entries()

    # -- content -------------------------------------------------------------------------

    def _inode_bytes(self, ref: int, length: int) -> bytes:
        block, offset = ref >> 16, ref & 0xFFFF
        if self._itab is not None:
            pos = self._imap.get(block)
            if pos is None:
                raise self._src.corrupt(self._sb.inode_table, f"no inode at reference {ref}")
            return self._itab[pos + offset : pos + offset + length]
        if self._inodes is None:
            sb = self._sb
            self._inodes = MetaReader(self._src, sb.inode_table, sb.directory_table, "inodes")
        return self._inodes.read(block, offset, length)

    def _file_layout(self, ref: int) -> tuple[int, int, int, int, tuple[int, ...]]:
        """(blocks start, file size, fragment index, fragment offset, block sizes)."""
        head = self._inode_bytes(ref, I_XFILE.size)
        itype = head[0] if head else 0
        if itype == FILE and len(head) >= I_FILE.size:
            *_, start, frag, foff, fsize = I_FILE.unpack_from(head)
            hlen = I_FILE.size
        elif itype == XFILE and len(head) == I_XFILE.size:
            *_, start, fsize, _, _, frag, foff, _ = I_XFILE.unpack_from(head)
            hlen = I_XFILE.size
        else:
            raise self._src.corrupt(self._sb.inode_table, f"inode {ref} is not a regular file")
        bs = self._sb.block_size
        nblocks = fsize // bs if frag != NO_INDEX else -(-fsize // bs)
        if not nblocks:  # all in a fragment (most files): the head is the whole inode
            return start, fsize, frag, foff, ()
        raw = self._inode_bytes(ref, hlen + 4 * nblocks)
        if len(raw) != hlen + 4 * nblocks:
            raise self._src.corrupt(self._sb.inode_table, f"block list of inode {ref} cut off")
        return start, fsize, frag, foff, struct.unpack_from(f"<{nblocks}I", raw, hlen)

    def _fragment_block(self, index: int) -> bytes:
        block = self._frag_cache.get(index)
        if block is not None:
            return block
        sb, src = self._sb, self._src
        if self._fragments is None:
            if sb.fragment_table == NO_TABLE or not sb.fragment_count:
                raise src.corrupt(None, "a file uses a fragment but the image has none")
            self._fragments = read_lookup_table(
                src, sb.fragment_table, sb.fragment_count, FRAGMENT_ENTRY.size, "fragment table"
            )
        if index >= sb.fragment_count:
            raise src.corrupt(sb.fragment_table, f"fragment {index} >= {sb.fragment_count}")
        start, stored, _ = FRAGMENT_ENTRY.unpack_from(self._fragments, index * FRAGMENT_ENTRY.size)
        csize = stored & DATA_SIZE_MASK
        if csize > sb.block_size:
            raise src.corrupt(start, f"fragment block of {csize} bytes")
        block = src.pread(start, csize)
        if not stored & DATA_UNCOMPRESSED:
            block = src.inflate(block, sb.block_size, start, "fragment block")
        # several workers may read one image at once (a content comparison beside an
        # analysis): evicting is done so that two threads evicting never fail
        cache = self._frag_cache
        while len(cache) >= _FRAGMENT_CACHE:
            try:
                cache.pop(next(iter(cache)), None)
            except (RuntimeError, StopIteration):  # changed under us: look again
                continue
        cache[index] = block
        return block

    def extent(self, loc: int) -> tuple[int, int, int, int]:
        """Where a regular file's bytes are stored: (blocks start, size, fragment, fragment
        offset). mksquashfs stores identical files once: their inodes share it."""
        start, fsize, frag, foff, _ = self._file_layout(loc)
        return start, fsize, frag, foff

    def codec(self) -> str:
        """What decides how this filesystem stores a block: compressor, its options (as
        the superblock records them: absent means the writer's defaults) and block size."""
        info = self.info
        options = sorted(info.get("compressor_options", {}).items())
        return f"squashfs|{info['compressor']}|{options}|{info['block_size']}"

    def stored_forms(
        self, locs: Collection[int], inflate: bool = False
    ) -> Iterator[tuple[int, StoredForm]]:
        """(loc, StoredForm) of each regular file at `locs`: its block size list and the raw
        bytes of its blocks (inflated only with `inflate`: the file's content then), and
        its fragment slice (inflated). Files come in fragment order, so each fragment block
        is inflated once however many files share it. The inode table is inflated whole
        for the call (a diff asks for most files; one C call per 8 KiB block beats a
        lookup per file) and dropped after it."""
        sb, src = self._sb, self._src
        itab, imap = load_table(src, sb.inode_table, sb.directory_table, "inode table")
        bs = sb.block_size
        file_layout, xfile_layout = I_FILE_LAYOUT.unpack_from, I_XFILE_LAYOUT.unpack_from
        basic, extended, no_frag = FILE, XFILE, NO_INDEX
        small: list[tuple[int, int, int, int]] = []  # no blocks: (fragment, offset, size, loc)
        big: list[tuple[int, int, int, int, int, int, int]] = []
        add_small, add_big = small.append, big.append
        try:
            for loc in locs:
                ipos = imap[loc >> 16] + (loc & 0xFFFF)
                itype = itab[ipos]
                if itype == basic:
                    start, frag, foff, fsize = file_layout(itab, ipos)
                    at = ipos + I_FILE.size
                elif itype == extended:
                    start, fsize, frag, foff = xfile_layout(itab, ipos)
                    at = ipos + I_XFILE.size
                else:
                    raise src.corrupt(sb.inode_table, f"inode {loc} is not a regular file")
                if frag != no_frag and fsize < bs:
                    add_small((frag, foff, fsize, loc))
                elif not fsize:
                    add_small((-1, 0, 0, loc))
                else:
                    nblocks = fsize // bs if frag != no_frag else -(-fsize // bs)
                    add_big((frag, foff, loc, start, fsize, at, nblocks))
        except (KeyError, IndexError, struct.error) as e:
            raise src.corrupt(sb.inode_table, f"bad inode reference ({e})") from e
        # Files in fragment order (then offset): each fragment block inflated once.
        small.sort()
        held, block, form = -1, b"", StoredForm
        for frag, foff, fsize, loc in small:
            if frag != held:
                held, block = frag, self._fragment_block(frag) if frag >= 0 else b""
            if foff + fsize > len(block):
                raise src.corrupt(None, f"fragment {frag} too short for a {fsize}-byte file")
            yield loc, form(b"", (), block[foff : foff + fsize])
        big.sort()  # no fragment (NO_INDEX) last
        for frag, foff, loc, start, fsize, at, nblocks in big:
            layout = bytes(itab[at : at + 4 * nblocks])
            if len(layout) != 4 * nblocks:
                raise src.corrupt(sb.inode_table, f"block list of inode {loc} cut off")
            sizes = struct.unpack(f"<{nblocks}I", layout)
            if inflate:
                blocks = self._blocks(start, fsize, sizes)
            else:
                blocks = self._raw_blocks(start, sizes)
            tail = b""
            remaining = fsize - bs * nblocks
            if frag != no_frag and remaining > 0:
                tail = self._fragment_block(frag)[foff : foff + remaining]
                if len(tail) != remaining:
                    raise src.corrupt(None, f"fragment {frag} too short for a {fsize}-byte file")
            yield loc, StoredForm(layout, blocks, tail)

    def _raw_blocks(self, start: int, sizes: tuple[int, ...]) -> Iterator[bytes]:
        """The stored bytes of a file's blocks (contiguous from `start`), in reads of about
        _RAW_CHUNK bytes; sparse blocks store nothing."""
        bs, src = self._sb.block_size, self._src
        pos = run = 0
        for stored in sizes:
            csize = stored & DATA_SIZE_MASK
            if csize > bs:
                raise src.corrupt(start + pos, f"data block of {csize} bytes (block size {bs})")
            run += csize
            if run >= _RAW_CHUNK:
                yield src.pread(start + pos, run)
                pos, run = pos + run, 0
        if run:
            yield src.pread(start + pos, run)

    def _blocks(self, start: int, fsize: int, sizes: tuple[int, ...]) -> Iterator[bytes]:
        """A file's blocks inflated: its first len(sizes) * block size bytes (fewer at
        the end of a file with no fragment)."""
        src, bs = self._src, self._sb.block_size
        pos, remaining = start, fsize
        for stored in sizes:
            want = bs if remaining > bs else remaining
            csize = stored & DATA_SIZE_MASK
            if csize == 0:
                out = bytes(want)  # sparse block
            else:
                if csize > bs:
                    raise src.corrupt(pos, f"data block of {csize} bytes (block size {bs})")
                out = src.pread(pos, csize)
                if not stored & DATA_UNCOMPRESSED:
                    out = src.inflate(out, bs, pos, "data block")
                if len(out) > want:
                    raise src.corrupt(pos, f"data block inflates to {len(out)} bytes, not {want}")
                if len(out) < want:
                    out += bytes(want - len(out))  # a short block ends in zeros
                pos += csize
            remaining -= want
            yield out

    def read_content(self, loc: int, size: int) -> Iterator[bytes]:
        """Stream a regular file's bytes block by block (`size` is the Entry's; the inode's
        own size is authoritative)."""
        start, fsize, frag, foff, sizes = self._file_layout(loc)
        yield from self._blocks(start, fsize, sizes)
        remaining = fsize - self._sb.block_size * len(sizes)
        if frag != NO_INDEX and remaining > 0:
            tail = self._fragment_block(frag)[foff : foff + remaining]
            if len(tail) != remaining:
                raise self._src.corrupt(None, f"fragment {frag} too short for a {fsize}-byte file")
            yield tail

    def close(self) -> None:
        self._src.close()
        self._tables = None
        self._itab = None

    def __enter__(self) -> SquashFS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SquashfsImageReader:
    """ImageReader for a bare squashfs file: one layer, the filesystem itself."""

    traits = Traits(random_access=True, inner_metadata=True)

    def __init__(self, path: str) -> None:
        self._path = path
        self._fs = SquashFS(path)

    def _check(self, layer: int) -> None:
        if layer != 0:
            raise UsageError(f"{self._path}: a squashfs image has one layer, not layer {layer}")

    def describe(self) -> ImageMeta:
        info = self._fs.info
        layer = LayerInfo(
            0,
            id=self._path,
            media_type="squashfs",
            stored_size=info["bytes_used"],
            extra=dict(info),
        )
        return ImageMeta(
            format="squashfs",
            source=self._path,
            layers=[layer],
            carries_config=False,
            stored_bytes=self._fs.file_size,
        )

    def layer_identity(self, layer: int) -> str | None:
        self._check(layer)
        return partition_identity(self._path, 0, self._fs.info["bytes_used"], "squashfs")

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        self._check(layer)
        return self._fs.iter_entries()

    def layer_columns(self, layer: int, cancel: Cancel | None) -> LayerColumns:
        self._check(layer)
        return self._fs.columns(cancel)

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        self._check(layer)
        return self._fs.read_content(loc, size)

    def content_extent(self, layer: int, loc: int) -> Hashable | None:
        self._check(layer)
        return self._fs.extent(loc)

    def stored_codec(self, layer: int) -> str | None:
        self._check(layer)
        return self._fs.codec()

    def stored_forms(
        self, layer: int, locs: Collection[int], inflate: bool = False
    ) -> Iterator[tuple[int, StoredForm]]:
        self._check(layer)
        return self._fs.stored_forms(locs, inflate)

    def close(self) -> None:
        self._fs.close()


def open_squashfs(path: str, tag: str | None, _opts: OpenOptions) -> SquashfsImageReader:
    """The opener readers.detect names for bare squashfs files."""
    no_tag(path, tag, "a squashfs file")
    return SquashfsImageReader(path)
