"""The cache's files, reached without ever following a symlink below the cache root.

On a shared login node the cache holds the file lists of private images, and `cache
clear` and eviction delete files: both must stay inside the cache whatever has been
planted in it. So:
- the root ($XDG_CACHE_HOME/layerscope) may be a symlink (a home on a small quota often
  points it at scratch space) but must be a directory owned by the user running
  layerscope, or it is refused: somebody else's directory could serve crafted index
  entries (their checksums are no secret) or read what we write. The root is made 0700;
- below the root every directory is opened with O_NOFOLLOW relative to its parent's
  descriptor, must be owned by us, and every file is created, opened, renamed, stamped
  and removed through its directory's descriptor (openat, renameat, unlinkat): a symlink
  anywhere inside (`index/tree/zz -> ~/thesis`) is never followed, not even by a race;
- directories are created 0700 and files 0600; only regular files are opened (a FIFO
  would block), and callers delete only the names they themselves write.

A refused root is a UsageError (exit 2): the user's environment points the cache at a
place that cannot be trusted, and --no-cache or another XDG_CACHE_HOME is the way out.
Every other problem is an OSError, which the cache treats as a miss.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from layerscope.errors import UsageError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW_DIR = _DIR_FLAGS | os.O_NOFOLLOW
# O_NONBLOCK: opening a FIFO planted under a cache name must not wait for a writer.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def cache_root() -> Path:
    """$XDG_CACHE_HOME/layerscope (default ~/.cache/layerscope)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "layerscope"


def _refuse(root: Path, uid: int) -> UsageError:
    return UsageError(
        f"cache directory {root} belongs to uid {uid}, not to you (uid {os.getuid()}): "
        "refusing to use it; set XDG_CACHE_HOME elsewhere or pass --no-cache"
    )


def open_root(root: Path, create: bool) -> int | None:
    """A descriptor of the cache root (None if it does not exist and create is False).
    Raises UsageError when somebody else owns it; makes it 0700 when it is looser."""
    if create:
        with contextlib.suppress(FileExistsError):
            root.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(root, 0o700)
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid():
            raise _refuse(root, st.st_uid)
        if st.st_mode & 0o077:
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o700)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_subdir(parent: int, name: str, create: bool) -> int | None:
    """Descriptor of directory `name` in `parent`, never through a symlink; None when
    absent (and not created). OSError for a symlink, a non-directory or a stranger's."""
    try:
        fd = os.open(name, _NOFOLLOW_DIR, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            return None
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _NOFOLLOW_DIR, dir_fd=parent)
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise PermissionError(f"{name}: not owned by this user")
    return fd


def open_dir(
    root: Path, parts: Sequence[str], create: bool, create_root: bool | None = None
) -> int | None:
    """Descriptor of root/parts... (None when a part is absent and not created). The
    root is created when `create_root` is (by default: when `create` is)."""
    fd = open_root(root, create if create_root is None else create_root)
    for part in parts:
        if fd is None:
            return None
        try:
            child = open_subdir(fd, part, create)
        finally:
            os.close(fd)
        fd = child
    return fd


@contextlib.contextmanager
def opened_dir(
    root: Path, parts: Sequence[str], create: bool, create_root: bool | None = None
) -> Iterator[int | None]:
    fd = open_dir(root, parts, create, create_root)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def open_file(dir_fd: int, name: str) -> int:
    """A regular file in dir_fd opened for reading, never through a symlink."""
    fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{name}: not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_file(dir_fd: int, name: str) -> int:
    """A new file (0600) in dir_fd, for writing; fails if the name exists in any form."""
    return os.open(name, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)


def lstat_at(dir_fd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def is_file(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISREG(lstat_at(dir_fd, name).st_mode)
    except OSError:
        return False


def regular_files(dir_fd: int) -> Iterator[tuple[str, os.stat_result]]:
    """(name, lstat) of every regular file directly in dir_fd."""
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        try:
            st = lstat_at(dir_fd, name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield name, st


def subdirs(dir_fd: int) -> Iterator[str]:
    """Names of the real directories (not symlinks) directly in dir_fd."""
    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    for name in names:
        with contextlib.suppress(OSError):
            if stat.S_ISDIR(lstat_at(dir_fd, name).st_mode):
                yield name


def unlink_at(dir_fd: int, name: str, ino: int | None = None) -> bool:
    """Remove file `name` (only if it is still inode `ino`, when given)."""
    try:
        if ino is not None and lstat_at(dir_fd, name).st_ino != ino:
            return False
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        return False
    return True
