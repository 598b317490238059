"""The JSON entry shape (schema layerscope.ls/1 and the entries of a diff) and the image
header every document carries."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from layerscope.engine.image import Image
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree

_KINDS = [k.json_name for k in EntryKind]


class LsEntry(msgspec.Struct):
    """One `ls --json` entry (schema layerscope.ls/1), fields in output order. A Struct,
    not a dict: twice as fast to build and encode, 300,000 times in a big listing."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    target: str | None
    rdev: list[int] | None
    links: int
    xattrs: dict[str, str]
    layer: int | None  # None: no layer wrote it (the root, unless one set its attributes)


def ls_entries(
    tree: FileTree, nodes: Iterable[tuple[int, str]], links: dict[int, int]
) -> Iterator[LsEntry]:
    """The `ls --json` entry of each (node, path), with the tree's columns bound once (it
    runs once per entry of listings with hundreds of thousands of them)."""
    kinds, modes, uids, gids = tree.kind, tree.mode, tree.uid, tree.gid
    sizes, mtimes, layers = tree.size, tree.mtime, tree.layer
    targets, rdevs, xattrs, groups = tree.target, tree.rdev, tree.xattrs, tree.link_group
    rolled = tree.rolled_size
    dir_kind = EntryKind.DIR
    names = _KINDS
    child_ids = tree.child_ids
    for node, path in nodes:
        kind = kinds[node]
        if kind == dir_kind:
            # A directory's link count: "." and its name in the parent, plus each
            # subdirectory's "..": what squashfs stores (mksquashfs, tar2sqfs) and stat
            # reports on a mounted image or an unpacked tree.
            count = 2 + sum(1 for kid in child_ids(node) if kinds[kid] == dir_kind)
        else:
            group = groups.get(node) if groups else None
            count = 1 if group is None else links[group]
        rdev = rdevs.get(node) if rdevs else None
        xa = xattrs.get(node) if xattrs else None
        yield LsEntry(
            path,
            names[kind],
            modes[node],
            uids[node],
            gids[node],
            rolled(node) if kind == dir_kind else sizes[node],
            mtimes[node],
            targets.get(node),
            None if rdev is None else list(rdev),
            count,
            {} if not xa else {k: _b64(v) for k, v in sorted(xa.items())},
            layers[node] if layers[node] >= 0 else None,
        )


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def image_json(img: Image) -> dict[str, Any]:
    meta = img.meta
    return {
        "source": img.ref,
        "format": meta.format,
        "architecture": meta.architecture,
        "os": meta.os,
        "layers": len(meta.layers),
        "upto": img.upto,
    }


def stream_ls_json(img: Image, nodes: Iterable[tuple[int, str]]) -> None:
    """`ls --json`: the header, then one entry per line as the listing goes."""
    from layerscope.present.jsonout import stream_json

    tree = img.tree
    head = {"schema": "layerscope.ls/1", "image": image_json(img), "warnings": img.meta.warnings}
    stream_json(head, "entries", ls_entries(tree, nodes, tree.link_counts()))
