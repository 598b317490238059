"""One read of every layer's contents for everything content-based in an analysis.

The analyses that look at bytes (digests for reclaimable bytes and duplicates, the secret
scan) say up front which files they need; this module reads each once: for layers that
are streams (tar), in one pass per layer in member order; for random-access formats,
file by file. A file both hashed and scanned is read once for both. Binary files (a NUL
in their first 8 KiB) are not scanned; a text file larger than the scan cap, or one that
cannot be read, is counted as not scanned, so the caller can say the scan is incomplete
instead of passing a gate on part of the image.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import xxhash

from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.readers.base import StreamedContents

SNIFF = 8192
Scan = Callable[[int, bytes], None]  # (node, whole text content) -> records its findings
Progress = Callable[[str, int, int], None]  # (what, bytes done, bytes in all)
PROGRESS_STEPS = 200  # progress is told at most this many times in a pass (and per layer)


@dataclass(slots=True)
class PassResult:
    bytes_read: int = 0
    not_scanned: list[tuple[int, str]] = field(default_factory=list)  # (node, why)
    notes: list[str] = field(default_factory=list)
    kept: dict[int, bytes] = field(default_factory=dict)  # keep_nodes' whole contents


@dataclass(slots=True)
class _Want:
    hash: bool
    scan: bool
    size: int
    keep: list[int] = field(default_factory=list)  # nodes whose whole bytes are kept


def content_pass(
    img: Image,
    hasher: ContentHasher,
    hash_nodes: Iterable[int],
    scan_nodes: Iterable[int],
    scan: Scan,
    scan_max: int,
    cancel: threading.Event | None = None,
    keep_nodes: Iterable[int] = (),
    progress: Progress | None = None,
) -> PassResult:
    """Hash `hash_nodes` into `hasher`, hand the text of `scan_nodes` (each at most
    `scan_max` bytes) to `scan`, and keep the whole bytes of `keep_nodes` (small files:
    package databases, files the scan needs whole) in the result, reading every file at
    most once."""
    tree = img.tree
    result = PassResult()
    hashing = hasher.missing(img, hash_nodes)  # {layer: {loc: size}}, cached ones left out
    wants: dict[int, dict[int, _Want]] = {}
    owners: dict[tuple[int, int], int] = {}  # (layer, loc) -> the node scan() is told of
    for layer, locs in hashing.items():
        for loc, size in locs.items():
            wants.setdefault(layer, {})[loc] = _Want(True, False, size)
    for node in scan_nodes:
        layer, loc, size = tree.source_layer(node), tree.loc[node], tree.size[node]
        if loc < 0 or size == 0 or (layer, loc) in owners:
            continue
        owners[(layer, loc)] = node
        got = wants.setdefault(layer, {}).get(loc)
        if got is None:
            wants[layer][loc] = _Want(False, True, size)
        else:
            got.scan = True
    for node in keep_nodes:
        layer, loc, size = tree.source_layer(node), tree.loc[node], tree.size[node]
        if size == 0 or loc < 0:
            result.kept[node] = b""
            continue
        wants.setdefault(layer, {}).setdefault(loc, _Want(False, False, size)).keep.append(node)
    streamed = isinstance(img.reader, StreamedContents)
    told = _Told(progress, sum(w.size for m in wants.values() for w in m.values()))
    for layer in sorted(wants):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        members = wants[layer]
        told.layer(layer)
        try:
            if streamed:
                _streamed(img, hasher, layer, members, owners, scan, scan_max, result, cancel, told)
            else:
                _one_by_one(
                    img, hasher, layer, members, owners, scan, scan_max, result, cancel, told
                )
        except LayerscopeError as e:
            result.notes.append(f"layer {layer}: contents not read: {e}")
            for loc, want in members.items():
                if want.scan and (layer, loc) in owners:
                    result.not_scanned.append((owners[(layer, loc)], f"unreadable: {e}"))
    told.end()
    return result


class _Told:
    """Progress of a pass in bytes of the files it wants (a file counts whole once it is
    done with), told a bounded number of times."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self.what = "reading contents"
        self._next = 0

    def layer(self, layer: int) -> None:
        self.what = f"reading contents: layer {layer}"
        self._next = 0

    def add(self, n: int) -> None:
        self.done += n
        if self.progress is not None and self.done >= self._next:
            self._next = self.done + max(self.total // PROGRESS_STEPS, 1)
            self.progress(self.what, self.done, self.total)

    def end(self) -> None:
        if self.progress is not None:
            self.progress("contents read", self.total, self.total)


def _streamed(
    img: Image,
    hasher: ContentHasher,
    layer: int,
    members: dict[int, _Want],
    owners: dict[tuple[int, int], int],
    scan: Scan,
    scan_max: int,
    result: PassResult,
    cancel: threading.Event | None,
    told: _Told,
) -> None:
    reader = img.reader
    assert isinstance(reader, StreamedContents)
    wanted = sorted((loc, w.size) for loc, w in members.items())
    for loc, chunks in reader.read_contents(layer, wanted):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        _member(img, hasher, layer, loc, members[loc], chunks, owners, scan, scan_max, result)
        told.add(members[loc].size)


def _one_by_one(
    img: Image,
    hasher: ContentHasher,
    layer: int,
    members: dict[int, _Want],
    owners: dict[tuple[int, int], int],
    scan: Scan,
    scan_max: int,
    result: PassResult,
    cancel: threading.Event | None,
    told: _Told,
) -> None:
    reader = img.reader
    for loc in sorted(members):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        want = members[loc]
        try:
            chunks = reader.read_content(layer, loc, want.size)
            _member(img, hasher, layer, loc, want, chunks, owners, scan, scan_max, result)
        except LayerscopeError as e:
            node = owners.get((layer, loc))
            result.notes.append(f"{img.tree.path(node) if node else f'layer {layer}'}: {e}")
            if want.scan and node is not None:
                result.not_scanned.append((node, f"unreadable: {e}"))
        told.add(want.size)


def _member(
    img: Image,
    hasher: ContentHasher,
    layer: int,
    loc: int,
    want: _Want,
    chunks: Iterator[bytes],
    owners: dict[tuple[int, int], int],
    scan: Scan,
    scan_max: int,
    result: PassResult,
) -> None:
    """One file's bytes: hashed and/or kept for the scan; a binary file's or an
    oversized one's scan given up as soon as its head is seen."""
    h = xxhash.xxh3_128() if want.hash else None
    keep: list[bytes] | None = [] if want.scan else None
    whole: list[bytes] | None = [] if want.keep else None
    seen = 0
    for chunk in chunks:
        if not chunk:
            continue
        if keep is not None and seen < SNIFF and (layer, loc) in owners:
            # the bytes kept so far (all `seen` of them) held no NUL: look at the rest of
            # the head in place, without copying it
            if chunk.find(b"\0", 0, SNIFF - seen) >= 0:
                keep = None  # binary: patterns over it are noise
            elif want.size > scan_max:
                node = owners[(layer, loc)]
                result.not_scanned.append((node, f"text larger than {scan_max} bytes"))
                keep = None
        seen += len(chunk)
        result.bytes_read += len(chunk)
        if h is not None:
            h.update(chunk)
        if keep is not None:
            keep.append(chunk)
        if whole is not None:
            whole.append(chunk)
        elif keep is None and h is None:
            break  # nothing more wanted from this member
    if h is not None:
        hasher.remember(img, layer, loc, h.digest())
    if whole is not None:
        data = b"".join(whole)
        for node in want.keep:
            result.kept[node] = data
    if keep is not None:
        scan(owners[(layer, loc)], b"".join(keep))
