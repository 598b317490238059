"""Rolled-up sizes and live hard-link counts of a FileTree.

A directory's size is the regular-file bytes under it as `du -s` counts them: an inode with
several hard links counts once in every directory holding one or more of its live links,
so a directory's size does not depend on where else its files are linked from.

Three ways to the same numbers, chosen by what the caller needs: every directory at once
(roll_up: one C-level sum per directory, then a correction per linked inode), one
directory (subtree_total: a walk of its subtree, for a diff that reports a few), and the
whole tree when nothing was ever removed (live_total: one sum over a column).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from itertools import repeat
from typing import TYPE_CHECKING

from layerscope.model.entry import Entry, EntryKind

if TYPE_CHECKING:
    from layerscope.model.tree import FileTree

ROOT = 0
_NOT_FILE = re.compile(rb"[^\x00]")  # in the kind column: every kind but FILE (0)


class LayerTally:
    """What one layer stores, as its raw entries say: `entries` (every entry, whiteouts
    included) and `bytes`, its regular files' content with hard-linked content once (a tar
    hard link adds nothing; entries sharing an inode identity count once). The one
    definition of a layer's bytes that inspect, the layer table and diff totals use."""

    __slots__ = ("_inodes", "bytes", "entries")

    def __init__(self) -> None:
        self.entries = 0
        self.bytes = 0
        self._inodes: set[int] = set()

    def add(self, e: Entry) -> None:
        self.entries += 1
        if e.kind == EntryKind.FILE and e.hardlink is None:
            if e.ino:
                if e.ino in self._inodes:
                    return
                self._inodes.add(e.ino)
            self.bytes += e.size


def file_sizes(tree: FileTree) -> array:  # type: ignore[type-arg]
    """The size column with 0 for everything but regular files (symlinks have sizes)."""
    sizes = array("q", tree.size)
    for found in _NOT_FILE.finditer(tree.kind):
        sizes[found.start()] = 0
    return sizes


def file_bytes(tree: FileTree, nodes: Iterable[int]) -> int:
    """Regular-file bytes of `nodes` (added, removed...), a hard-linked inode once however
    many of its names are among them: the one definition every change total uses."""
    total = 0
    seen: set[int] = set()
    kinds, sizes, groups = tree.kind, tree.size, tree.link_group
    for node in nodes:
        if kinds[node] != EntryKind.FILE:
            continue
        group = groups.get(node) if groups else None
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        total += sizes[node]
    return total


def tree_tally(tree: FileTree) -> LayerTally:
    """The tally of a tree built from one layer alone (every node is one of its entries)."""
    tally = LayerTally()
    tally.entries = len(tree) - 1
    sizes = file_sizes(tree)
    total = sum(sizes)
    seen: set[int] = set()
    for node, group in tree.link_group.items():  # a linked inode's bytes count once
        if group in seen:
            total -= sizes[node]
        else:
            seen.add(group)
    tally.bytes = total
    return tally


class _Liveness:
    """Whether a node is still linked into the tree, and its directories up to the root;
    memoised per directory, since hard links cluster in a few."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.chains: dict[int, tuple[int, ...] | None] = {ROOT: (ROOT,)}

    def linked(self, node: int) -> bool:
        tree = self.tree
        kids = tree.kids(tree.parent[node])
        return kids is not None and kids.get(tree.name[node]) == node

    def dirs_above(self, node: int) -> tuple[int, ...] | None:
        """The directories from node's parent up to the root, or None if node is not live."""
        if node == ROOT:
            return ()
        if not self.linked(node):
            return None
        return self._chain(self.tree.parent[node])

    def _chain(self, d: int) -> tuple[int, ...] | None:
        chains = self.chains
        pending = []
        # walk up to the first directory already known, then fill in on the way back
        while d not in chains:
            if not self.linked(d):
                chains[d] = None  # and so is everything below it
                break
            pending.append(d)
            d = self.tree.parent[d]
        known = chains[d]
        for p in reversed(pending):
            known = None if known is None else (p, *known)
            chains[p] = known
        return known


