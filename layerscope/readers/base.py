"""The one small protocol every format reader implements."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from layerscope.model.columns import LayerColumns
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta

CHUNK = 1 << 20
Cancel = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Traits:
    """What the engine may assume about a reader, so that no format name is tested outside
    readers/ (a new format states its traits here instead of being special-cased there).

    random_access     a file's content costs a seek (squashfs, ext3, directories); False:
                      layers are streams, reading one member inflates all before it (tar)
    parallel_layers   layers may be listed from several threads at once (local OCI stores:
                      separate files or pread; not a registry's shared HTTP session)
    inner_metadata    the image may keep Apptainer metadata (runscript, labels...) inside
                      its tree, which `inspect` then loads the tree to show
    """

    random_access: bool
    parallel_layers: bool = False
    inner_metadata: bool = False


class ImageReader(Protocol):
    """A read-only view of one image.

    traits          see Traits.
    describe()      cheap: header, descriptors, manifests, config. Never walks a layer.
                    Each LayerInfo says how its whiteouts are encoded (`whiteouts`).
    iter_entries(i) streams layer i's raw entries in the layer's own order, whiteouts
                    included (OCI `.wh.` names, overlayfs 0/0 char devices and opaque
                    xattrs are reported as stored; the model interprets them).
    read_content    streams a regular file's bytes in chunks; `loc` and `size` come from
                    the Entry the reader yielded. Stops early if the caller stops.
    layer_identity  what identifies layer i's bytes for the index cache (a blob digest, a
                    file's identity and offset...), or None: never cache that layer.
    close()         releases file handles; the reader never writes.
    """

    traits: Traits

    def describe(self) -> ImageMeta: ...

    def layer_identity(self, layer: int) -> str | None: ...

    def iter_entries(self, layer: int) -> Iterator[Entry]: ...

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


@runtime_checkable
class StreamedContents(Protocol):
    """Optional, for readers whose layers are streams (tar, tar+gzip, tar+zstd): reading one
    member costs decompressing everything before it, so many are read in one pass.
    read_contents(i, wanted) yields (loc, chunks) for each (loc, size) wanted, in ascending
    loc order; each member's chunks are to be consumed before the next is asked for."""

    def read_contents(
        self, layer: int, wanted: Sequence[tuple[int, int]]
    ) -> Iterator[tuple[int, Iterator[bytes]]]: ...


@runtime_checkable
class StoredExtents(Protocol):
    """Optional, for formats that may store identical files once (squashfs: mksquashfs
    deduplicates by default): content_extent(i, loc) identifies where layer i stores a
    file's bytes; two files with equal extents are one stored copy."""

    def content_extent(self, layer: int, loc: int) -> Hashable | None: ...


class StoredForm(NamedTuple):  # a tuple: made once per file, 5x cheaper than a dataclass
    """A regular file's bytes as the image stores them (see StoredForms).

    layout   how the blocks are stored (squashfs: the inode's block size list, flags and
             all), so that equal layouts + equal `blocks` bytes mean equal stored blocks
    blocks   the stored (still compressed) bytes of those blocks, in chunks, not inflated;
             or, when the forms were asked for inflated, the blocks' content. Empty (a
             falsy () ) when the file has no blocks.
    tail     the content kept outside the blocks, already inflated (squashfs: the file's
             slice of its fragment block; b"" when it has none)

    Inflated, blocks + tail is the file's content."""

    layout: bytes
    blocks: Iterable[bytes]
    tail: bytes


@runtime_checkable
class StoredForms(Protocol):
    """Optional, for formats that compress a file in self-contained blocks (squashfs):
    two layers written with the same codec store an unchanged file as the same bytes, so
    contents are compared without inflating them.

    stored_codec(i)        what decides how layer i turns content into stored bytes
                           (compressor, its options, block size), or None when the
                           layer's files have no stored form. Equal codecs are a hint
                           that stored forms are worth comparing, never a proof: the
                           caller confirms by content where stored forms differ.
    stored_forms(i, locs, inflate)
                           (loc, StoredForm) for each wanted locator of layer i, in an
                           order of the reader's choosing (one that inflates each shared
                           block once: reading many files' contents this way, with
                           inflate=True, is also the fastest); each form's `blocks` is to
                           be consumed before the next form is asked for."""

    def stored_codec(self, layer: int) -> str | None: ...

    def stored_forms(
        self, layer: int, locs: Collection[int], inflate: bool = False
    ) -> Iterator[tuple[int, StoredForm]]: ...


@runtime_checkable
class ColumnLister(Protocol):
    """Optional, for readers that walk their own directory structure (squashfs):
    layer_columns(i, cancel) lists layer i column-wise (model.columns) without an Entry per
    entry, or returns None when it cannot for that layer. `cancel` is polled as it goes;
    when it returns True the listing stops early and is incomplete."""

    def layer_columns(self, layer: int, cancel: Cancel | None) -> LayerColumns | None: ...


@runtime_checkable
class SignatureVerifier(Protocol):
    """Optional, for formats that carry signatures (SIF): verify_signatures(meta) checks
    each entry of meta.signatures against the keys the reader was opened with
    (OpenOptions.keyrings), filling in its status, signer and reason. It reads all the
    signed data once (a hash over each signed partition), so it is asked for only by
    `inspect`, `check` and the TUI's background analysis, never by describe()."""

    def verify_signatures(self, meta: ImageMeta) -> None: ...


@runtime_checkable
class ListCheck(Protocol):
    """Optional, for formats whose file may describe itself yet hold no tree at all (a SIF
    with no filesystem partition): check_listable() raises the ReaderError that says so.
    Whoever builds a tree calls it after describe(); describe() itself keeps working, so
    `inspect` still shows what the file does hold."""

    def check_listable(self) -> None: ...
