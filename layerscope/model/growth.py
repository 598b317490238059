"""Growth: the regular-file bytes a step added, removed and changed, hard-linked content once.

Three numbers, all metadata (no content is read):

  added     bytes of content the step brought: an inode none of whose names was a file
            before (a path that held nothing, or something else: a symlink, a directory)
  removed   bytes of content the step took away: an inode none of whose names is still
            a file after it
  modified  the rest of the change: the net size change of the files that stayed files
            (a rewrite of the same size is 0, whatever its content)

and `net = added - removed + modified`, what the step grew the tree by: exactly the
difference of the two trees' sizes as `du` counts them (an inode once), so `modified` is
that difference less the additions and removals. Without hard links it is the sum of the
size changes of the rewritten files; with them it also takes what a rewrite of one name
of a linked inode does (the old content stays under its other names).

Two ways in: `diff_growth` from the nodes a comparison of two trees reported (a stage
against the one before, any change set), and `layer_growths` for every layer of one
merged tree at once from the history the tree keeps (which layer wrote, replaced and
deleted each node), without building a tree per layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from layerscope.model.bloat.waste import content_key
from layerscope.model.diff import DEFAULT_COMPARE, diff_trees
from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, FileTree

__all__ = ["METADATA_COMPARE", "Growth", "diff_growth", "layer_growths", "tree_growth"]

_FILE = EntryKind.FILE


@dataclass(frozen=True, slots=True)
class Growth:
    added: int = 0
    removed: int = 0  # a positive count of bytes gone
    modified: int = 0  # may be negative (files shrank)

    @property
    def net(self) -> int:
        return self.added - self.removed + self.modified


def _once(tree: FileTree, nodes: Iterable[int], reported: set[int]) -> int:
    """Bytes of the files among `nodes`, an inode once, and not at all when one of its
    live names is outside `reported` (that name keeps the content on the other side)."""
    total = 0
    groups = tree.link_group
    members: dict[int, list[int]] | None = None
    seen: set[int] = set()
    kinds, sizes = tree.kind, tree.size
    for node in nodes:
        if kinds[node] != _FILE:
            continue
        group = groups.get(node) if groups else None
        if group is None:
            total += sizes[node]
            continue
        if group in seen:
            continue
        seen.add(group)
        if members is None:
            members = {}
            for n, g in groups.items():
                members.setdefault(g, []).append(n)
        if any(m not in reported and tree.is_live(m) for m in members.get(group, ())):
            continue
        total += sizes[node]
    return total


def diff_growth(
    before: FileTree,
    after: FileTree,
    added: Iterable[int],
    removed: Iterable[int],
    modified: Iterable[tuple[int, int]],
) -> Growth:
    """Growth from a comparison's nodes: `added` nodes of `after`, `removed` nodes of
    `before`, `modified` (before node, after node) pairs at one path. A pair whose type
    changed counts as a removal of the old file and an addition of the new one."""
    new = set(added)
    gone = set(removed)
    for old, nb in modified:
        old_file, new_file = before.kind[old] == _FILE, after.kind[nb] == _FILE
        if old_file and not new_file:
            gone.add(old)
        elif new_file and not old_file:
            new.add(nb)
    plus, minus = _once(after, new, new), _once(before, gone, gone)
    net = after.total_size() - before.total_size()
    return Growth(plus, minus, net - plus + minus)


def layer_growths(tree: FileTree) -> list[Growth]:
    """Each layer's growth, from a merged tree of all of them (`tree.layer_count` layers),
    by diff_growth's definitions: what the tree as of each layer would give compared
    with the tree as of the layer before.

    Each file node is visible from the layer that wrote it until the layer that hid it
    (a whiteout, an opaque directory, a rewrite, a replacement by another type); a
    content (hard links share one) is visible while any of its names is. The tree's size
    as of each layer follows, hence each layer's net; a content is added by the layer in
    which it became visible unless one of its names there rewrote a file, and removed by
    the layer in which it stopped being visible unless one of its names was rewritten by
    a file there.

    Most files were written once and are still there: they are summed per layer in one
    pass; only the few with a history (rewritten, hidden, hard-linked) take the long way."""
    count = max(tree.layer_count, 1)
    added = [0] * count
    removed = [0] * count
    totals = [0] * (count + 1)  # differences: the tree's size as of each layer
    kinds, sizes, layer_of, prev = tree.kind, tree.size, tree.layer, tree.prev
    files = [m.start() for m in _FILE_BYTE.finditer(kinds, 1)]
    live = _live(tree)
    special = set(prev) | set(tree.link_group) | set(tree.content_layer)
    # a file hidden by an opaque directory or a whiteout and written again later has no
    # `prev` link to the new one: the new one takes the long way too (_hidden_then_written)
    lookup = tree.lookup
    for node in files:
        if node not in live:
            again = lookup(tree.path(node))
            if again is not None and kinds[again] == _FILE:
                special.add(again)
    slow: list[int] = []
    for node in files:
        if node in special or node not in live:
            slow.append(node)
            continue
        layer = layer_of[node]
        if 0 <= layer < count:
            added[layer] += sizes[node]
            totals[layer] += sizes[node]
    if slow:
        _history(tree, slow, live, count, added, removed, totals)
    out = []
    size = before = 0
    for layer in range(count):
        size += totals[layer]
        net = size - before
        before = size
        out.append(Growth(added[layer], removed[layer], net - added[layer] + removed[layer]))
    return out


def _history(
    tree: FileTree,
    slow: list[int],
    live: set[int],
    count: int,
    added: list[int],
    removed: list[int],
    totals: list[int],
) -> None:
    """layer_growths for the files with a history: when each content was visible."""
    kinds, sizes, layer_of, prev = tree.kind, tree.size, tree.layer, tree.prev
    replaced_by = {old: new for new, old in prev.items()}
    hidden = _Hidden(tree, live, replaced_by)
    groups, elsewhere = tree.link_group, tree.content_layer
    # per content (hard links share one): its size and its names' visible spans
    spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
    size_of: dict[tuple[int, int], int] = {}
    rewrote: set[tuple[tuple[int, int], int]] = set()  # a name of it replaced a file then
    rewritten: set[tuple[tuple[int, int], int]] = set()  # a file replaced a name of it then
    # node, its visible span, whether it rewrote a file and was rewritten by one at its end
    visible: list[tuple[int, int, int, bool, bool]] = []
    for node in slow:
        start = layer_of[node]
        if not 0 <= start < count:
            continue
        end = count if node in live else hidden.layer(node)
        if end <= start:
            continue  # hidden by the layer that wrote it (or by an unknown one)
        end = min(end, count)
        old = prev.get(node)
        while old is not None and layer_of[old] == start and kinds[old] == _FILE:
            old = prev.get(old)  # the layer wrote the path twice: the first one's base
        rewrites = old is not None and kinds[old] == _FILE and layer_of[old] < start
        new = replaced_by.get(node)
        rewritten_at_end = new is not None and kinds[new] == _FILE and layer_of[new] == end
        visible.append((node, start, end, rewrites, rewritten_at_end))
    _hidden_then_written(tree, visible, count)
    for node, start, end, rewrites, rewritten_at_end in visible:
        if node not in groups and node not in elsewhere:
            # its own content, one name: its span is the content's
            size = sizes[node]
            totals[start] += size
            totals[end] -= size
            if not rewrites:
                added[start] += size
            if end < count and not rewritten_at_end:
                removed[end] += size
            continue
        key = content_key(tree, node)
        spans.setdefault(key, []).append((start, end))
        size_of[key] = sizes[node]
        if rewrites:
            rewrote.add((key, start))
        if rewritten_at_end:
            rewritten.add((key, end))
    for key, runs in spans.items():
        size = size_of[key]
        for start, end in _merged(runs):
            totals[start] += size
            totals[end] -= size
            if (key, start) not in rewrote:
                added[start] += size
            if end < count and (key, end) not in rewritten:
                removed[end] += size


def _hidden_then_written(
    tree: FileTree, visible: list[tuple[int, int, int, bool, bool]], count: int
) -> None:
    """A layer that hides a file (an opaque directory, a whiteout) and writes the same path
    as a file again rewrote it, as comparing the trees before and after the layer says:
    the tree keeps no `prev` link between the two nodes, so they are paired by path here.
    Marks both in `visible` (in place)."""
    ends: dict[tuple[str, int], int] = {}  # (path, layer that hid it) -> index in visible
    for i, (node, _start, end, _rw, rewritten_at_end) in enumerate(visible):
        if end < count and not rewritten_at_end:
            ends[(tree.path(node), end)] = i
    if not ends:
        return
    layers_hiding = {end for _, end in ends}
    for i, (node, start, end, rewrites, rewritten_at_end) in enumerate(visible):
        if rewrites or start not in layers_hiding:
            continue
        j = ends.pop((tree.path(node), start), None)
        if j is None:
            continue
        visible[i] = (node, start, end, True, rewritten_at_end)
        o_node, o_start, o_end, o_rw, _ = visible[j]
        visible[j] = (o_node, o_start, o_end, o_rw, True)


def _merged(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching [start, end) spans joined."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


_FILE_BYTE = re.compile(bytes([int(_FILE)]))


def _live(tree: FileTree) -> set[int]:
    """Every node reachable from the root (removed nodes are unlinked from their
    parents), without sorting or building any name index."""
    live = {ROOT}
    stack = [ROOT]
    child_ids, kinds, dir_kind = tree.child_ids, tree.kind, EntryKind.DIR
    while stack:
        kids = child_ids(stack.pop())
        live.update(kids)
        stack.extend(k for k in kids if kinds[k] == dir_kind)
    return live


class _Hidden:
    """Which layer hid a node that is no longer in the tree: the layer that deleted or
    replaced the topmost node unlinked above it (as model.bloat.waste.Provenance says)."""

    def __init__(self, tree: FileTree, live: set[int], replaced_by: dict[int, int]) -> None:
        self.tree = tree
        self.live = live
        self.replaced_by = replaced_by
        self.deleted: dict[int, int] = {}
        for d in tree.deletions:
            self.deleted.setdefault(d.node, d.layer)

    def layer(self, node: int) -> int:
        tree = self.tree
        top = node
        while top != ROOT and top not in self.live:
            par = tree.parent[top]
            kids = tree.kids(par)
            if kids is None or kids.get(tree.name[top]) != top:
                break
            top = par
        got = self.deleted.get(top)
        if got is not None:
            return got
        new = self.replaced_by.get(top)
        if new is None:
            return -1
        if tree.kind[new] != EntryKind.DIR:
            return tree.layer[new]
        # a directory's layer column moves with later rewrites; its history says who
        # wrote it first over `top`
        before = list(tree.shadows.get(top, ()))
        if tree.layer[top] >= 0:
            before.append(tree.layer[top])
        history = tree.shadows.get(new, [])
        return history[len(before)] if len(history) > len(before) else tree.layer[new]


# What a metadata-only comparison looks at: everything but the content (a same-size
# rewrite changes no byte count, so growth never needs it).
METADATA_COMPARE = DEFAULT_COMPARE - {"content"}


def tree_growth(before: FileTree, after: FileTree) -> Growth:
    """Growth from `before` to `after` (two images, or two states of one), by a metadata
    comparison of the trees: no content is read."""
    if len(before) == 1:
        return Growth(added=after.total_size())  # nothing before: everything is new
    d = diff_trees(before, after, METADATA_COMPARE)
    return diff_growth(
        before,
        after,
        (n for _, n in d.added),
        (n for _, n in d.removed),
        ((m.old, m.new) for m in d.modified),
    )
