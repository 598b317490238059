"""Entry: one file-system object as a reader reports it.

Readers yield Entry records; the tree stores them column-wise, so an Entry is a transient
record, not what millions of nodes are kept as.
"""

from __future__ import annotations

import enum
import stat
from collections.abc import Mapping


class EntryKind(enum.IntEnum):
    FILE = 0
    DIR = 1
    SYMLINK = 2
    CHAR = 3
    BLOCK = 4
    FIFO = 5
    SOCKET = 6

    @property
    def json_name(self) -> str:
        return _JSON_NAMES[self]

    @property
    def ls_char(self) -> str:
        return _LS_CHARS[self]

    @classmethod
    def from_st_mode(cls, mode: int) -> EntryKind:
        fmt = stat.S_IFMT(mode)
        try:
            return KIND_OF_IFMT[fmt]
        except KeyError:
            raise ValueError(f"unknown file type bits {fmt:#o}") from None


_JSON_NAMES = {
    EntryKind.FILE: "file",
    EntryKind.DIR: "dir",
    EntryKind.SYMLINK: "symlink",
    EntryKind.CHAR: "char",
    EntryKind.BLOCK: "block",
    EntryKind.FIFO: "fifo",
    EntryKind.SOCKET: "socket",
}
_LS_CHARS = {
    EntryKind.FILE: "-",
    EntryKind.DIR: "d",
    EntryKind.SYMLINK: "l",
    EntryKind.CHAR: "c",
    EntryKind.BLOCK: "b",
    EntryKind.FIFO: "p",
    EntryKind.SOCKET: "s",
}
KIND_OF_IFMT = {
    stat.S_IFREG: EntryKind.FILE,
    stat.S_IFDIR: EntryKind.DIR,
    stat.S_IFLNK: EntryKind.SYMLINK,
    stat.S_IFCHR: EntryKind.CHAR,
    stat.S_IFBLK: EntryKind.BLOCK,
    stat.S_IFIFO: EntryKind.FIFO,
    stat.S_IFSOCK: EntryKind.SOCKET,
}


class Entry:
    """One object as stored in one layer.

    path    absolute inside the image ("/etc/os-release"); undecodable bytes are kept
            with surrogateescape so they round-trip.
    mode    permission bits only (incl. setuid/setgid/sticky), never the type bits.
    rdev    (major, minor) for char and block devices, else None.
    ino     hard-link identity inside this layer: entries of one layer with the same
            non-zero ino are one inode. 0 means "no identity".
    hardlink tar-style hard link: the absolute path of the link target (which may live in
            a lower layer); the model resolves it. None otherwise.
    loc     reader-private locator of the content (inode reference, stream offset...).
    """

    __slots__ = (
        "gid",
        "hardlink",
        "ino",
        "kind",
        "loc",
        "mode",
        "mtime",
        "path",
        "rdev",
        "size",
        "target",
        "uid",
        "xattrs",
    )

    def __init__(
        self,
        path: str,
        kind: EntryKind,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        size: int = 0,
        mtime: int = 0,
        target: str | None = None,
        rdev: tuple[int, int] | None = None,
        xattrs: Mapping[str, bytes] | None = None,
        ino: int = 0,
        hardlink: str | None = None,
        loc: int = -1,
    ) -> None:
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.target = target
        self.rdev = rdev
        self.xattrs = xattrs
        self.ino = ino
        self.hardlink = hardlink
        self.loc = loc

    def __repr__(self) -> str:
        extra = f" -> {self.target}" if self.target is not None else ""
        if self.hardlink is not None:
            extra += f" link to {self.hardlink}"
        return (
            f"Entry({self.path!r} {self.kind.name.lower()} {self.mode:04o} "
            f"{self.uid}:{self.gid} {self.size}{extra})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in Entry.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    def ls_mode(self) -> str:
        """The mode as `ls -l` prints it (drwxr-xr-x, -rwsr-xr-x, ...)."""
        return self.kind.ls_char + perm_string(self.mode)


def perm_string(mode: int) -> str:
    """rwx triplets with setuid/setgid/sticky folded in as ls prints them."""
    out = []
    for shift, special, ch in (
        (6, stat.S_ISUID, "s"),
        (3, stat.S_ISGID, "s"),
        (0, stat.S_ISVTX, "t"),
    ):
        bits = (mode >> shift) & 7
        x = bits & 1
        s = mode & special
        out.append("r" if bits & 4 else "-")
        out.append("w" if bits & 2 else "-")
        if s:
            out.append(ch if x else ch.upper())
        else:
            out.append("x" if x else "-")
    return "".join(out)


def decode_name(raw: bytes) -> str:
    """Decode a file name from an image; bytes that are not UTF-8 survive via surrogateescape."""
    return raw.decode("utf-8", "surrogateescape")


def encode_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def normalize_path(path: str) -> str:
    """Make a path absolute and canonical, lexically: './a//b/' -> '/a/b'. '..' removes the
    component before it and never climbs above the root ('x/../root/f' -> '/root/f',
    '../../etc/passwd' -> '/etc/passwd'): where container runtimes extract such tar members
    (umoci cleans filepath.Join("/", name); Go's path.Clean). Symlinks are never followed."""
    if ".." not in path:  # the usual case: dropping empty and "." parts is all there is
        return "/" + "/".join([p for p in path.split("/") if p and p != "."])
    parts: list[str] = []
    for p in path.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p and p != ".":
            parts.append(p)
    return "/" + "/".join(parts)
