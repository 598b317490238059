"""Cache keys: what identifies a layer's entries, a merged tree and a layer's hashes.

- OCI/Docker layers whose id is a sha256 digest: the digest (content-addressed; shared by
  every image, tag and archive that holds the blob) and the blob's size.
- SIF partitions and bare squashfs files: the file's identity (real path, device, inode,
  size, mtime and ctime in ns), the partition's offset and size, and a hash of its first
  4 KiB (superblock), read read-only here so readers need no change. Any rewrite of the
  file, even one that restores the mtime, changes the ctime or the superblock.
- Layers known only by a path (a loose layer blob, a docker-archive member without a
  digest name): the containing file's identity plus the member.
- Sandboxes and anything else: None (never cached: a directory changes under us without
  a cheap way to notice).

Every key also carries a fingerprint of the code that produced the cached data (package
version + the readers', model's and cache's source files): upgrading or editing layerscope
can change what a reader yields, so it invalidates rather than misreads.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import xxhash

from layerscope import __version__
from layerscope.model.image import ImageMeta, LayerInfo

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_OCI_FORMATS = ("oci-layout", "oci-archive", "docker-archive", "dir", "registry", "layer")
SUPERBLOCK_BYTES = 4096


@cache
def code_fingerprint() -> str:
    """A short hash of the package version and the sources whose output is cached."""
    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(__version__.encode())
    for sub in ("readers", "model", "cache"):
        try:
            items = sorted(os.scandir(pkg / sub), key=lambda e: e.name)
        except OSError:
            continue
        for e in items:
            if e.name.endswith(".py"):
                try:
                    st = e.stat()
                except OSError:
                    continue
                h.update(f"{sub}/{e.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def file_identity(path: str) -> str | None:
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"


def _head_hash(path: str, offset: int) -> str | None:
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
    return xxhash.xxh3_64_hexdigest(head)


def layer_keys(meta: ImageMeta) -> list[str | None]:
    """One key per layer of `meta` (None: do not cache that layer)."""
    identity: str | None = None
    if meta.format in ("sif", "squashfs") or meta.format in _OCI_FORMATS:
        identity = file_identity(meta.source) if os.path.exists(meta.source) else None
    return [_layer_key(meta, info, identity) for info in meta.layers]


def _layer_key(meta: ImageMeta, info: LayerInfo, identity: str | None) -> str | None:
    if info.encrypted:
        return None
    if meta.format in _OCI_FORMATS:
        if _DIGEST.fullmatch(info.id):
            return f"blob|{info.id}|{info.stored_size}"
        if identity is None:
            return None
        return f"member|{identity}|{info.id}|{info.stored_size}"
    if meta.format in ("sif", "squashfs") and identity is not None:
        offset = info.extra.get("offset", 0) if meta.format == "sif" else 0
        if not isinstance(offset, int):
            return None
        head = _head_hash(meta.source, offset)
        if head is None:
            return None
        return f"part|{identity}|{offset}|{info.stored_size}|{info.media_type}|{head}"
    return None


def versioned(kind: str, key: str) -> str:
    return f"{kind}|{code_fingerprint()}|{key}"


def tree_key(keys: Sequence[str | None], styles: Sequence[str]) -> str | None:
    """The key of the merged tree of these layers applied with these whiteout styles."""
    if not keys or any(k is None for k in keys):
        return None
    return versioned("tree", ";".join(f"{k}#{s}" for k, s in zip(keys, styles, strict=True)))
