"""Writing one cache file: streamed into a private temporary file beside its final name,
published by an atomic rename through the directory's descriptor (see safefs.py).

Split from store.py (which reads, evicts and administers) so each stays small.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, BinaryIO

import xxhash

from layerscope.cache import safefs
from layerscope.cache.store_read import (
    CODEC_RAW,
    CODEC_ZSTD,
    HEADER,
    KIND_IDS,
    MAGIC,
    STORE_VERSION,
)

if TYPE_CHECKING:
    from layerscope.cache.store import Buffer, Store

TMP_SUFFIX = ".tmp"


def touch(fd: int) -> None:
    """Stamp the LRU clock. An explicit time, because the kernel's own "now" for file
    times is coarse (a few ms): a read right after another file's write would tie."""
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(fd, ns=(now, now))


class Writer:
    """Streams one entry into a temporary file; `commit()` publishes it atomically. Leaving
    the `with` block without a commit (an error, a cancelled load) leaves nothing behind."""

    def __init__(
        self, store: Store, kind: str, key: str, compress: bool, precompressed: bool = False
    ) -> None:
        self.store = store
        parts, self.name = store.locate(kind, key)
        self.final = store.path(kind, key)
        # pid + random suffix: two processes (or threads) writing the same key never share
        # a temporary file; the last replace wins and both results are whole.
        self.tmp_name = f".{self.name}.{os.getpid()}.{os.urandom(6).hex()}{TMP_SUFFIX}"
        self.f: BinaryIO | None = None
        dir_fd = safefs.open_dir(store.base, parts, create=True)
        assert dir_fd is not None  # created
        self.dir_fd: int | None = dir_fd
        self.key = key.encode("utf-8", "surrogateescape")
        self.kind = KIND_IDS[kind]
        self.codec = CODEC_ZSTD if compress or precompressed else CODEC_RAW
        self.hash = xxhash.xxh3_128()
        self.hash.update(self.key)
        self.length = 0
        self.failed = False
        self.done = False
        self._z = None
        if compress and not precompressed:
            import zstandard

            self._z = zstandard.ZstdCompressor(level=1).compressobj()
        try:
            self.f = os.fdopen(safefs.create_file(dir_fd, self.tmp_name), "wb")
            self.f.write(bytes(HEADER.size) + self.key)
        except BaseException:
            self.abort()
            raise

    def write(self, data: Buffer) -> None:
        if self.failed or self.f is None:
            return
        data_mv = data if isinstance(data, memoryview) else memoryview(data)
        try:
            out: Buffer = self._z.compress(data_mv) if self._z is not None else data_mv
            self._raw_write(out)
        except OSError:
            self.failed = True
        finally:
            if isinstance(data, memoryview):
                data.release()  # lets the tree's arrays grow again

    def _raw_write(self, out: Buffer) -> None:
        assert self.f is not None
        if len(out):
            self.f.write(out)
            self.hash.update(out)
            self.length += len(out)

    def commit(self) -> bool:
        """Publish the file; False if anything failed (then nothing is published)."""
        if self.f is None or self.done:
            return False
        try:
            if self._z is not None and not self.failed:
                self._raw_write(self._z.flush())
            if self.failed:
                raise OSError("write failed")
            head = HEADER.pack(
                MAGIC,
                STORE_VERSION,
                self.kind,
                self.codec,
                len(self.key),
                self.length,
                self.hash.digest(),
            )
            self.f.seek(0)
            self.f.write(head)
            self.f.flush()
            touch(self.f.fileno())
            self.f.close()
            self.f = None
            d = self.dir_fd
            os.replace(self.tmp_name, self.name, src_dir_fd=d, dst_dir_fd=d)
        except OSError:
            self.abort()
            return False
        self.done = True
        self._close_dir()
        self.store.evict(keep=self.final)
        return True

    def abort(self) -> None:
        """Drop the temporary file (a no-op once committed)."""
        if self.done:
            return
        self.done = True
        if self.f is not None:
            with contextlib.suppress(OSError):
                self.f.close()
            self.f = None
        if self.dir_fd is not None:
            safefs.unlink_at(self.dir_fd, self.tmp_name)
        self._close_dir()

    def _close_dir(self) -> None:
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
