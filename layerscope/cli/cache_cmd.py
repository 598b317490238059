"""`layerscope cache info|clear`: what the index cache and the registry blob store hold."""

from __future__ import annotations

import click

from layerscope.cache import IndexCache
from layerscope.present import output
from layerscope.present.cache import cleared_line, info_json, info_lines
from layerscope.present.jsonout import dump_json


@click.group("cache")
def cache_cmd() -> None:
    """Inspect or empty layerscope's cache ($XDG_CACHE_HOME/layerscope).

    The index cache lets an image seen before open without reading its layers; it is
    capped at LAYERSCOPE_CACHE_MAX (a size: 2GB, 500MiB; default 2 GB), least recently
    used first out. Registry pulls keep their verified blobs next to it, capped at
    LAYERSCOPE_BLOB_CACHE_MAX (default 10 GB; the image being read is never evicted).
    --no-cache on any image command bypasses both."""


@cache_cmd.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.cache/1).")
def info_cmd(as_json: bool) -> None:
    """Where the cache is, what it holds and its size cap."""
    info = IndexCache().info()
    if as_json:
        dump_json(info_json(info))
    else:
        output.lines(info_lines(info))


@cache_cmd.command("clear")
@click.option("--keep-blobs", is_flag=True, help="Keep pulled registry blobs; clear indexes only.")
def clear_cmd(keep_blobs: bool) -> None:
    """Remove everything in the cache (indexes, hashes and registry blobs)."""
    cache = IndexCache()
    files, size = cache.clear(blobs=not keep_blobs)
    output.lines([cleared_line(files, size, cache.root)])
