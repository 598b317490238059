"""Reading the files the portability report looks at, once, and remembering what was found.

A file is read at most once per image, in one pass per layer when layers are streams
(tar); its first chunk says whether it is ELF at all (scripts stop there). While it
streams, its content digest (xxh3-128) and the digest its package database recorded (md5
for dpkg) are computed, and at most `elf_window_bytes` of it are held (model.portability
.window). The facts are remembered per layer in the index cache (a layer shared by two
images is read for one of them only) and by content digest within the process (the same
library in two stages is parsed once).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import msgspec
import xxhash

from layerscope import limits
from layerscope.engine.image import Image
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.model.portability.elf import ELF_MAGIC, read_elf
from layerscope.model.portability.facts import LAYER_DECODER, ElfFacts, FileFacts
from layerscope.model.portability.window import Window, collect
from layerscope.readers.base import StreamedContents

__all__ = ["FactsReader", "Want", "read_small"]

Progress = Callable[[str, int, int], None]
MEMO_ENTRIES = 50_000  # facts kept by content digest in this process
_memo: OrderedDict[bytes, FileFacts] = OrderedDict()
_memo_lock = threading.Lock()
_ENCODER = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class Want:
    """One file to know: `scans` to run on it, the digest (algo, bytes) its package
    recorded if any, and whether its instructions may be decoded (not a glibc-hwcaps
    variant; a distribution file still as shipped is never decoded)."""

    node: int
    path: str
    scans: tuple[str, ...] = ()
    record: tuple[str, bytes] | None = None
    decodable: bool = True

    def unchanged(self, ff: FileFacts) -> bool:
        if self.record is None:
            return False
        algo, digest = self.record
        return ff.digests.get(algo) == digest

    def satisfied_by(self, ff: FileFacts) -> bool:
        """Whether facts computed before answer everything asked now."""
        if ff.elf is None:
            return True
        if not set(self.scans) <= set(ff.scanned):
            return False
        if self.record is not None and self.record[0] not in ff.digests:
            return False
        return not (self._wants_decode(ff.elf) and not self.unchanged(ff))

    def _wants_decode(self, elf: ElfFacts) -> bool:
        return (
            self.decodable
            and elf.decoded is None
            and elf.machine == "EM_X86_64"
            and elf.bits == 64
            and not elf.isa_needed & ~1
        )


class _Sink:
    """Consumes one file's chunks: stops at the first if it is not ELF, else hashes all
    and keeps a window."""

    def __init__(self, want: Want, size: int, bound: int) -> None:
        self.want = want
        self.size = size
        self.bound = bound

    def take(self, chunks: Iterator[bytes]) -> FileFacts:
        first = next(chunks, b"")
        if not first.startswith(ELF_MAGIC):
            return FileFacts(b"", self.size)
        xxh = xxhash.xxh3_128()
        algo = self.want.record[0] if self.want.record else None
        other = hashlib.new(algo) if algo else None

        def hashed() -> Iterator[bytes]:
            for chunk in _chain(first, chunks):
                xxh.update(chunk)
                if other is not None:
                    other.update(chunk)
                yield chunk

        window = collect(hashed(), self.size, self.bound)
        digest = xxh.digest()
        digests = {algo: other.digest()} if algo and other else {}
        return _facts(self.want, digest, self.size, digests, window)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _facts(
    want: Want, digest: bytes, size: int, digests: dict[str, bytes], window: Window
) -> FileFacts:
    """The facts of a file just read: from the process's memo when the same content was
    parsed before (for as much as is asked now), else parsed."""
    probe = FileFacts(digest, size, None, digests, want.scans)
    with _memo_lock:
        known = _memo.get(digest)
        if known is not None:
            _memo.move_to_end(digest)
    if known is not None and known.elf is not None:
        merged = FileFacts(digest, size, known.elf, {**known.digests, **digests}, known.scanned)
        if want.satisfied_by(merged):
            return merged
    decode = want.decodable and not want.unchanged(probe)
    elf = read_elf(window, decode, want.scans)
    got = FileFacts(digest, size, elf, digests, want.scans)
    with _memo_lock:
        _memo[digest] = got
        while len(_memo) > MEMO_ENTRIES:
            _memo.popitem(last=False)
    return got


class FactsReader:
    """Facts of many files of one image, read in as few passes as the format allows."""

    def __init__(
        self,
        img: Image,
        notes: list[str],
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.img = img
        self.notes = notes
        self.progress = progress
        self.cancel = cancel
        self.bound = limits.get("elf_window_bytes")
        self._layers: dict[int, dict[int, FileFacts]] = {}
        self._new: dict[int, dict[int, FileFacts]] = {}
        self.read_files = 0
        self.read_bytes = 0

    def facts(self, wants: list[Want]) -> dict[int, FileFacts]:
        tree = self.img.tree
        out: dict[int, FileFacts] = {}
        missing: list[Want] = []
        for w in wants:
            got = self._cached(w)
            if got is not None and w.satisfied_by(got):
                out[w.node] = got
            else:
                missing.append(w)
        by_layer: dict[int, list[Want]] = {}
        for w in missing:
            if tree.loc[w.node] >= 0:
                by_layer.setdefault(tree.source_layer(w.node), []).append(w)
        done = len(out)
        for layer in sorted(by_layer):
            for w, ff in self._read_layer(layer, by_layer[layer]):
                out[w.node] = ff
                self._remember(w, ff)
                done += 1
                if self.progress is not None and done % 64 == 0:
                    self.progress("portability: reading files", done, len(wants))
        self._save()
        return out

    def _check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    def _read_layer(self, layer: int, wants: list[Want]) -> Iterator[tuple[Want, FileFacts]]:
        tree, reader = self.img.tree, self.img.reader
        by_loc: dict[int, list[Want]] = {}  # hard links share their content
        for w in wants:
            by_loc.setdefault(tree.loc[w.node], []).append(w)
        if isinstance(reader, StreamedContents):
            wanted = sorted((loc, tree.size[ws[0].node]) for loc, ws in by_loc.items())
            try:
                for loc, chunks in reader.read_contents(layer, wanted):
                    self._check()
                    first = by_loc[loc][0]
                    ff = self._take(first, chunks)
                    for w in by_loc[loc]:
                        yield w, ff
            except Cancelled:
                raise
            except LayerscopeError as e:
                self.notes.append(f"layer {layer}: files not read: {e}")
            return
        for same in by_loc.values():
            self._check()
            try:
                ff = self._take(same[0], self.img.iter_content(same[0].node))
            except Cancelled:
                raise
            except LayerscopeError as e:
                self.notes.append(f"{same[0].path}: not read: {e}")
                continue
            for w in same:
                yield w, ff

    def _take(self, w: Want, chunks: Iterable[bytes]) -> FileFacts:
        size = self.img.tree.size[w.node]
        self.read_files += 1
        ff = _Sink(w, size, self.bound).take(iter(chunks))
        self.read_bytes += size if ff.elf is not None else min(size, 1 << 16)
        return ff

    # -- the per-layer cache ---------------------------------------------------------------

    def _layer_facts(self, layer: int) -> dict[int, FileFacts]:
        got = self._layers.get(layer)
        if got is None:
            got = {}
            key = self._key(layer)
            if key is not None and self.img.cache is not None:
                payload = self.img.cache.load_facts(key)
                if payload is not None:
                    try:
                        got = LAYER_DECODER.decode(payload)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        got = {}
            self._layers[layer] = got
        return got

    def _key(self, layer: int) -> str | None:
        keys = self.img.layer_keys
        return keys[layer] if 0 <= layer < len(keys) else None

    def _cached(self, w: Want) -> FileFacts | None:
        tree = self.img.tree
        loc = tree.loc[w.node]
        if loc < 0:
            return None
        return self._layer_facts(tree.source_layer(w.node)).get(loc)

    def _remember(self, w: Want, ff: FileFacts) -> None:
        tree = self.img.tree
        layer, loc = tree.source_layer(w.node), tree.loc[w.node]
        self._layer_facts(layer)[loc] = ff
        self._new.setdefault(layer, {})[loc] = ff

    def _save(self) -> None:
        cache = self.img.cache
        for layer, new in self._new.items():
            key = self._key(layer)
            if cache is None or key is None or not new:
                continue
            cache.save_facts(key, _ENCODER.encode(self._layer_facts(layer)))
        self._new.clear()


def read_small(img: Image, nodes: list[int], limit: int) -> dict[int, bytes]:
    """Whole contents of small regular files (at most `limit` bytes each), in one pass per
    layer when layers are streams. Files that cannot be read are left out."""
    tree = img.tree
    nodes = [n for n in nodes if tree.size[n] <= limit and tree.loc[n] >= 0]
    out: dict[int, bytes] = {}
    reader = img.reader
    if isinstance(reader, StreamedContents):
        by_layer: dict[int, dict[int, list[int]]] = {}
        for n in nodes:
            by_layer.setdefault(tree.source_layer(n), {}).setdefault(tree.loc[n], []).append(n)
        for layer, locs in sorted(by_layer.items()):
            wanted = sorted((loc, tree.size[ns[0]]) for loc, ns in locs.items())
            try:
                for loc, chunks in reader.read_contents(layer, wanted):
                    data = b"".join(chunks)
                    for n in locs[loc]:
                        out[n] = data
            except LayerscopeError:
                continue
        return out
    for n in nodes:
        try:
            out[n] = img.read(n)
        except LayerscopeError:
            continue
    return out
