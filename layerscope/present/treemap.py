"""The treemap of a final tree by bytes: which directories and files hold the image's bytes,
and which layer (or stage) wrote each, laid out in Python (squarify) for any renderer.

Sizes: regular-file bytes with hard-linked content once (at the first of its names found),
so the whole map adds up to the tree's `final_bytes`. A directory's colour is the
owner (layer or stage) that wrote most of the bytes under it.

Views: a view is one directory's children laid out in a W x H box. Views are made for the
largest directories first, until a budget of rectangles is spent: at 300,000 entries the
map stays a few hundred kilobytes, and what it leaves out is summarised ("N smaller
entries") with their count and bytes. A directory with a view can be drilled into; the
others are leaves. Shown (`compose`), a view also draws inside each large child directory
that has a view of its own that view scaled down, one level deep.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import squarify

from layerscope.engine.browse.build import live_nodes
from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, FileTree
from layerscope.present.text import clean

__all__ = ["Treemap", "TreemapNode", "View", "build_treemap", "compose"]

W, H = 1200, 640
HEADER = 15  # a nested directory's label strip
PAD = 2
MAX_KIDS = 60  # rectangles per directory in its own view (the rest: "other")
MAX_NESTED_KIDS = 16  # drawn inside a child directory of a view
MIN_NESTED_SIDE = 3  # px: smaller nested rectangles are left out (the frame shows)
MIN_SHARE = 0.0008  # smaller children (of the box's bytes) are summarised into "other"
NEST_MIN_AREA = 12000  # px^2: a directory this big in a view shows its children inside
MAX_RECTS = 6000  # all views together
MAX_VIEWS = 400

Owner = Callable[[int], int]


@dataclass(slots=True)
class TreemapNode:
    """A rectangle's subject: an entry, or the smaller entries of a directory ("other")."""

    name: str  # cleaned for display
    parent: int  # index of the parent node (-1 for the root)
    bytes: int
    owner: int  # layer/stage (a directory, the rest: the one with most bytes; -1 none)
    kind: str  # "dir", "file", "other"
    count: int  # entries under it (a directory), summarised ones ("other"), 1 for a file
    view: int = -1  # index of its view, when it can be drilled into


@dataclass(slots=True)
class View:
    node: int  # the directory this view shows
    # (node index, x, y, w, h, depth): depth 0 are the directory's children
    rects: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class Treemap:
    nodes: list[TreemapNode]
    views: list[View]
    total: int  # bytes of the whole tree (== final_bytes)
    entries: int  # live entries of the tree
    shown: int  # entries that have a node of their own
    width: int = W
    height: int = H

    def path(self, index: int) -> str:
        parts: list[str] = []
        while index > 0:
            parts.append(self.nodes[index].name)
            index = self.nodes[index].parent
        return "/" + "/".join(reversed(parts))


@dataclass(slots=True)
class _Sums:
    """Per node (lists indexed by node): bytes (hard links once) and entries under it;
    per directory: bytes by owner."""

    bytes: list[int]
    count: list[int]
    owners: dict[int, dict[int, int]]


def _sums(tree: FileTree, owner: Owner) -> _Sums:
    total = [0] * len(tree)
    count = [0] * len(tree)
    owners: dict[int, dict[int, int]] = {ROOT: {}}
    seen: set[int] = set()
    groups = tree.link_group
    kinds, size, parent = tree.kind, tree.size, tree.parent
    file_kind, dir_kind = EntryKind.FILE, EntryKind.DIR
    dirs: list[int] = []
    for node in live_nodes(tree):  # parents before their children
        kind = kinds[node]
        p = parent[node]
        count[p] += 1
        if kind == dir_kind:
            dirs.append(node)
            owners[node] = {}
            continue
        if kind != file_kind:
            continue
        group = groups.get(node) if groups else None
        if group is not None:
            if group in seen:
                continue  # its content is counted at its first name
            seen.add(group)
        n = size[node]
        if n:
            total[node] = n
            total[p] += n
            by = owners[p]
            o = owner(node)
            by[o] = by.get(o, 0) + n
    for d in reversed(dirs):  # children's totals into their parents, deepest first
        p = parent[d]
        total[p] += total[d]
        count[p] += count[d]
        by = owners[p]
        for o, n in owners[d].items():
            by[o] = by.get(o, 0) + n
    return _Sums(total, count, owners)


