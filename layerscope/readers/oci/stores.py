"""Where OCI blobs live: a layout directory, a skopeo `dir:`, or a tar archive read in place.

Archives are never extracted: the outer tar is indexed once (one header read per member,
seeking over data) and each blob is served as a read-only slice of the archive file.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
from collections.abc import Callable
from typing import BinaryIO, NamedTuple, cast

from layerscope.errors import CorruptImageError, UnsupportedFormatError, UsageError
from layerscope.model.entry import EntryKind
from layerscope.readers.tar.inflate import open_decoded
from layerscope.readers.tar.reader import iter_tar

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
MAX_LINK_HOPS = 16


def check_digest(digest: str, source: str) -> tuple[str, str]:
    """('sha256', '<hex>') from a digest string; refuse anything that could escape a path."""
    if not _DIGEST.match(digest):
        raise CorruptImageError(f"{source}: malformed digest {digest!r}")
    alg, _, hexpart = digest.partition(":")
    return alg, hexpart


def layout_path(digest: str, source: str) -> str:
    alg, hexpart = check_digest(digest, source)
    return f"blobs/{alg}/{hexpart}"


def flat_path(digest: str, source: str) -> str:
    """skopeo `dir:` names blobs by the hex part alone."""
    return check_digest(digest, source)[1]


class FileSlice(io.RawIOBase):
    """A read-only, seekable window [start, start+length) of an open file descriptor.

    Uses pread, so slices of one archive share a descriptor without sharing a position."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._start = start
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self._length
        if offset < 0:
            raise OSError("negative seek position")
        self._pos = offset
        return offset

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._length - self._pos)
        if n <= 0:
            return 0
        if hasattr(os, "preadv"):
            got = os.preadv(self._fd, [memoryview(b)[:n]], self._start + self._pos)
        else:  # pragma: no cover - platforms without preadv
            data = os.pread(self._fd, n, self._start + self._pos)
            got = len(data)
            b[:got] = data
        self._pos += got
        return got


class Member(NamedTuple):
    offset: int
    size: int


class TarFiles:
    """The regular-file members of an uncompressed tar, indexed by path, served as slices."""

    def __init__(self, path: str) -> None:
        self.source = path
        try:
            self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError as e:
            raise UsageError(f"{path}: cannot open: {e.strerror}") from None
        try:
            self.members = self._index()
        except BaseException:
            os.close(self._fd)
            raise

    def _index(self) -> dict[str, Member]:
        files: dict[str, Member] = {}
        links: dict[str, str] = {}
        size = os.fstat(self._fd).st_size
        stream = open_decoded(self._slice(0, size), self.source, size, None)
        if stream.compression != "plain":
            raise UnsupportedFormatError(
                f"{self.source}: the archive itself is {stream.compression}-compressed; "
                "blobs cannot be served from it in place (decompress it first)"
            )
        for e in iter_tar(stream, self.source):
            rel = e.path.lstrip("/")
            if e.kind is EntryKind.FILE and e.hardlink is None:
                files[rel] = Member(e.loc, e.size)
            elif e.hardlink is not None:
                links[rel] = e.hardlink.lstrip("/")
            elif e.kind is EntryKind.SYMLINK and e.target is not None:
                joined = posixpath.join(posixpath.dirname(rel), e.target)
                links[rel] = posixpath.normpath(joined).lstrip("/")
        for rel in links:
            dest = rel
            for _ in range(MAX_LINK_HOPS):
                dest = links.get(dest, dest)
                if dest in files:
                    files[rel] = files[dest]
                    break
        return files

    def exists(self, rel: str) -> bool:
        return rel in self.members

    def size_of(self, rel: str) -> int:
        return self._member(rel).size

    def open_path(self, rel: str) -> BinaryIO:
        m = self._member(rel)
        return self._slice(m.offset, m.size)

    def _slice(self, start: int, length: int) -> BinaryIO:
        return cast(BinaryIO, FileSlice(self._fd, start, length))

    def _member(self, rel: str) -> Member:
        try:
            return self.members[rel]
        except KeyError:
            raise CorruptImageError(f"{self.source}: archive has no member {rel!r}") from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class DirFiles:
    """Files under a directory (an OCI layout or a skopeo `dir:`).

    Only regular files are served (symlinks to regular files included): a blob that is a
    FIFO would block `open` forever and one linked to /dev/zero or a device would read as
    endless or empty data, so both are refused, as sniffing refuses them as image paths."""

    def __init__(self, root: str) -> None:
        self.source = root
        self.root = root

    def _full(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def _not_regular(self, rel: str) -> UnsupportedFormatError:
        return UnsupportedFormatError(f"{self.source}: {rel} is not a regular file")

    def exists(self, rel: str) -> bool:
        return os.path.isfile(self._full(rel))

    def size_of(self, rel: str) -> int:
        try:
            st = os.stat(self._full(rel))
        except OSError:
            raise CorruptImageError(f"{self.source}: missing {rel}") from None
        if not stat.S_ISREG(st.st_mode):
            raise self._not_regular(rel)
        return st.st_size

    def open_path(self, rel: str) -> BinaryIO:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It has
        # no effect on a regular file, the only kind kept.
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self._full(rel), flags)
        except FileNotFoundError:
            raise CorruptImageError(f"{self.source}: missing {rel}") from None
        except OSError as e:
            raise CorruptImageError(f"{self.source}: cannot read {rel}: {e.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._not_regular(rel)
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return open(fd, "rb", buffering=0)  # the caller closes it

    def close(self) -> None:
        pass


Files = TarFiles | DirFiles


class FilesBlobStore:
    """A BlobStore over a file tree: digest -> relative path by a naming rule, or by an
    explicit table (docker-archive names its blobs freely)."""

    def __init__(
        self,
        files: Files,
        naming: Callable[[str, str], str] = layout_path,
        table: dict[str, str] | None = None,
    ) -> None:
        self.files = files
        self.source = files.source
        self._naming = naming
        self._table = table or {}

    def path_of(self, digest: str) -> str:
        rel = self._table.get(digest)
        return rel if rel is not None else self._naming(digest, self.source)

    def open(self, digest: str) -> BinaryIO:
        return self.files.open_path(self.path_of(digest))

    def size(self, digest: str) -> int:
        return self.files.size_of(self.path_of(digest))

    def close(self) -> None:
        self.files.close()


class SingleFileStore:
    """One layer blob given as a file: its only key is its path."""

    def __init__(self, path: str) -> None:
        self.source = path
        self.key = os.path.abspath(path)

    def open(self, digest: str) -> BinaryIO:
        if digest != self.key:
            raise CorruptImageError(f"{self.source}: no blob {digest}")
        try:
            return open(self.key, "rb", buffering=0)  # the caller closes it
        except OSError as e:
            raise UsageError(f"{self.source}: cannot open: {e.strerror}") from None

    def size(self, digest: str) -> int:
        return os.path.getsize(self.key)

    def close(self) -> None:
        pass
