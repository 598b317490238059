"""List a directory tree column-wise (model.columns), through directory file descriptors.

Every call is relative to an open directory (openat, fstatat, readlinkat; xattrs through
/proc/self/fd/N/NAME): no path is ever longer than one name, so depth is bounded by
`max_path_depth`, not PATH_MAX, and a directory swapped for a symlink mid-walk is never
followed (O_NOFOLLOW, and each directory's identity is checked when it is opened).

One row per entry in a LayerColumns, a directory's children contiguous: no Entry object,
no path string and no per-entry dict beyond the columns (the squashfs reader does the
same). A few dozen directory descriptors at most are open at once: a directory's is kept
while its subdirectories wait, and those of the least recently used are closed and
opened again from their parent (checked to be the same directory) when needed.

Anything that cannot be read makes the listing incomplete; each such place is reported
through `warn` (the reader puts them in ImageMeta.warnings), never skipped silently.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from layerscope import limits
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import KIND_OF_IFMT, EntryKind, encode_name
from layerscope.readers.base import Cancel

O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_OPEN_DIRS = 48  # directory descriptors kept open while subdirectories wait
CANCEL_EVERY = 4096
NO_XATTRS = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP})
GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})
ST_MTIME = stat.ST_MTIME  # index of the whole seconds in a stat tuple (tv_sec)
_KINDS = {fmt: int(kind) for fmt, kind in KIND_OF_IFMT.items()}  # S_IFMT bits -> kind
FILE, DIR, SYMLINK = int(EntryKind.FILE), int(EntryKind.DIR), int(EntryKind.SYMLINK)

Warn = Callable[[str], None]


class _Dir:
    """A directory listed (its row) whose own listing is pending or in progress."""

    __slots__ = ("chars", "depth", "fd", "key", "name", "parent", "pending", "row")

    def __init__(
        self, row: int, parent: _Dir | None, name: str, key: tuple[int, int], depth: int, chars: int
    ) -> None:
        self.row, self.parent, self.name, self.key = row, parent, name, key
        self.depth, self.chars = depth, chars  # levels and characters of its path
        self.fd = -1
        self.pending = 0  # subdirectories not opened yet (they need this one's fd)

    def path(self) -> str:
        parts = []
        d: _Dir | None = self
        while d is not None and d.parent is not None:
            parts.append(d.name)
            d = d.parent
        return "/" + "/".join(reversed(parts))


class _Changed(Exception):
    """A directory is no longer what was listed (renamed, replaced, removed)."""


class _OpenDirs:
    """Directory descriptors by recency; the root's is the caller's and never closed."""

    def __init__(self, root: _Dir) -> None:
        self.root = root
        self.lru: dict[_Dir, None] = {}

    def fd(self, d: _Dir) -> int:
        """d's descriptor, opened again (from its nearest open ancestor) if it was closed."""
        if d.fd >= 0:
            if d is not self.root:
                self.lru.pop(d, None)
                self.lru[d] = None
            return d.fd
        chain = []
        x = d
        while x.fd < 0:
            chain.append(x)
            assert x.parent is not None  # the root's fd is always open
            x = x.parent
        base = x.fd
        for y in reversed(chain):
            base = self.open(y, base)
        return base

    def open(self, d: _Dir, parent_fd: int) -> int:
        """Open d (a name in parent_fd) and check it is the directory that was listed."""
        fd = os.open(d.name, O_DIR, dir_fd=parent_fd)
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        if (st.st_dev, st.st_ino) != d.key:
            os.close(fd)
            raise _Changed
        d.fd = fd
        self.lru[d] = None
        if len(self.lru) > MAX_OPEN_DIRS:
            self.close(next(iter(self.lru)))
        return fd

    def close(self, d: _Dir) -> None:
        if d is not self.root and d.fd >= 0:
            os.close(d.fd)
            d.fd = -1
            self.lru.pop(d, None)

    def close_all(self) -> None:
        for d in list(self.lru):
            self.close(d)


