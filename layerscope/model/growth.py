"""Growth: the regular-file bytes a step added, removed and changed, hard-linked content once.

Three numbers, all metadata (no content is read):

  added     bytes of files the step created (a path that held no file before, or held
            something else: a symlink, a directory)
  removed   bytes of files the step took away (a path gone, or now something else)
  modified  the net size change of files that stayed files (a rewrite of the same size
            is 0, whatever its content)

and `net = added - removed + modified`, what the step grew the tree by.

An inode with several names (hard links) counts once: in `added` only when none of its
names was there before (a new link to an old file adds no bytes), in `removed` only when
none of its names survives, in `modified` once however many of its names changed.

Two ways in: `diff_growth` from the nodes a comparison of two trees reported (a stage
against the one before, any change set), and `layer_growths` for every layer of one
merged tree at once from the history the tree keeps (which layer wrote, replaced and
deleted each node), without building a tree per layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from layerscope.model.bloat.waste import Provenance, content_key
from layerscope.model.diff import DEFAULT_COMPARE, diff_trees
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree

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
    delta = 0
    seen: set[int] = set()
    for old, nb in modified:
        old_file, new_file = before.kind[old] == _FILE, after.kind[nb] == _FILE
        if old_file and new_file:
            group = after.link_group.get(nb, -1 - nb) if after.link_group else -1 - nb
            if group not in seen:  # the names of one inode changed together: once
                seen.add(group)
                delta += after.size[nb] - before.size[old]
        elif old_file:
            gone.add(old)
        elif new_file:
            new.add(nb)
    return Growth(_once(after, new, new), _once(before, gone, gone), delta)


def layer_growths(tree: FileTree, provenance: Provenance | None = None) -> list[Growth]:
    """Each layer's growth, from a merged tree of all of them (`tree.layer_count` layers).

    A layer's file nodes are its additions and rewrites (a rewrite of a file by a file is
    a modification, against the version the layers below left); a node a layer hid (a
    whiteout, an opaque directory, a replacement by another type) is its removal. A node
    a layer wrote and hid itself never counts. A tar hard link to a lower layer's file
    adds no bytes (its content is that layer's)."""
    prov = provenance or Provenance(tree)
    count = max(tree.layer_count, 1)
    added = [0] * count
    removed = [0] * count
    modified = [0] * count
    kinds, sizes, layer_of, prev = tree.kind, tree.size, tree.layer, tree.prev
    replaced_by = {old: new for new, old in prev.items()}
    # content keys: what hard links share (the layer holding the bytes, their locator)
    live_keys: set[tuple[int, int]] = set()
    death: dict[int, int] = {}  # dead file node -> the layer that hid it
    for node in range(1, len(tree)):
        if kinds[node] != _FILE:
            continue
        if prov.is_live(node):
            live_keys.add(content_key(tree, node))
        else:
            cause = prov.cause(node)
            death[node] = cause.layer if cause is not None else -1
    # the last layer at which each stored content was still visible under some name
    last_seen: dict[tuple[int, int], int] = {}
    for node, layer in death.items():
        ckey = content_key(tree, node)
        if ckey not in live_keys and last_seen.get(ckey, -2) < layer:
            last_seen[ckey] = layer
    counted_mod: set[tuple[int, int, int]] = set()
    new_files: list[tuple[int, int]] = []  # (layer, node) of files a layer added
    for node in range(1, len(tree)):
        if kinds[node] != _FILE:
            continue
        layer = layer_of[node]
        if not 0 <= layer < count or death.get(node) == layer:
            continue  # not visible at the end of its own layer
        old = prev.get(node)
        while old is not None and layer_of[old] == layer and kinds[old] == _FILE:
            old = prev.get(old)  # the layer wrote the path twice: the first one's base
        if old is not None and kinds[old] == _FILE and layer_of[old] < layer:
            mkey = (layer, *content_key(tree, node))
            if mkey not in counted_mod:
                counted_mod.add(mkey)
                modified[layer] += sizes[node] - sizes[old]
        elif tree.source_layer(node) == layer:
            new_files.append((layer, node))
    counted_added: set[tuple[int, int, int]] = set()
    for layer, node in new_files:
        # a new name of an inode another name of which this layer rewrote adds nothing
        akey = (layer, *content_key(tree, node))
        if akey not in counted_added and akey not in counted_mod:
            counted_added.add(akey)
            added[layer] += sizes[node]
    counted_removed: set[tuple[int, int]] = set()
    for node, dies in death.items():
        layer = layer_of[node]
        if not 0 <= layer < dies < count:
            continue
        # hidden by a later layer: a removal there, unless a file took its path (that
        # layer's modification, counted from the new node's side)
        new = replaced_by.get(node)
        if new is not None and kinds[new] == _FILE and layer_of[new] == dies:
            continue
        key = content_key(tree, node)
        if last_seen.get(key) != dies or key in counted_removed:
            continue  # another name still shows these bytes after that layer
        counted_removed.add(key)
        removed[dies] += sizes[node]
    return [Growth(a, r, m) for a, r, m in zip(added, removed, modified, strict=True)]


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
