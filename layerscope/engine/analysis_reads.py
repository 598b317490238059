"""Content reads for the analyses: one byte budget for all of them, failures as notes.

Images whose layers are streams (tar, tar+gzip, tar+zstd) cannot afford a read per file:
each would decompress its layer up to the member again. For those, what the analyses will
read is collected by a dry run first and read ahead in one pass per layer: contents to
hash and small files to scan, both by prefetch().
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import xxhash

from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.model.bloat.waste import content_key
from layerscope.readers.base import StreamedContents

# Bytes prefetch_bytes keeps in memory at most; past it, files are read one by one.
HELD_BYTES = 64 << 20


class BudgetedReads:
    """Content reads under one budget; a read that fails becomes a note, not an error."""

    def __init__(
        self,
        img: Image,
        budget: int | None,
        notes: list[str],
        cancel: threading.Event | None = None,
    ) -> None:
        self.img = img
        self.cancel = cancel
        self.left = budget
        self.used = 0
        self.notes = notes
        self.hasher = ContentHasher()
        self._exhausted = False
        self._paid: set[int] = set()  # nodes whose bytes prefetch() already counted
        self._held: dict[tuple[int, int], bytes] = {}  # (layer, loc) -> prefetch_bytes()

    def _take(self, n: int) -> bool:
        if self.left is None:
            self.used += n
            return True
        if n > self.left:
            if not self._exhausted:
                self._exhausted = True
                self.notes.append("content read budget exhausted: some files were not read")
            return False
        self.left -= n
        self.used += n
        return True

    def read(self, node: int, limit: int) -> bytes | None:
        tree = self.img.tree
        want = min(limit, tree.size[node])
        if not self._take(want):
            return None
        held = self._held.get((tree.source_layer(node), tree.loc[node]))
        if held is not None:
            return held[:want]
        try:
            return self.img.read(node, want)
        except LayerscopeError as e:
            self.notes.append(f"{self.img.tree.path(node)}: not read: {e}")
            return None

    def prefetch(self, hash_nodes: Iterable[int], byte_nodes: Iterable[int] = ()) -> None:
        """Read ahead, in one pass per layer, what the analyses will ask for when the
        image's layers are streams (tar): the digests of `hash_nodes` (taken from the
        budget here, in the given order) and the whole contents of `byte_nodes` (small
        files the secret scan reads; at most HELD_BYTES are kept, read() serves them)."""
        reader = self.img.reader
        if not isinstance(reader, StreamedContents):
            return
        tree = self.img.tree
        size = tree.size
        taken = [
            n for n in dict.fromkeys(hash_nodes) if n not in self._paid and self._take(size[n])
        ]
        self._paid.update(taken)
        to_hash = self.hasher.missing(self.img, taken)
        to_keep: dict[int, dict[int, int]] = {}
        held = 0
        for node in dict.fromkeys(byte_nodes):
            loc, n = tree.loc[node], size[node]
            if loc >= 0 and held + n <= HELD_BYTES:
                held += n
                to_keep.setdefault(tree.source_layer(node), {})[loc] = n
        try:
            for layer in sorted(to_hash.keys() | to_keep.keys()):
                hashing, keeping = to_hash.get(layer, {}), to_keep.get(layer, {})
                wanted = sorted({**hashing, **keeping}.items())
                for loc, chunks in reader.read_contents(layer, wanted):
                    if self.cancel is not None and self.cancel.is_set():
                        raise Cancelled("cancelled")
                    if loc in keeping:
                        data = self._held[(layer, loc)] = b"".join(chunks)
                        chunks = iter((data,))
                    if loc in hashing:
                        h = xxhash.xxh3_128()
                        for chunk in chunks:
                            h.update(chunk)
                        self.hasher.remember(self.img, layer, loc, h.digest())
        except Cancelled:
            raise
        except LayerscopeError as e:
            self.notes.append(f"contents not read ahead: {e}")

    def pairs_to_compare(self, into: list[tuple[int, int]]) -> Callable[[int, int], None]:
        """A same() that reads nothing: it records the pairs same() would hash."""
        tree = self.img.tree

        def record(a: int, b: int) -> None:
            if content_key(tree, a) != content_key(tree, b):
                into.append((a, b))

        return record

    def digest(self, node: int) -> bytes | None:
        known = self.hasher.cached(self.img, node)
        if known is not None:
            return known
        if node not in self._paid and not self._take(self.img.tree.size[node]):
            return None
        try:
            return self.hasher.digest(self.img, node)
        except LayerscopeError as e:
            self.notes.append(f"{self.img.tree.path(node)}: not hashed: {e}")
            return None

    def same(self, a: int, b: int) -> bool | None:
        tree = self.img.tree
        if content_key(tree, a) == content_key(tree, b):
            return True
        da = self.digest(a)
        db = self.digest(b) if da is not None else None
        return None if da is None or db is None else da == db
