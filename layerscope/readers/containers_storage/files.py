"""Reading a member's bytes from a layer's directory, and saying clearly when it is gone.

A path from a layer's tar headers is opened one component at a time below the layer's
directory, following no symlink on the way (O_NOFOLLOW at every step): a name in an image
can never lead outside the store. A file or directory that vanished (podman removed the
image while we read it) is a ReaderError naming the layer, not a traceback.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

from layerscope.errors import ReaderError
from layerscope.readers.base import CHUNK

O_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
GONE = frozenset({errno.ENOENT, errno.ESTALE})


def open_below(root: str, rel: str, layer: str) -> int:
    """A descriptor of the regular file `rel` (an absolute path inside the layer) below the
    directory `root`."""
    names = [n for n in rel.split("/") if n]
    if not names or any(n in (".", "..") for n in names):
        raise ReaderError(f"{layer}: {rel}: not a path inside the layer")
    try:
        cur = os.open(root, O_DIR)
    except OSError as e:
        raise _gone(layer, rel, e) from None
    try:
        for name in names[:-1]:
            nxt = os.open(name, O_DIR | os.O_NOFOLLOW, dir_fd=cur)
            os.close(cur)
            cur = nxt
        fd = os.open(names[-1], O_FILE, dir_fd=cur)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ReaderError(f"{layer}: {rel}: a symlink on the way, not followed") from None
        raise _gone(layer, rel, e) from None
    finally:
        os.close(cur)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ReaderError(f"{layer}: {rel}: not a regular file in the layer's directory")
    return fd


def read_file(root: str, rel: str, size: int, layer: str) -> Iterator[bytes]:
    """The file's bytes in chunks; an error if it holds fewer than `size` (cut short while
    read), never a silently short file."""
    fd = open_below(root, rel, layer)
    got = 0
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            try:
                chunk = f.read(CHUNK)
            except OSError as e:
                raise _gone(layer, rel, e) from None
            if not chunk:
                break
            got += len(chunk)
            yield chunk
    if got < size:
        raise ReaderError(f"{layer}: {rel}: holds {got} bytes, its tar header says {size}")


def _gone(layer: str, rel: str, e: OSError) -> ReaderError:
    if e.errno in GONE:
        return ReaderError(
            f"{layer}: {rel}: no longer in the store (the layer was removed while read)"
        )
    return ReaderError(f"{layer}: {rel}: cannot read: {e.strerror or e}")