class _Builder:
    def __init__(self, tree: FileTree, sums: _Sums, owner: Owner) -> None:
        self.tree = tree
        self.owner = owner
        self.sums = sums
        self.nodes: list[TreemapNode] = []
        self.index: dict[int, int] = {}  # tree node -> node index
        self.tree_of: list[int] = []  # node index -> tree node (-1: "other")
        self.views: list[View] = []
        self.rects = 0
        self.queue: list[tuple[int, int, int]] = []  # (-bytes, tree node, node index)

    def node_of(self, tree_node: int, parent: int) -> int:
        got = self.index.get(tree_node)
        if got is not None:
            return got
        tree, s = self.tree, self.sums
        is_dir = tree.kind[tree_node] == EntryKind.DIR
        if is_dir:
            by = s.owners.get(tree_node) or {}
            owner = max(by, key=lambda o: (by[o], -o)) if by else -1
        else:
            owner = self.owner(tree_node)
        name = "/" if tree_node == ROOT else clean(tree.name[tree_node])
        self.nodes.append(
            TreemapNode(
                name,
                parent,
                s.bytes[tree_node],
                owner,
                "dir" if is_dir else "file",
                s.count[tree_node] if is_dir else 1,
            )
        )
        self.index[tree_node] = len(self.nodes) - 1
        self.tree_of.append(tree_node)
        if is_dir and tree_node != ROOT:
            heapq.heappush(self.queue, (-self.nodes[-1].bytes, tree_node, len(self.nodes) - 1))
        return len(self.nodes) - 1

    def kids(self, tree_node: int, parent: int, limit: int) -> list[int]:
        """Node indexes of a directory's largest children, plus one "other" node."""
        tree, s = self.tree, self.sums
        sizes = s.bytes
        floor = sizes[tree_node] * MIN_SHARE
        ids = sorted(tree.child_ids(tree_node), key=lambda k: (-sizes[k], tree.name[k]))
        shown = [k for k in ids[:limit] if sizes[k] > floor]
        rest = ids[len(shown) :]
        out = [self.node_of(k, parent) for k in shown]
        if rest:
            rest_bytes = sum(sizes[k] for k in rest)
            rest_count = sum(s.count[k] + 1 for k in rest)
            what = f"{len(rest):,} smaller entr{'y' if len(rest) == 1 else 'ies'}"
            owner = self._largest_owner(rest)
            self.nodes.append(TreemapNode(what, parent, rest_bytes, owner, "other", rest_count))
            self.tree_of.append(-1)
            out.append(len(self.nodes) - 1)
        return out

    def _largest_owner(self, nodes: list[int]) -> int:
        """The owner that wrote most of the bytes of `nodes` (-1: none has bytes)."""
        by: dict[int, int] = {}
        sizes, kinds, dir_kind = self.sums.bytes, self.tree.kind, EntryKind.DIR
        for k in nodes:
            if not sizes[k]:
                continue
            if kinds[k] == dir_kind:
                for o, n in self.sums.owners.get(k, {}).items():
                    by[o] = by.get(o, 0) + n
            else:
                o = self.owner(k)
                by[o] = by.get(o, 0) + sizes[k]
        return max(by, key=lambda o: (by[o], -o)) if by else -1

    def view(self, tree_node: int, index: int) -> None:
        """The directory's own children laid out in the whole box."""
        view = View(index)
        self.nodes[index].view = len(self.views)
        self.views.append(view)
        kids = [k for k in self.kids(tree_node, index, MAX_KIDS) if self.nodes[k].bytes > 0]
        if not kids:
            return
        sizes = [self.nodes[k].bytes for k in kids]
        order = sorted(range(len(kids)), key=lambda i: -sizes[i])
        norm = squarify.normalize_sizes([sizes[i] for i in order], W, H)
        for i, r in zip(order, squarify.squarify(norm, 0, 0, W, H), strict=True):
            x, y, w, h = (round(r[k]) for k in ("x", "y", "dx", "dy"))
            if w >= 1 and h >= 1:
                view.rects.append((kids[i], x, y, w, h, 0))
        self.rects += len(view.rects)


def compose(tm: Treemap, index: int) -> list[tuple[int, int, int, int, int, int]]:
    """What a view shows: the directory's children (depth 0) and, inside each child
    directory drawn large enough that has a view of its own, that view's largest
    rectangles scaled into it below a header strip (depth 1). Scaling keeps areas in
    proportion. The report's script composes the other views the same way."""
    out = list(tm.views[index].rects)
    for n, x, y, w, h, _ in tm.views[index].rects:
        sub = tm.nodes[n].view
        if sub < 0 or w * h < NEST_MIN_AREA or h <= HEADER + 2 * PAD:
            continue
        ix, iy, iw, ih = x + PAD, y + HEADER, w - 2 * PAD, h - HEADER - PAD
        sx, sy = iw / tm.width, ih / tm.height
        shown = 0
        for k, kx, ky, kw, kh, _ in tm.views[sub].rects:
            rw, rh = round(kw * sx), round(kh * sy)
            if rw < MIN_NESTED_SIDE or rh < MIN_NESTED_SIDE:
                continue
            out.append((k, round(ix + kx * sx), round(iy + ky * sy), rw, rh, 1))
            shown += 1
            if shown == MAX_NESTED_KIDS:
                break
    return out


def build_treemap(tree: FileTree, owner: Owner) -> Treemap:
    """The treemap of `tree`'s live entries; `owner(node)` names the layer or stage that
    wrote a file (a directory's colour is its largest owner's)."""
    sums = _sums(tree, owner)
    b = _Builder(tree, sums, owner)
    root = b.node_of(ROOT, -1)
    b.view(ROOT, root)
    while b.queue and b.rects < MAX_RECTS and len(b.views) < MAX_VIEWS:
        neg, tree_node, index = heapq.heappop(b.queue)
        if -neg <= 0 or b.nodes[index].view >= 0 or b.nodes[index].count == 0:
            continue
        b.view(tree_node, index)
    shown = sum(1 for n in b.nodes[1:] if n.kind != "other")
    return Treemap(b.nodes, b.views, sums.bytes[ROOT], sums.count[ROOT], shown)
