"""A decoded stream inflated on a thread, a few blocks ahead of its reader.

The codecs (isal, zlib-ng, zstandard) release the GIL, so a layer's tar headers are
parsed (and its entries applied to the tree, indexed, ...) while the next blocks are
being inflated on the other core. The listing of a 1.5 GB 5-layer OCI image spends a
third of its time inflating on the caller's thread otherwise. The thread's errors are
raised in the reader when it reaches them, after the bytes that came before.
"""

from __future__ import annotations

import contextlib
import queue
import threading

from layerscope.readers.tar.inflate import DecodedStream

BLOCK = 1 << 20  # bytes the thread asks the codec for at a time (the tar window's size)
AHEAD = 4  # blocks decoded ahead of the one being read


class PrefetchedStream:
    """`DecodedStream` over another one, whose `readinto` runs on a thread."""

    def __init__(self, inner: DecodedStream) -> None:
        self.compression = inner.compression
        self._inner = inner
        self._queue: queue.Queue[bytearray | BaseException | None] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._block = memoryview(b"")
        self._off = 0  # how much of _block was read
        self._pos = 0
        self._ended = False
        self._thread = threading.Thread(target=self._decode, name="tar-inflate", daemon=True)
        self._thread.start()

    def _decode(self) -> None:
        try:
            while not self._stop.is_set():
                buf = bytearray(BLOCK)
                n = self._inner.readinto(memoryview(buf))
                if n < BLOCK:
                    del buf[n:]
                if n and not self._put(buf):
                    return
                if n < BLOCK:
                    self._put(None)
                    return
        except BaseException as e:  # handed to the reader, which raises it
            self._put(e)

    def _put(self, item: bytearray | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _next(self) -> bool:
        """The next block; False at the end of the stream."""
        if self._ended:
            return False
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if item is None:
            self._ended = True
            return False
        self._block = memoryview(item)
        self._off = 0
        return True

    def tell(self) -> int:
        return self._pos

    def readinto(self, buf: memoryview) -> int:
        want = len(buf)
        got = 0
        while got < want:
            avail = len(self._block) - self._off
            if avail <= 0:
                if not self._next():
                    break
                continue
            n = min(avail, want - got)
            buf[got : got + n] = self._block[self._off : self._off + n]
            self._off += n
            got += n
        self._pos += got
        return got

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            avail = len(self._block) - self._off
            if avail <= 0:
                if not self._next():
                    break
                continue
            step = min(avail, n - done)
            self._off += step
            done += step
        self._pos += done
        return done

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()
        self._inner.close()
