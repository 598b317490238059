"""Index the upper layers of an image in worker threads while the lower ones are applied.

gzip/zstd inflation releases the GIL, so on two cores two layers can be inflated while
the main thread applies a third. Workers turn a layer into the compact columnar index of
entries.py, zstd-compressed (~10 bytes an entry, never Entry objects), at most
workers + 1 layers ahead of the one being applied, which bounds the memory this costs.
The main thread then applies each layer in order from its index and persists the index
in the cache.

Off by default; LAYERSCOPE_INDEX_THREADS=2 turns it on. Measured on a 5-layer, 1.5 GB
(uncompressed), 290,000-entry OCI layout on 2 cores:
- with the second core idle: 5.1 s sequential, 3.9-4.2 s with two workers (0.77-0.82x);
  one worker did not pay (1.02x): a single reader's GIL-bound tar parsing stays the
  critical path;
- with the second core busy (other processes): 0.95-1.25x, no gain;
- peak RSS +29 MB (+100 bytes an entry), mostly glibc's per-thread malloc arenas (Python
  objects: +6 MB), which alone breaks the 250 bytes/entry budget.
A gain only on an idle machine, paid for in memory everywhere: not the default.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

from layerscope.cache.entries import CHUNK, ROW, Unencodable, decode_chunk, encode_chunk
from layerscope.model.entry import Entry

# A shorter GIL switch interval while workers run: a worker coming back from inflating
# 1 MiB waits for the GIL up to one interval; at the default 5 ms that wait ate most of
# the gain (0.85-1.0x instead of 0.77-0.82x).
SWITCH_INTERVAL = 0.0005


class Stopped(Exception):
    """The build ended (error, cancel) before this worker finished."""


def index_layer(entries: Iterator[Entry], stop: threading.Event) -> list[bytes] | None:
    """A whole layer as zstd-compressed chunks (None if a field cannot be encoded).
    Compressed here, off the main thread (zstd releases the GIL): a buffered 60,000-entry
    layer takes ~1 MB instead of ~10 MB, and is stored in the cache as it is."""
    import zstandard

    z = zstandard.ZstdCompressor(level=1)
    out: list[bytes] = []
    it = iter(entries)
    while True:
        if stop.is_set():
            raise Stopped
        rows = list(map(ROW, islice(it, CHUNK)))
        if not rows:
            return out
        try:
            out.append(z.compress(b"".join(encode_chunk(rows))))
        except Unencodable:
            return None
        if len(rows) < CHUNK:
            return out


def iter_index(chunks: list[bytes]) -> Iterator[Entry]:
    """The entries of index_layer's chunks (each, inflated, starts with its length)."""
    import zstandard

    z = zstandard.ZstdDecompressor()
    for chunk in chunks:
        yield from decode_chunk(memoryview(z.decompress(chunk))[8:])


class Prefetcher:
    """Index layers `todo` (in order) ahead of the caller, `workers` at a time."""

    def __init__(
        self, read: Callable[[int], Iterator[Entry]], todo: list[int], workers: int = 2
    ) -> None:
        self._workers = workers
        self._read = read
        self._todo = list(todo)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="layerscope-index")
        self._futures: dict[int, Future[list[bytes] | None]] = {}
        self._old_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._old_interval, SWITCH_INTERVAL))
        self._fill()

    def _fill(self) -> None:
        while self._todo and len(self._futures) < self._workers + 1:
            layer = self._todo.pop(0)
            self._futures[layer] = self._pool.submit(self._job, layer)

    def _job(self, layer: int) -> list[bytes] | None:
        return index_layer(self._read(layer), self._stop)

    def __contains__(self, layer: int) -> bool:
        return layer in self._futures or layer in self._todo

    def take(self, layer: int) -> list[bytes] | None:
        """Wait for `layer`'s index (None: read it directly). Re-raises a worker's error."""
        fut = self._futures.pop(layer)
        try:
            return fut.result()
        finally:
            self._fill()

    def close(self) -> None:
        """Stop and join the workers (the reader may be closed only after this)."""
        self._stop.set()
        self._todo.clear()
        for fut in self._futures.values():
            fut.cancel()
        self._pool.shutdown(wait=True)
        self._futures.clear()
        if sys.getswitchinterval() == min(self._old_interval, SWITCH_INTERVAL):
            sys.setswitchinterval(self._old_interval)
