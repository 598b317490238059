"""Cache keys: what identifies a layer's entries, a merged tree and a layer's hashes.

A layer's identity comes from its reader (`ImageReader.layer_identity`, see
readers/identity.py): a blob digest, a partition of a file, or None (never cached). Here it
is only combined: a merged tree is keyed by its layers' identities and whiteout styles.

Every key also carries a fingerprint of the code that produced the cached data (the
readers', model's and cache's source files: names, sizes and mtimes): upgrading or editing
layerscope can change what a reader yields, so it invalidates rather than misreads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

CODE_ROOMS = ("readers", "model", "cache")


@cache
def code_fingerprint() -> str:
    """A short hash of the sources whose output is cached (every module under readers/,
    model/ and cache/, subpackages included; an upgrade replaces them)."""
    pkg = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for room in CODE_ROOMS:
        for dirpath, _, filenames in sorted(os.walk(pkg / room)):
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), pkg)
                h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def versioned(kind: str, key: str) -> str:
    return f"{kind}|{code_fingerprint()}|{key}"


def tree_key(keys: Sequence[str | None], styles: Sequence[str]) -> str | None:
    """The key of the merged tree of these layers applied with these whiteout styles."""
    if not keys or any(k is None for k in keys):
        return None
    return versioned("tree", ";".join(f"{k}#{s}" for k, s in zip(keys, styles, strict=True)))