class DirectoryWalk:
    """One listing of the tree under `root_fd` (an open directory) into LayerColumns."""

    def __init__(self, root_fd: int, source: str, warn: Warn, cancel: Cancel | None) -> None:
        self.source, self.warn, self.cancel = source, warn, cancel
        self.cols = LayerColumns()
        st = os.fstat(root_fd)
        self.root = _Dir(0, None, "", (st.st_dev, st.st_ino), 0, 0)
        self.root.fd = root_fd
        self.fds = _OpenDirs(self.root)
        self.seen = {self.root.key}
        self.max_entries = limits.get("max_entries")
        self.paths = limits.PathCap()
        self.xattr_budget = limits.XattrBudget(source)
        self.links: dict[tuple[int, int], int] = {}  # (dev, ino) of hard-linked files -> id
        # One str per distinct name, for this walk only: trees repeat names (__init__.py,
        # LC_MESSAGES...), and unlike sys.intern the table is gone once the walk is done.
        self.names: dict[str, str] = {}
        self.proc = os.path.isdir(f"/proc/self/fd/{root_fd}")
        if not self.proc:
            warn(f"{source}: /proc is not mounted: extended attributes were not read")
        self.cancelled = False

    def run(self) -> LayerColumns:
        """The listing (incomplete, with `cancelled` set, if `cancel` said so)."""
        stack = [self.root]
        cancel = self.cancel
        try:
            while stack and not (cancel is not None and cancel()):
                d = stack.pop()
                subdirs = self._list(d)
                d.pending = len(subdirs)
                if not subdirs:
                    self.fds.close(d)
                stack.extend(reversed(subdirs))
        finally:
            self.fds.close_all()
        self.cancelled = cancel is not None and cancel()
        return self.cols

    def _list(self, d: _Dir) -> list[_Dir]:
        """List d's entries into the columns; returns its subdirectories (not opened)."""
        try:
            fd = self._open(d)
            names = self._names(d, fd)
        except _Changed:
            self.warn(f"{d.path()}: directory changed while it was read, not listed")
            return []
        except OSError as e:
            if d is self.root:
                raise
            self.warn(
                f"{d.path()}: directory not readable ({e.strerror or e}): "
                "its contents are missing from the listing"
            )
            return []
        self._check_paths(d, names)
        first = len(self.cols)
        subdirs = self._rows(d, fd, names)
        self.cols.spans.append((d.row, first, len(self.cols)))
        return subdirs

    def _open(self, d: _Dir) -> int:
        if d.parent is None:
            return d.fd
        parent = d.parent
        try:
            return self.fds.open(d, self.fds.fd(parent))
        except OSError as e:
            if e.errno in GONE:  # removed, or swapped for a symlink or a file, since listed
                raise _Changed from None
            raise
        finally:
            parent.pending -= 1
            if parent.pending == 0:
                self.fds.close(parent)

    def _names(self, d: _Dir, fd: int) -> list[str]:
        """The directory's names, stopping at max_entries (a huge directory must not be
        read whole first)."""
        room = self.max_entries - (len(self.cols) - 1)
        names = []
        with os.scandir(fd) as it:
            for item in it:
                names.append(item.name)
                if len(names) > room:
                    raise limits.exceeded(
                        f"{self.source}: more than {self.max_entries} entries", "max_entries"
                    )
                if not len(names) % CANCEL_EVERY and self.cancel is not None and self.cancel():
                    break
        return names

    def _check_paths(self, d: _Dir, names: list[str]) -> None:
        if not names:
            return
        if d.depth + 1 > self.paths.max_depth:
            path = f"{d.path().rstrip('/')}/{names[0]}"
            raise limits.exceeded(
                f"{self.source}: path {d.depth + 1} levels deep: {path[:60]!r}...",
                "max_path_depth",
            )
        if d.chars + 1 + max(map(len, names)) > self.paths.quick:
            base = d.path().rstrip("/")
            for name in names:
                self.paths.check(f"{base}/{name}", self.source)

    def _rows(self, d: _Dir, fd: int, names: list[str]) -> list[_Dir]:
        """One row per name: the hot loop, with every column's append bound to a local."""
        cols = self.cols
        add_parent, add_name, add_kind = cols.parent.append, cols.name.append, cols.kind.append
        add_mode, add_uid, add_gid = cols.mode.append, cols.uid.append, cols.gid.append
        add_size, add_mtime, add_loc = cols.size.append, cols.mtime.append, cols.loc.append
        lstat, listxattr, kinds, same_name = os.stat, os.listxattr, _KINDS, self.names.setdefault
        xattr_prefix = self._xattr_prefix(fd)
        prow, row = d.row, len(cols.name) - 1
        subdirs: list[_Dir] = []
        for i, name in enumerate(names):
            if not i & (CANCEL_EVERY - 1) and i and self.cancel is not None and self.cancel():
                break
            try:
                st = lstat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as e:
                self.warn(f"{_join(d, name)}: not listed: {e.strerror or e}")
                continue
            mode = st.st_mode
            kind = kinds.get(mode & 0o170000)
            if kind is None:
                self.warn(f"{_join(d, name)}: unknown file type, not listed")
                continue
            row += 1
            add_parent(prow)
            add_name(same_name(name, name))
            add_kind(kind)
            add_mode(mode & 0o7777)
            add_uid(st.st_uid)
            add_gid(st.st_gid)
            add_mtime(st[ST_MTIME])  # type: ignore[arg-type]  # the int tv_sec, not st_mtime
            if kind == FILE:
                add_size(st.st_size)
                add_loc(row)
                if st.st_nlink > 1:
                    cols.ino[row] = self.links.setdefault(
                        (st.st_dev, st.st_ino), len(self.links) + 1
                    )
            else:
                add_loc(-1)
                add_size(self._special(d, fd, name, row, kind, st, subdirs))
            if xattr_prefix is not None:
                try:
                    keys = listxattr(xattr_prefix + name, follow_symlinks=False)
                except OSError as e:
                    xattr_prefix = self._xattr_error(d, xattr_prefix, name, e)
                else:
                    if keys:
                        self._xattrs(d, xattr_prefix + name, keys, row)
        return subdirs

    def _special(
        self,
        d: _Dir,
        fd: int,
        name: str,
        row: int,
        kind: int,
        st: os.stat_result,
        subdirs: list[_Dir],
    ) -> int:
        """What a non-file row needs beyond the columns; returns its size column."""
        cols = self.cols
        if kind == DIR:
            cols.dirs.append(row)
            key = (st.st_dev, st.st_ino)
            if key in self.seen:
                # a bind mount or a loop: listed as a directory, not walked again
                self.warn(f"{_join(d, name)}: directory seen before, not walked again")
            else:
                self.seen.add(key)
                subdirs.append(_Dir(row, d, name, key, d.depth + 1, d.chars + 1 + len(name)))
            return 0
        if kind == SYMLINK:
            target = self._readlink(d, fd, name)
            cols.target[row] = target
            return len(encode_name(target))
        if kind == EntryKind.CHAR or kind == EntryKind.BLOCK:
            cols.rdev[row] = (os.major(st.st_rdev), os.minor(st.st_rdev))
        return 0

    def _readlink(self, d: _Dir, fd: int, name: str) -> str:
        try:
            return os.readlink(name, dir_fd=fd)
        except OSError as e:
            self.warn(f"{_join(d, name)}: symlink target not readable: {e.strerror or e}")
            return ""

    def _xattr_prefix(self, fd: int) -> str | None:
        """What a name is appended to for l*xattr(2): the directory through its descriptor,
        /proc/self/fd/N/ (a path from the root could be sent through a symlink swapped in
        mid-walk). None without /proc: the walk then says once that it read none."""
        return f"/proc/self/fd/{fd}/" if self.proc else None

    def _xattr_error(self, d: _Dir, prefix: str, name: str, e: OSError) -> str | None:
        """The prefix for the directory's next names: None once the filesystem keeps no
        extended attributes (not asked again in this directory)."""
        if e.errno in NO_XATTRS:
            return None
        self.warn(f"{_join(d, name)}: extended attributes not readable: {e.strerror or e}")
        return prefix

    def _xattrs(self, d: _Dir, path: str, keys: list[str], row: int) -> None:
        got: dict[str, bytes] = {}
        for key in keys:
            try:
                got[key] = os.getxattr(path, key, follow_symlinks=False)
            except OSError as e:
                if e.errno != errno.ENODATA:  # ENODATA: removed since it was listed
                    name = path.rpartition("/")[2]
                    self.warn(f"{_join(d, name)}: extended attribute {key} not readable")
        if got:
            self.xattr_budget.spend(got)
            self.cols.xattrs[row] = got


def _join(d: _Dir, name: str) -> str:
    return f"{d.path().rstrip('/')}/{name}"
