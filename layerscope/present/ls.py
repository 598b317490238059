"""`ls`: the merged tree as `ls -l`-like lines (text) or entries (JSON, present.entries).

A listing names the path asked for first (`/etc` itself, or `/` for the whole image), then
everything under it in path order. Names and link targets are cleaned (present.text): a
name holding a newline or an escape sequence prints as a visible escape, on its own line.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree
from layerscope.present.text import clean

__all__ = ["listing", "ls_line", "ls_lines"]

_LS_CHARS = [k.ls_char for k in EntryKind]


def listing(tree: FileTree, top: int) -> Iterator[tuple[int, str]]:
    """(node, path) of `top` and, for a directory, everything under it, in path order."""
    yield top, tree.path(top)
    if tree.is_dir(top):
        yield from tree.walk_paths(top)


@functools.lru_cache(maxsize=4096)
def _stamp(mtime: int) -> str:
    # Images share a handful of mtimes: format each once.
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))
    except (OverflowError, OSError, ValueError):
        return str(mtime)  # beyond what the C library can show (year > 2^31...): as stored


@functools.lru_cache(maxsize=512)
def _mode(kind: int, mode: int) -> str:
    return _LS_CHARS[kind] + perm_string(mode)


def ls_line(tree: FileTree, node: int, path: str) -> str:
    rdev = tree.rdev.get(node)
    size = f"{rdev[0]},{rdev[1]:>4}" if rdev is not None else str(tree.rolled_size(node))
    owner = f"{tree.uid[node]}/{tree.gid[node]}"
    line = f"{_mode(tree.kind[node], tree.mode[node])} {owner:<8} {size:>12} "
    line += f"{_stamp(tree.mtime[node])} {clean(path)}"
    target = tree.target.get(node)
    if target is not None:
        line += f" -> {clean(target)}"
    return line


def ls_lines(tree: FileTree, nodes: Iterable[tuple[int, str]]) -> Iterator[str]:
    for node, path in nodes:
        yield ls_line(tree, node, path)
