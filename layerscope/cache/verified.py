"""A cached blob read through its digest: hashed as its bytes are read, checked at the end.

A blob was verified when it entered the cache, but the file can change afterwards (another
process of the same user, a disk, a person): the same size with other bytes would be
served as the image. So every read of a cached blob streams its bytes through sha256
alongside the reader (an inflate costs more than the hash), and the digest is compared
when the reader reaches the end, or at close() after hashing whatever the reader skipped
or did not read: a mismatch raises there. A reader that seeks forward gets the skipped
bytes hashed first (a seek becomes a read: the bytes must be checked all the same).

Once a file has been verified whole, the same file (device, inode, size, mtime, ctime:
the kernel sets ctime on any change, and nobody can set it back) is not hashed again in
this process, so a TUI reading many files of one layer hashes the layer once.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable

_CHUNK = 1 << 20
_verified: set[tuple[int, ...]] = set()


def identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def known_good(st: os.stat_result) -> bool:
    """Whether this very file was verified whole earlier in this process."""
    return identity(st) in _verified


class VerifiedBlob(io.RawIOBase):
    """A read-only, seekable view of file descriptor `fd` (owned: closed by close()) that
    checks its sha256 against `want_hex`; `mismatch(got_hex)` makes the error to raise."""

    def __init__(self, fd: int, want_hex: str, mismatch: Callable[[str], Exception]) -> None:
        super().__init__()
        self._f = io.FileIO(fd, "rb", closefd=True)
        st = os.fstat(fd)
        self._id = identity(st)
        self._size = st.st_size
        self._want = want_hex
        self._mismatch = mismatch
        self._h = hashlib.sha256()
        self._pos = 0
        self._hashed = 0
        self._checked = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._f.seek(pos, whence)
        return self._pos

    def fileno(self) -> int:
        return self._f.fileno()

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._pos > self._hashed:
            self._catch_up(self._pos)
        n = self._f.readinto(buffer) or 0
        end = self._pos + n
        if end > self._hashed:
            with memoryview(buffer) as view:
                self._h.update(view[self._hashed - self._pos : n])
            self._hashed = end
        self._pos = end
        if n == 0 or self._hashed >= self._size:
            self._finish()
        return n

    def _catch_up(self, upto: int | None) -> None:
        """Hash the bytes from where hashing stopped to `upto` (None: the end of file)."""
        fd = self._f.fileno()
        while upto is None or self._hashed < upto:
            want = _CHUNK if upto is None else min(_CHUNK, upto - self._hashed)
            data = os.pread(fd, want, self._hashed)
            if not data:
                return
            self._h.update(data)
            self._hashed += len(data)

    def _finish(self) -> None:
        if self._checked:
            return
        self._catch_up(None)
        self._checked = True
        got = self._h.hexdigest()
        if got != self._want:
            raise self._mismatch(got)
        if self._hashed == self._size:
            _verified.add(self._id)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._checked and not self._f.closed:
                self._finish()
        finally:
            self._f.close()
            super().close()
