"""The biggest files and directories: in the final tree, and per layer (what each layer
stored, whether or not a later layer hid it)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from layerscope.model.bloat.waste import PathCache, content_key
from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, FileTree


@dataclass(slots=True, frozen=True)
class Sized:
    path: str
    size: int
    layer: int
    visible: bool = True


@dataclass(slots=True)
class Largest:
    files: list[Sized]
    dirs: list[Sized]
    per_layer: list[list[Sized]]  # index = layer


def largest(
    tree: FileTree, top: int = 20, per_layer: int = 5, live: set[int] | None = None
) -> Largest:
    if live is None:
        live = {ROOT, *tree.walk()}
    path_of = PathCache(tree)
    files: list[tuple[int, int, int]] = []  # (size, node, layer)
    dirs: list[tuple[int, int, int]] = []
    live_keys: set[tuple[int, int]] = set()
    for node in live:
        kind = tree.kind[node]
        if node == ROOT:
            continue
        if kind == EntryKind.FILE:
            live_keys.add(content_key(tree, node))
            files.append((tree.size[node], node, tree.source_layer(node)))
        elif kind == EntryKind.DIR:
            dirs.append((tree.rolled_size(node), node, tree.layer[node]))
    by_layer: list[list[tuple[int, int, int]]] = [[] for _ in range(tree.layer_count)]
    stored: set[tuple[int, int]] = set()
    for node in range(1, len(tree)):
        if tree.kind[node] != EntryKind.FILE or tree.size[node] == 0:
            continue
        key = content_key(tree, node)
        layer = tree.source_layer(node)
        if key in stored or not 0 <= layer < len(by_layer):
            continue  # bytes stored once: a hard link is not another copy
        stored.add(key)
        by_layer[layer].append((tree.size[node], node, layer))

    def top_n(rows: list[tuple[int, int, int]], n: int) -> list[Sized]:
        # Empty files and directories are never "largest"; paths are made only for the
        # winners: of the rows tied at the cut, the n smallest paths (a million empty or
        # equal-sized files made a million paths and sorted them)
        rows = [r for r in rows if r[0] > 0]
        if n <= 0:
            return []
        if len(rows) > n:
            cut = heapq.nlargest(n, rows)[-1][0]
            above = [r for r in rows if r[0] > cut]
            tied = (r for r in rows if r[0] == cut)
            rows = above + heapq.nsmallest(n - len(above), tied, key=lambda r: path_of(r[1]))
        out = [
            Sized(
                path_of(node),
                size,
                layer,
                tree.kind[node] != EntryKind.FILE or content_key(tree, node) in live_keys,
            )
            for size, node, layer in rows
        ]
        out.sort(key=lambda r: (-r.size, r.path))
        return out

    return Largest(
        files=top_n(files, top),
        dirs=top_n(dirs, top),
        per_layer=[top_n(rows, per_layer) for rows in by_layer],
    )
