"""`cache info` and `cache clear`: the JSON document (schema layerscope.cache/1) and text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from layerscope.cache import ENV_MAX, CacheInfo
from layerscope.cache.blobs import BLOB_CACHE_ENV, blob_cache_max
from layerscope.present.text import clean
from layerscope.present.units import size

KINDS = {
    "tree": "merged trees",
    "layer": "layer indexes",
    "hashes": "content hashes",
    "facts": "file facts (portability)",
}


def info_json(info: CacheInfo) -> dict[str, Any]:
    return {
        "schema": "layerscope.cache/1",
        "root": str(info.root),
        "max_bytes": info.max_bytes,
        "index": {
            "files": info.index.files,
            "bytes": info.index.bytes,
            "by_kind": {
                kind: dict(
                    zip(("files", "bytes"), info.index.by_kind.get(kind, (0, 0)), strict=True)
                )
                for kind in KINDS
            },
        },
        "blobs": {
            "files": info.blob_files,
            "bytes": info.blob_bytes,
            "max_bytes": blob_cache_max(),
        },
    }


def info_lines(info: CacheInfo) -> Iterator[str]:
    yield f"location  {clean(str(info.root))}"
    yield f"index     {info.index.files} files, {size(info.index.bytes)}"
    for kind, label in KINDS.items():
        files, used = info.index.by_kind.get(kind, (0, 0))
        yield f"  {label:<15} {files:>6} file{'' if files == 1 else 's'}  {size(used):>10}"
    yield f"cap       {size(info.max_bytes)} (index only; set {ENV_MAX} to change)"
    yield f"blobs     {info.blob_files} files, {size(info.blob_bytes)} (registry pulls)"
    yield f"cap       {size(blob_cache_max())} (blobs; set {BLOB_CACHE_ENV} to change)"


def cleared_line(files: int, used: int, root: Path) -> str:
    return f"removed {files} files, {size(used)} from {clean(str(root))}"