def link_counts(tree: FileTree) -> dict[int, int]:
    """Live links per hard-link group."""
    live = _Liveness(tree)
    counts: dict[int, int] = {}
    for node, group in tree.link_group.items():
        if live.dirs_above(node) is not None:
            counts[group] = counts.get(group, 0) + 1
    return counts


class LazyLinkCounts(dict[int, int]):
    """link_counts() for a few groups: each group's live links are counted when it is
    first looked up with [] (a diff reports a few thousand entries of a large tree)."""

    def __init__(self, tree: FileTree) -> None:
        super().__init__()
        self.tree = tree
        self.live = _Liveness(tree)
        self.members: dict[int, list[int]] | None = None

    def __missing__(self, group: int) -> int:
        if self.members is None:
            self.members = {}
            for node, g in self.tree.link_group.items():
                self.members.setdefault(g, []).append(node)
        alive = self.live.dirs_above
        count = sum(1 for node in self.members.get(group, ()) if alive(node) is not None)
        self[group] = count
        return count


def roll_up(tree: FileTree) -> dict[int, int]:
    """Every directory's size (removed directories included, for diffs of what they held)."""
    # A child always has a larger id than its parent (nodes are appended as they are
    # created, and a replaced path gets a new node), so visiting directories from the
    # highest id down completes every subdirectory's total before its parent pulls it in.
    # Child ids are read without building directories' name indexes.
    own = file_sizes(tree).__getitem__
    totals: dict[int, int] = {}
    sub = totals.get
    child_ids = tree.child_ids
    zeros = repeat(0)
    for node in sorted(tree.dir_nodes(), reverse=True):
        kids = child_ids(node)
        totals[node] = sum(map(own, kids)) + sum(map(sub, kids, zeros))
    if tree.link_group:
        _count_links_once(tree, totals)
    return totals


def _count_links_once(tree: FileTree, totals: dict[int, int]) -> None:
    # The sums above counted an inode once per link: in every directory holding two or
    # more of its live links, take the extra ones out.
    members: dict[int, list[int]] = {}
    file_kind = EntryKind.FILE
    for node, group in tree.link_group.items():
        if tree.kind[node] == file_kind:
            members.setdefault(group, []).append(node)
    live = _Liveness(tree)
    for nodes in members.values():
        if len(nodes) < 2:
            continue
        below: dict[int, int] = {}
        size = 0
        for node in nodes:
            dirs = live.dirs_above(node)
            if dirs is None:
                continue
            size = tree.size[node]  # the links of one inode share its size
            for d in dirs:
                below[d] = below.get(d, 0) + 1
        for d, links in below.items():
            if links > 1:
                totals[d] -= (links - 1) * size


def subtree_total(tree: FileTree, top: int, budget: int) -> tuple[int, int] | None:
    """(top's size, nodes visited), or None once more than `budget` nodes were visited."""
    kinds, sizes, child_ids, groups = tree.kind, tree.size, tree.child_ids, tree.link_group
    dir_kind, file_kind = EntryKind.DIR, EntryKind.FILE
    total = work = 0
    seen: set[int] = set()
    stack = [top]
    while stack:
        kids = child_ids(stack.pop())
        work += len(kids)
        if work > budget:
            return None
        for kid in kids:
            kind = kinds[kid]
            if kind == file_kind:
                group = groups.get(kid) if groups else None
                if group is not None:
                    if group in seen:
                        continue
                    seen.add(group)
                total += sizes[kid]
            elif kind == dir_kind:
                stack.append(kid)
    return total, work


def live_total(tree: FileTree) -> int | None:
    """The root's size from one sum over the column, when every node is live (nothing was
    ever unlinked: no deletion and no replacement recorded); None otherwise."""
    if tree.deletions or tree.prev:
        return None
    total: int = sum(file_sizes(tree))
    per_group: dict[int, list[int]] = {}
    file_kind = EntryKind.FILE
    for node, group in tree.link_group.items():
        if tree.kind[node] == file_kind:
            per_group.setdefault(group, []).append(tree.size[node])
    for sizes in per_group.values():
        total -= sum(sizes[1:])
    return total
