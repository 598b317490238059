"""JSON shapes shared by the CLI and the UI (entries, images, diffs): data, not presentation."""

from __future__ import annotations

import base64
from typing import Any

from layerscope.loading import LoadedImage
from layerscope.model.entry import EntryKind
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
