"""`layerscope cache info|clear`: what the index cache and the registry blob store hold."""

from __future__ import annotations

import sys
from typing import Any

import click

from layerscope.cache import ENV_MAX, CacheInfo, IndexCache
from layerscope.cache.blobs import BLOB_CACHE_ENV, blob_cache_max
from layerscope.present import render

KINDS = {"tree": "merged trees", "layer": "layer indexes", "hashes": "content hashes"}


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


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


@click.group("cache")
def cache_cmd() -> None:
    """Inspect or empty layerscope's cache ($XDG_CACHE_HOME/layerscope).

    The index cache lets an image seen before open without reading its layers; it is
    capped at LAYERSCOPE_CACHE_MAX bytes (K/M/G suffixes; default 2G), least recently used
    first out. Registry pulls keep their verified blobs next to it, capped at
    LAYERSCOPE_BLOB_CACHE_MAX (default 10G; the image being read is never evicted).
    --no-cache on any image command bypasses both."""


@cache_cmd.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.cache/1).")
def info_cmd(as_json: bool) -> None:
    """Where the cache is, what it holds and its size cap."""
    info = IndexCache().info()
    if as_json:
        render.dump_json(info_json(info))
        return
    w = sys.stdout.write
    w(f"location  {render.safe_text(str(info.root))}\n")
    w(f"index     {info.index.files} files, {_size(info.index.bytes)}\n")
    for kind, label in KINDS.items():
        files, size = info.index.by_kind.get(kind, (0, 0))
        w(f"  {label:<15} {files:>6} file{'' if files == 1 else 's'}  {_size(size):>10}\n")
    w(f"cap       {_size(info.max_bytes)} (index only; set {ENV_MAX} to change)\n")
    w(f"blobs     {info.blob_files} files, {_size(info.blob_bytes)} (registry pulls)\n")
    w(f"cap       {_size(blob_cache_max())} (blobs; set {BLOB_CACHE_ENV} to change)\n")


@cache_cmd.command("clear")
@click.option("--keep-blobs", is_flag=True, help="Keep pulled registry blobs; clear indexes only.")
def clear_cmd(keep_blobs: bool) -> None:
    """Remove everything in the cache (indexes, hashes and registry blobs)."""
    cache = IndexCache()
    files, size = cache.clear(blobs=not keep_blobs)
    sys.stdout.write(f"removed {files} files, {_size(size)} from {cache.root}\n")
