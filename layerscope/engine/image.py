"""Image: one image opened for reading, as the public API hands it out.

`layerscope.open(ref)` returns one (engine.loading builds it): the merged tree of its
layers, the layers, what the image says of itself, and the operations people script with
(`read`, `ls`, `diff`, `analyze`). The CLI and the TUI use the same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerscope.cache import IndexCache
from layerscope.errors import EntryNotFoundError, UsageError
from layerscope.model.entry import Entry, EntryKind, normalize_path
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.model.sizes import LayerTally
from layerscope.model.tree import FileTree
from layerscope.readers.base import ImageReader, SignatureVerifier

if TYPE_CHECKING:
    from layerscope.engine.analysis import AnalysisOptions, Report
    from layerscope.engine.compare import ImageDiff
    from layerscope.model.portability.report import PortabilityReport

__all__ = ["Image", "verify_signatures"]


def verify_signatures(reader: ImageReader, meta: ImageMeta) -> None:
    """Fill meta.signatures' verification fields when the format carries signatures (once:
    entries already checked are left as they are)."""
    pending = [s for s in meta.signatures if s.get("status") is None]
    if pending and isinstance(reader, SignatureVerifier):
        reader.verify_signatures(meta)


@dataclass(slots=True)
class Image:
    """An opened image. `tree` is the merged tree of layers 0..`upto` (whiteouts applied;
    nodes are ints, see model.tree); `meta` what the image says of itself; `reader` the
    format reader behind it. Close it (or use `with`) to release its files."""

    ref: str
    reader: ImageReader
    meta: ImageMeta
    tree: FileTree
    upto: int  # index of the last layer applied
    # per layer: the index-cache key (None: not cacheable), and the cache (None: --no-cache)
    layer_keys: list[str | None] = field(default_factory=list)
    cache: IndexCache | None = None
    # per layer read while loading (load_image(tally=True)): what it stores
    tallies: dict[int, LayerTally] = field(default_factory=dict)

    def read(self, node: int, limit: int | None = None) -> bytes:
        """A regular file's bytes (the first `limit` bytes if given)."""
        return b"".join(self.iter_content(node, limit))

    def iter_content(self, node: int, limit: int | None = None) -> Iterator[bytes]:
        tree = self.tree
        if tree.kind[node] != EntryKind.FILE:
            raise UsageError(f"{tree.path(node)}: not a regular file")
        size = tree.size[node]
        want = size if limit is None else min(size, limit)
        got = 0
        if want == 0:
            return
        for chunk in self.reader.read_content(tree.source_layer(node), tree.loc[node], size):
            if got + len(chunk) >= want:
                yield chunk[: want - got]
                return
            got += len(chunk)
            yield chunk

    @property
    def layers(self) -> list[LayerInfo]:
        return self.meta.layers

    @property
    def format(self) -> str:
        return self.meta.format

    def find(self, path: str) -> int:
        """The live node at an absolute path inside the image (symlinks not followed)."""
        node = self.tree.lookup(normalize_path(path))
        if node is None:
            raise EntryNotFoundError(f"{path}: no such file or directory in {self.ref}")
        return node

    def entry(self, path: str) -> Entry:
        """The entry at `path`, as a record (kind, mode, owner, size, target...)."""
        return self.tree.entry(self.find(path), normalize_path(path))

    def ls(self, path: str = "/") -> Iterator[Entry]:
        """`path` and every live entry under it, in path order (component-wise)."""
        tree = self.tree
        top = self.find(path)
        yield tree.entry(top)
        if tree.is_dir(top):
            for node, p in tree.walk_paths(top):
                yield tree.entry(node, p)

    def read_path(self, path: str) -> bytes:
        """A regular file's bytes, by path."""
        return self.read(self.find(path))

    def diff(self, other: Image, compare: frozenset[str] | None = None) -> ImageDiff:
        """What changed from this image to `other` (entries, metadata, packages)."""
        from layerscope.engine.compare import compare_images
        from layerscope.model.diff import DEFAULT_COMPARE

        return compare_images(self, other, compare if compare is not None else DEFAULT_COMPARE)

    def analyze(self, options: AnalysisOptions | None = None) -> Report:
        """dive's efficiency and wasted bytes, reclaimable bytes, caches, duplicates,
        secrets and the largest entries (what `check` evaluates)."""
        from layerscope.engine.analysis import analyze

        return analyze(self, options)

    def portability(self) -> PortabilityReport:
        """Will it run on that cluster: architectures, x86-64 level, glibc and kernel
        floors, MPI, interconnect and GPU stacks (reads every ELF file once)."""
        from layerscope.engine.portability import portability

        return portability(self)

    def verify_signatures(self) -> list[dict[str, Any]]:
        """Check the image's signatures (a SIF's) against the keyrings it was opened with:
        each of meta.signatures gets its status ("valid", "invalid", "unknown signer"),
        signer, reason and the objects it signs. Reads the signed data once."""
        verify_signatures(self.reader, self.meta)
        return self.meta.signatures

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
