"""Turn tree nodes into the JSON and `ls -l`-like text the commands print."""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any

from layerscope.loading import LoadedImage
from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree


def entry_json(
    tree: FileTree, node: int, links: dict[int, int], path: str | None = None
) -> dict[str, Any]:
    kind = EntryKind(tree.kind[node])
    group = tree.link_group.get(node)
    rdev = tree.rdev.get(node)
    xattrs = tree.xattrs.get(node) or {}
    return {
        "path": tree.path(node) if path is None else path,
        "type": kind.json_name,
        "mode": tree.mode[node],
        "uid": tree.uid[node],
        "gid": tree.gid[node],
        "size": tree.rolled_size(node),
        "mtime": tree.mtime[node],
        "target": tree.target.get(node),
        "rdev": list(rdev) if rdev is not None else None,
        "links": links.get(group, 1) if group is not None else 1,
        "xattrs": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(xattrs.items())},
        "layer": tree.layer[node],
    }


def image_json(img: LoadedImage) -> dict[str, Any]:
    meta = img.meta
    return {
        "source": img.ref,
        "format": meta.format,
        "architecture": meta.architecture,
        "os": meta.os,
        "layers": len(meta.layers),
        "upto": img.upto,
    }


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
