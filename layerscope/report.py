"""JSON shapes shared by the CLI and the UI (entries, images, diffs): data, not presentation."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from layerscope.loading import LoadedImage
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree

_KINDS = [k.json_name for k in EntryKind]


def entry_json(
    tree: FileTree, node: int, links: dict[int, int], path: str | None = None
) -> dict[str, Any]:
    return entry_encoder(tree, links)(node, tree.path(node) if path is None else path)


def entry_encoder(tree: FileTree, links: dict[int, int]) -> Callable[[int, str], dict[str, Any]]:
    """A function node, path -> the `ls --json` entry, with the tree's columns bound once
    (it runs once per entry of listings with hundreds of thousands of them)."""
    kinds, modes, uids, gids = tree.kind, tree.mode, tree.uid, tree.gid
    sizes, mtimes, layers = tree.size, tree.mtime, tree.layer
    targets, rdevs, xattrs, groups = tree.target, tree.rdev, tree.xattrs, tree.link_group
    rolled = tree.rolled_size
    dir_kind = EntryKind.DIR

    def encode(node: int, path: str) -> dict[str, Any]:
        kind = kinds[node]
        group = groups.get(node) if groups else None
        rdev = rdevs.get(node) if rdevs else None
        xa = xattrs.get(node) if xattrs else None
        return {
            "path": path,
            "type": _KINDS[kind],
            "mode": modes[node],
            "uid": uids[node],
            "gid": gids[node],
            "size": rolled(node) if kind == dir_kind else sizes[node],
            "mtime": mtimes[node],
            "target": targets.get(node),
            "rdev": None if rdev is None else list(rdev),
            "links": 1 if group is None else links.get(group, 1),
            "xattrs": {} if not xa else {k: _b64(v) for k, v in sorted(xa.items())},
            "layer": layers[node],
        }

    return encode


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


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
