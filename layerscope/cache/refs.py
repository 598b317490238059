"""Named pointers into the blob store: which cached blobs make up an image a local engine
served, so that opening it again reads nothing from the engine.

`root/refs/<namespace>/<sha256 of the key>.json` holds one small JSON object, written by
atomic rename (a reader sees the old pointer or the new one, never half of one). A pointer
whose blobs were evicted since is simply not used: the image is fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

MAX_REF_BYTES = 1 << 20


def _path(root: Path, namespace: str, key: str) -> Path:
    return root / "refs" / namespace / (hashlib.sha256(key.encode()).hexdigest() + ".json")


def read_ref(root: Path, namespace: str, key: str) -> dict[str, Any] | None:
    """The object stored under `key`, or None when there is none or it is unreadable."""
    try:
        with open(_path(root, namespace, key), "rb") as f:
            data = f.read(MAX_REF_BYTES + 1)
        doc = json.loads(data) if len(data) <= MAX_REF_BYTES else None
    except (OSError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and doc.get("key") == key else None


def write_ref(root: Path, namespace: str, key: str, doc: dict[str, Any]) -> None:
    """Store `doc` under `key` (best effort: a cache that cannot be written only costs a
    fetch next time)."""
    path = _path(root, namespace, key)
    with contextlib.suppress(OSError):
        for folder in (path.parent.parent, path.parent):  # refs/, refs/<namespace>/: 0700
            folder.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ref-", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({**doc, "key": key}, f)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
