"""Content-addressed blob cache: `$XDG_CACHE_HOME/layerscope/blobs/sha256/<hex>`.

A blob enters the cache only whole and verified: it is streamed into a temporary file in
the same directory while its sha256 is computed, and renamed onto its digest name only if
the digest (and the size the descriptor promised) match. It is checked again whenever its
bytes are read (verified.py: the hash streams alongside the reader), because the file may
have changed since; a changed file is removed and the read fails, so the next pull fetches
it anew. A file whose size disagrees with its descriptor is treated as absent.

Pulled images must not fill a home directory with a quota: after each download the blobs
used longest ago are removed until the total is under LAYERSCOPE_BLOB_CACHE_MAX (default
10 GB; a size as limits.parse_bytes reads it), never those of the image being read.
Opening a blob stamps it (once per process).

Files are reached as safefs.py explains: no symlink under the root is followed (a
symlinked `blobs/sha256` is not the cache), only names this module writes (64 hex digits,
and `.<12 hex>-<pid>-<12 hex>.part` for downloads in progress) are ever removed, the
directories are 0700 and the files 0600.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from layerscope.cache import safefs
from layerscope.cache.safefs import cache_root
from layerscope.cache.verified import VerifiedBlob, known_good
from layerscope.errors import RegistryError
from layerscope.limits import parse_size

__all__ = ["BLOB_CACHE_ENV", "BlobCache", "blob_cache_max", "cache_root", "hex_of"]

_SHA256 = re.compile(r"sha256:([0-9a-f]{64})")
_BLOB = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"\.[0-9a-f]{12}-[0-9]+-[0-9a-f]{12}\.part")
_PARTS = ("blobs", "sha256")

Producer = Callable[[Callable[[bytes], None]], None]

BLOB_CACHE_ENV = "LAYERSCOPE_BLOB_CACHE_MAX"
DEFAULT_BLOB_CACHE = 10 * 1000**3  # 10 GB
STALE_PART_SECONDS = 24 * 3600  # a partial download this old belongs to no live process


def blob_cache_max() -> int:
    text = os.environ.get(BLOB_CACHE_ENV, "")
    return parse_size(BLOB_CACHE_ENV, text) if text.strip() else DEFAULT_BLOB_CACHE


def hex_of(digest: str) -> str:
    """The hex part of a sha256 digest; anything else is refused before it names a path."""
    m = _SHA256.fullmatch(digest)
    if m is None:
        raise RegistryError(f"unsupported or malformed digest {digest[:80]!r}")
    return m.group(1)


class BlobCache:
    """Verified blobs by digest under `root/blobs/sha256/`. `make_root`: create the root
    when missing (the persistent cache); a scratch root must exist already, so that a
    download finishing after the scratch directory was removed cannot bring it back."""

    def __init__(self, root: Path, make_root: bool = True) -> None:
        self.root = root
        self.dir = root / "blobs" / "sha256"
        self.make_root = make_root
        self._stamped: set[str] = set()

    def _opened(self) -> contextlib.AbstractContextManager[int | None]:
        return safefs.opened_dir(self.root, _PARTS, create=False)

    def path(self, digest: str) -> Path:
        return self.dir / hex_of(digest)

    def has(self, digest: str, size: int | None = None) -> bool:
        name = hex_of(digest)
        try:
            with self._opened() as d:
                st = safefs.lstat_at(d, name) if d is not None else None
        except OSError:
            return False
        if st is None or not stat.S_ISREG(st.st_mode):
            return False
        return size is None or st.st_size == size

    def open(self, digest: str) -> BinaryIO:
        """The blob's bytes, checked against its digest as they are read (OSError if it
        is not there; RegistryError from a read that finds it changed)."""
        name = hex_of(digest)
        with self._opened() as d:
            if d is None:
                raise FileNotFoundError(str(self.dir / name))
            fd = safefs.open_file(d, name)
        if digest not in self._stamped:  # the LRU clock; a read-only cache still works
            self._stamped.add(digest)
            with contextlib.suppress(OSError):
                os.utime(fd)
        if known_good(os.fstat(fd)):
            return os.fdopen(fd, "rb")
        return cast(BinaryIO, VerifiedBlob(fd, name, lambda got: self._changed(digest, fd, got)))

    def _changed(self, digest: str, fd: int, got: str) -> RegistryError:
        """Remove a cached blob that no longer matches its digest; the error to raise."""
        with contextlib.suppress(OSError), self._opened() as d:
            if d is not None:
                safefs.unlink_at(d, hex_of(digest), os.fstat(fd).st_ino)
        return RegistryError(
            f"cache {self.dir}: blob {digest} changed on disk (now sha256:{got}); removed "
            "it, the next pull downloads it again"
        )

    def files(self) -> Iterator[tuple[str, os.stat_result]]:
        """(name, lstat) of every blob and partial download the cache wrote."""
        try:
            with self._opened() as d:
                if d is None:
                    return
                for name, st in list(safefs.regular_files(d)):
                    if _BLOB.fullmatch(name) or _PART.fullmatch(name):
                        yield name, st
        except OSError:
            return

    def remove(self, name: str, ino: int) -> bool:
        try:
            with self._opened() as d:
                return d is not None and safefs.unlink_at(d, name, ino)
        except OSError:
            return False

    def evict(self, max_bytes: int, keep: Collection[str]) -> int:
        """Remove the blobs used longest ago until the total is at most `max_bytes`, never
        one whose digest is in `keep` (the image being read), and partial downloads left
        by crashed processes. Returns the bytes freed."""
        keep_names = {m.group(1) for d in keep if (m := _SHA256.fullmatch(d))}
        now = time.time()
        total = freed = 0
        blobs: list[tuple[float, str, os.stat_result]] = []
        for name, st in self.files():
            if name.startswith("."):  # a partial download
                if now - st.st_mtime > STALE_PART_SECONDS:
                    freed += st.st_size if self.remove(name, st.st_ino) else 0
                else:
                    total += st.st_size
                continue
            total += st.st_size
            blobs.append((st.st_mtime, name, st))
        for _, name, st in sorted(blobs, key=lambda b: b[0]):  # oldest use first
            if total <= max_bytes:
                break
            if name not in keep_names:
                freed += st.st_size if self.remove(name, st.st_ino) else 0
                total -= st.st_size
        return freed

    def clear(self) -> tuple[int, int]:
        """Remove every blob and partial download; (files, bytes) removed."""
        files = total = 0
        for name, st in list(self.files()):
            if self.remove(name, st.st_ino):
                files += 1
                total += st.st_size
        return files, total

    def read(self, digest: str, limit: int) -> bytes | None:
        """A small cached blob's bytes (a manifest), or None when absent, too large or no
        longer matching its digest (then it is removed)."""
        try:
            with self.open(digest) as f:
                data = f.read(limit + 1)
                if len(data) > limit:
                    return None
        except (OSError, RegistryError):
            return None
        return data

    def put_bytes(self, digest: str, data: bytes, where: str = "") -> None:
        """Cache bytes already in memory (a manifest) after checking their digest."""
        self.put(digest, len(data), lambda sink: sink(data), where)

    def put(self, digest: str, size: int | None, produce: Producer, where: str = "") -> Path:
        """Run produce(sink) to stream the blob in; keep it only if it is the blob asked for.

        `size` (from the descriptor) also caps what is accepted, so a server cannot fill
        the disk by streaming more than it promised. `where` prefixes error messages."""
        want = hex_of(digest)
        tmp = f".{want[:12]}-{os.getpid()}-{os.urandom(6).hex()}.part"
        try:
            d = safefs.open_dir(self.root, _PARTS, create=True, create_root=self.make_root)
            if d is None:
                raise FileNotFoundError(errno.ENOENT, "no such directory", str(self.root))
            try:
                out = os.fdopen(safefs.create_file(d, tmp), "wb")
            except BaseException:
                os.close(d)
                raise
        except OSError as e:
            raise RegistryError(f"cache {self.dir}: cannot write: {e.strerror or e}") from e
        try:
            with out:
                _receive(out, produce, digest, want, size, where)
            os.replace(tmp, want, src_dir_fd=d, dst_dir_fd=d)
        except OSError as e:
            raise RegistryError(f"cache {self.dir}: cannot write: {e.strerror or e}") from e
        finally:
            safefs.unlink_at(d, tmp)
            os.close(d)
        return self.dir / want

    def put_stream(self, produce: Producer, where: str = "") -> tuple[str, int]:
        """Stream a blob whose digest nobody declared (a member of a daemon's `docker save`
        stream) into the cache, named by the digest computed on the way: (digest, size)."""
        tmp = f".{os.urandom(6).hex()}-{os.getpid()}-{os.urandom(6).hex()}.part"
        try:
            d = safefs.open_dir(self.root, _PARTS, create=True, create_root=self.make_root)
            if d is None:
                raise FileNotFoundError(errno.ENOENT, "no such directory", str(self.root))
            try:
                out = os.fdopen(safefs.create_file(d, tmp), "wb")
            except BaseException:
                os.close(d)
                raise
        except OSError as e:
            raise RegistryError(f"{where}cache {self.dir}: cannot write: {e.strerror or e}") from e
        h = hashlib.sha256()
        size = 0
        try:
            with out:

                def sink(chunk: bytes) -> None:
                    nonlocal size
                    size += len(chunk)
                    h.update(chunk)
                    out.write(chunk)

                produce(sink)
            os.replace(tmp, h.hexdigest(), src_dir_fd=d, dst_dir_fd=d)
        except OSError as e:
            raise RegistryError(f"{where}cache {self.dir}: cannot write: {e.strerror or e}") from e
        finally:
            safefs.unlink_at(d, tmp)
            os.close(d)
        return "sha256:" + h.hexdigest(), size


def _receive(
    out: BinaryIO, produce: Producer, digest: str, want: str, size: int | None, where: str
) -> None:
    """Stream produce()'s bytes into `out` while hashing; raise unless they are the blob."""
    h = hashlib.sha256()
    written = 0

    def sink(chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)
        if size is not None and written > size:
            raise RegistryError(
                f"{where}blob {digest}: server sent more than the {size} bytes "
                "its descriptor declares"
            )
        h.update(chunk)
        out.write(chunk)

    produce(sink)
    got = h.hexdigest()
    if got != want:
        raise RegistryError(f"{where}blob {digest}: digest mismatch (received sha256:{got})")
    if size is not None and written != size:
        raise RegistryError(
            f"{where}blob {digest}: received {written} bytes, descriptor declares {size}"
        )
