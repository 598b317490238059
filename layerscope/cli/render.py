"""Turn tree nodes into the JSON and `ls -l`-like text the commands print."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree
from layerscope.report import entry_json, image_json

__all__ = ["dump_json", "entry_json", "image_json", "ls_line", "safe_text"]


def ls_line(tree: FileTree, node: int, path: str) -> str:
    kind = EntryKind(tree.kind[node])
    rdev = tree.rdev.get(node)
    size = f"{rdev[0]},{rdev[1]:>4}" if rdev is not None else str(tree.rolled_size(node))
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(tree.mtime[node]))
    owner = f"{tree.uid[node]}/{tree.gid[node]}"
    line = f"{kind.ls_char}{perm_string(tree.mode[node])} {owner:<8} {size:>12} {stamp} {path}"
    target = tree.target.get(node)
    if target is not None:
        line += f" -> {target}"
    return line


def safe_text(s: str) -> str:
    """Keep undecodable names printable on a terminal."""
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def dump_json(doc: dict[str, Any]) -> None:
    # surrogateescape'd names are not valid UTF-8: escape them instead of crashing.
    sys.stdout.write(json.dumps(doc, ensure_ascii=True, indent=1))
    sys.stdout.write("\n")
