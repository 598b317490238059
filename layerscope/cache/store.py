"""Cache files on disk: atomic, versioned, checksummed, size-capped with LRU eviction.

One file per entry, `<root>/<kind>/<hh>/<sha256(key)[:40]>.lsc`:

    header  magic "LSCACHE\\0", store format, kind, codec, key length, payload length,
            xxh3_128 of key + stored payload
    key     the full key (so a name collision is a miss, not a misread)
    payload what the kind's codec wrote (zstd-compressed when codec = 1)

Writers stream into a uniquely named temporary file in the same directory and
`os.replace` it into place only when complete, so readers see a whole file or none; a file
is never modified after that. Readers check everything in the header and the checksum
before trusting a byte, and remove what fails. Reading touches the file's mtime, which is
the LRU clock eviction sorts by. Every operation tolerates files vanishing under it
(another process evicting or clearing) and never raises OSError: the cache is an
accelerator, so a full disk or a read-only home only makes it miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import xxhash

from layerscope.cache.store_read import (
    CODEC_RAW,
    CODEC_ZSTD,
    HEADER,
    KIND_IDS,
    MAGIC,
    STORE_VERSION,
    Reader,
)
from layerscope.errors import CacheCorruptError

__all__ = ["HEADER", "CacheCorruptError", "Reader", "Store", "StoreStats", "Writer"]

Buffer = bytes | bytearray | memoryview

SUFFIX = ".lsc"
TMP_SUFFIX = ".tmp"
STALE_TMP_SECONDS = 3600


@dataclass(slots=True)
class StoreStats:
    files: int
    bytes: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (files, bytes)


class Store:
    """The files of one cache root (`$XDG_CACHE_HOME/layerscope/index`)."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, kind: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return self.root / kind / digest[:2] / (digest + SUFFIX)

    # -- reading -----------------------------------------------------------------------------

    def open(self, kind: str, key: str, verify: bool = True) -> Reader | None:
        """A reader for the entry (its checksum verified unless `verify` is False: then
        the caller must use read_all), or None on a miss. Corrupt files are removed."""
        path = self.path(kind, key)
        try:
            f = open(path, "rb")  # noqa: SIM115 - the Reader owns it
        except OSError:
            return None
        ino = None
        try:
            reader = Reader(f, kind, key)
            ino = reader.ino
            if verify:
                reader.verify()
        except CacheCorruptError:
            f.close()
            self.discard(path, ino)
            return None
        except OSError:
            f.close()
            return None
        _touch(path)
        return reader

    def read(self, kind: str, key: str) -> bytes | None:
        """The whole verified payload (decompressed), or None."""
        reader = self.open(kind, key, verify=False)
        if reader is None:
            return None
        with reader:
            try:
                return reader.read_all()
            except (OSError, CacheCorruptError):
                self.discard(self.path(kind, key), reader.ino)
                return None

    def discard(self, path: Path, ino: int | None) -> None:
        """Remove a bad file, unless another process has already replaced it."""
        try:
            if ino is None or os.stat(path).st_ino == ino:
                os.unlink(path)
        except OSError:
            pass

    # -- writing -----------------------------------------------------------------------------

    def writer(
        self, kind: str, key: str, compress: bool = False, precompressed: bool = False
    ) -> Writer | None:
        """A writer for the entry (None if the cache takes no writes). `precompressed`:
        the caller writes zstd frames, stored as they come (codec zstd)."""
        if self.max_bytes <= 0:
            return None
        try:
            return Writer(self, kind, key, compress, precompressed)
        except OSError:
            return None

    def write(
        self,
        kind: str,
        key: str,
        parts: Iterable[Buffer],
        compress: bool = False,
        precompressed: bool = False,
    ) -> bool:
        w = self.writer(kind, key, compress, precompressed)
        if w is None:
            return False
        with w:
            for p in parts:
                w.write(p)
            return w.commit()

    # -- size cap ----------------------------------------------------------------------------

    def entries(self) -> Iterator[tuple[Path, os.stat_result]]:
        """Every cache file (temporary ones included) with its stat."""
        if not self.root.is_dir():
            return
        for kind in KIND_IDS:
            top = self.root / kind
            try:
                subdirs = list(os.scandir(top))
            except OSError:
                continue
            for sub in subdirs:
                try:
                    files = list(os.scandir(sub.path))
                except OSError:
                    continue
                for f in files:
                    try:
                        yield Path(f.path), f.stat(follow_symlinks=False)
                    except OSError:
                        continue

    def stats(self) -> StoreStats:
        by_kind: dict[str, tuple[int, int]] = {}
        files = total = 0
        for path, st in self.entries():
            kind = path.parent.parent.name
            n, b = by_kind.get(kind, (0, 0))
            by_kind[kind] = (n + 1, b + st.st_size)
            files += 1
            total += st.st_size
        return StoreStats(files, total, by_kind)

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used files until the total is under the cap; also stale
        temporary files of crashed writers. Returns the bytes freed."""
        now = time.time()
        live: list[tuple[float, int, Path]] = []
        total = freed = 0
        for path, st in self.entries():
            if path.name.endswith(TMP_SUFFIX):
                if now - st.st_mtime > STALE_TMP_SECONDS:
                    freed += _unlink(path, st.st_size)
                else:
                    total += st.st_size  # a writer in progress: counts, is not ours to remove
                continue
            live.append((st.st_mtime, st.st_size, path))
            total += st.st_size
        if total <= self.max_bytes:
            return freed
        live.sort(key=lambda item: item[0])  # oldest first
        for _, size, path in live:
            if total <= self.max_bytes:
                break
            if path == keep and size <= self.max_bytes:
                continue
            got = _unlink(path, size)
            freed += got
            total -= size  # gone, whoever removed it
        return freed

    def clear(self) -> tuple[int, int]:
        """Remove every cache file; (files, bytes) removed."""
        files = total = 0
        for path, st in list(self.entries()):
            if _unlink(path, st.st_size) or not path.exists():
                files += 1
                total += st.st_size
        for kind in KIND_IDS:
            top = self.root / kind
            try:
                for sub in os.scandir(top):
                    with contextlib.suppress(OSError):  # not empty: a writer is busy in it
                        os.rmdir(sub.path)
            except OSError:
                pass
        return files, total


def _touch(path: Path) -> None:
    """Stamp the LRU clock. An explicit time, because the kernel's own "now" for file
    times is coarse (a few ms): a read right after another file's write would tie."""
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(path, ns=(now, now))


def _unlink(path: Path, size: int) -> int:
    try:
        os.unlink(path)
    except OSError:
        return 0
    return size


class Writer:
    """Streams one entry into a temporary file; `commit()` publishes it atomically. Leaving
    the `with` block without a commit (an error, a cancelled load) leaves nothing behind."""

    def __init__(
        self, store: Store, kind: str, key: str, compress: bool, precompressed: bool = False
    ) -> None:
        self.store = store
        self.final = store.path(kind, key)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        # pid + random suffix: two processes (or threads) writing the same key never share
        # a temporary file; the last replace wins and both results are whole.
        stem = f".{self.final.name}.{os.getpid()}.{os.urandom(6).hex()}"
        self.tmp = self.final.with_name(stem + TMP_SUFFIX)
        self.f: BinaryIO | None = open(self.tmp, "xb")  # noqa: SIM115 - closed in commit/abort
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
        self.f.write(bytes(HEADER.size) + self.key)

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
            self.f.close()
            self.f = None
            _touch(self.tmp)
            os.replace(self.tmp, self.final)
        except OSError:
            self.abort()
            return False
        self.done = True
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
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
