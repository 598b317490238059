"""Identities of layer bytes for the index cache, computed by the readers that know them.

- a content-addressed blob: its digest and size (shared by every image, tag and archive
  that holds it);
- a partition of a file (SIF, bare squashfs): the file's identity (real path, device,
  inode, size, mtime and ctime in ns), the partition's offset and size, and a hash of its
  first 4 KiB (the superblock). Any rewrite of the file, even one that restores the mtime,
  changes the ctime or the superblock;
- a member known only by name (a loose layer blob, a docker-archive member without a
  digest name): the containing file's identity plus the member.

Sandboxes have none: a directory changes under us without a cheap way to notice.
"""

from __future__ import annotations

import os
import re

import xxhash

SUPERBLOCK_BYTES = 4096
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def file_identity(path: str) -> str | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"


def partition_identity(path: str, offset: int, size: int, kind: str) -> str | None:
    identity = file_identity(path)
    if identity is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        head = os.pread(fd, SUPERBLOCK_BYTES, offset)
    except OSError:
        return None
    finally:
        os.close(fd)
    return f"part|{identity}|{offset}|{size}|{kind}|{xxhash.xxh3_64_hexdigest(head)}"


def blob_identity(digest: str, size: int, container: str | None) -> str | None:
    """A blob by its sha256 digest; else by its name inside `container` (a local file)."""
    if _DIGEST.fullmatch(digest):
        return f"blob|{digest}|{size}"
    if container is None or not os.path.exists(container):
        return None
    identity = file_identity(container)
    return None if identity is None else f"member|{identity}|{digest}|{size}"
