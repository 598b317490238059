"""FileTree: one merged tree stored column-wise.

A node is an int. Hot attributes live in parallel arrays (a few dozen bytes a node, no
per-node object); rare ones (symlink targets, devices, xattrs, hard-link groups,
provenance) live in dicts keyed by node. Nodes removed by a later layer stay in the arrays,
unlinked from their parent, so diffs and waste analyses can still see them.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from layerscope.model import sizes
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.history import Shadows

ROOT = 0


@dataclass(slots=True, frozen=True)
class Deletion:
    """Layer `layer` made node `node` (and its subtree) invisible, for `reason`:
    "whiteout" (.wh.NAME or overlayfs 0/0), "opaque" (opaque directory),
    "replaced" (a different type took its path), "implicit" (a parent path was needed)."""

    layer: int
    node: int
    reason: str


class FileTree:
    """The merged tree. Build it with model.layers.apply_layer; read it here."""

    def __init__(self, cols: LayerColumns | None = None) -> None:
        """An empty tree (the root only), or the tree of `cols`' columns, taken over."""
        if cols is None:
            cols = LayerColumns()  # row 0: the root
        self.parent, self.name, self.kind = cols.parent, cols.name, cols.kind
        self.mode, self.uid, self.gid = cols.mode, cols.uid, cols.gid
        self.size, self.mtime, self.loc = cols.size, cols.mtime, cols.loc
        self.layer = array("h", [-1])
        self._children: dict[int, dict[str, int]] = {ROOT: {}}
        # Directories whose name index is not built yet (a tree decoded from the cache):
        # directory -> (start, count) of its child ids in _kid_ids. kids() builds one
        # directory's dict on first use; `children` builds them all.
        self._pending: dict[int, tuple[int, int]] | None = None
        self._kid_ids: array[int] | None = None
        self.target: dict[int, str] = {}
        self.rdev: dict[int, tuple[int, int]] = {}
        self.xattrs: dict[int, dict[str, bytes]] = {}
        # hard-link group of a node (nodes sharing a group are one inode)
        self.link_group: dict[int, int] = {}
        # content lives in another layer's blob (a hard link to a lower layer's file)
        self.content_layer: dict[int, int] = {}
        # provenance: earlier layers that wrote this path, oldest first (shared chains:
        # a rewrite costs one cell, never a copy of the path's history)
        self.shadows = Shadows()
        # the node this one replaced at the same path (older version)
        self.prev: dict[int, int] = {}
        self.deletions: list[Deletion] = []
        self.layer_count = 0
        self._rolled: dict[int, int] | None = None
        self._lazy_work = 0  # nodes rolled_size walked without computing every directory

    def __len__(self) -> int:
        return len(self.name)

    # -- directory indexes ------------------------------------------------------------------

    @property
    def children(self) -> dict[int, dict[str, int]]:
        """directory node -> {name: child node}, every directory (removed ones included).
        Building or changing the tree goes through this; readers of a few directories
        should prefer kids(), which leaves the others unbuilt."""
        if self._pending is not None:
            # in the order the directories were encoded, whichever were built already
            built = self._children
            self._children = {d: built.get(d) or self._build(d) for d in self._pending}
            self._pending = self._kid_ids = None
        return self._children

    @children.setter
    def children(self, value: dict[int, dict[str, int]]) -> None:
        self._children = value
        self._pending = self._kid_ids = None

    def defer_children(self, spans: dict[int, tuple[int, int]], kid_ids: array[int]) -> None:
        """Index directories lazily: directory -> (start, count) of its children's ids in
        kid_ids, in the order their dicts are to have (model.tree_codec, on decode)."""
        self._children = {}
        self._pending = spans
        self._kid_ids = kid_ids

    def pack_children(self) -> None:
        """Keep every directory's children as a span of one id array (4 bytes a child)
        instead of its name index (~45 bytes a child: a dict slot and an int); kids()
        builds an index again when its directory is used."""
        if self._pending is not None:
            return
        ids: array[int] = array("i")
        spans: dict[int, tuple[int, int]] = {}
        for directory, kids in self._children.items():
            spans[directory] = (len(ids), len(kids))
            ids.extend(kids.values())
        self.defer_children(spans, ids)

    def child_spans(self) -> tuple[array[int], array[int], array[int]]:
        """(directories, their child counts, every child id in their order): the
        directory indexes as three columns, without building any."""
        if self._pending is not None and self._kid_ids is not None:
            spans = self._pending
            return array("i", spans), array("I", [c for _, c in spans.values()]), self._kid_ids
        kids: array[int] = array("i")
        for d in self._children.values():
            kids.extend(d.values())
        dirs = array("i", self._children)
        return dirs, array("I", map(len, self._children.values())), kids

    def kids(self, node: int) -> dict[str, int] | None:
        """A directory's {name: child node} (None for anything else), built on first use."""
        got = self._children.get(node)
        if got is None and self._pending is not None and node in self._pending:
            got = self._children[node] = self._build(node)
        return got

    def _build(self, node: int) -> dict[str, int]:
        assert self._pending is not None and self._kid_ids is not None
        start, count = self._pending[node]
        ids = self._kid_ids[start : start + count]
        return dict(zip(map(self.name.__getitem__, ids), ids, strict=True))

    def child_ids(self, node: int) -> Collection[int]:
        """A directory's child nodes, without building its name index."""
        got = self._children.get(node)
        if got is not None:
            return got.values()
        if self._pending is not None and self._kid_ids is not None:
            span = self._pending.get(node)
            if span is not None:
                return self._kid_ids[span[0] : span[0] + span[1]]
        return ()

    def dir_nodes(self) -> list[int]:
        """Every directory node, removed ones included."""
        return list(self._children if self._pending is None else self._pending)

    @classmethod
    def adopt(cls, cols: LayerColumns, layer: int) -> FileTree:
        """The tree of one first layer listed column-wise. The columns are taken over, not
        copied: their rows become the nodes, so the caller must not use `cols` again."""
        tree = cls(cols)
        layers = array("h", [layer]) * len(cols)
        layers[ROOT] = -1
        tree.layer = layers
        names = cols.name
        children: dict[int, dict[str, int]] = {}
        for directory, first, end in cols.spans:
            kids = dict(zip(names[first:end], range(first, end), strict=True))
            if len(kids) != end - first:
                tree._drop_repeated_names(kids, first, end, layer)
            children[directory] = kids
        for directory in cols.dirs:
            if directory not in children:
                children[directory] = {}
        tree.children = children
        tree.target, tree.rdev, tree.xattrs = cols.target, cols.rdev, cols.xattrs
        first_of: dict[int, int] = {}
        groups = tree.link_group
        for row, ino in cols.ino.items():
            first = first_of.setdefault(ino, row)
            if first != row:
                groups[first] = first
                groups[row] = first
        tree.layer_count = layer + 1
        return tree

    def _drop_repeated_names(self, kids: dict[str, int], first: int, end: int, layer: int) -> None:
        # A corrupt listing naming one entry twice: the last one wins, as when a layer
        # writes a path twice, and the others are recorded as replaced by it.
        for row in range(first, end):
            winner = kids[self.name[row]]
            if winner != row:
                self.deletions.append(Deletion(layer, row, "replaced"))
                self.prev.setdefault(winner, row)

    # -- building (used by model.layers) -------------------------------------------------

    def new_node(self, parent: int, name: str, e: Entry, layer: int) -> int:
        node = len(self.name)
        self.parent.append(parent)
        self.name.append(name)
        self.kind.append(e.kind)
        self.mode.append(e.mode & 0o7777)
        self.uid.append(e.uid)
        self.gid.append(e.gid)
        self.size.append(e.size if e.kind != EntryKind.DIR else 0)
        self.mtime.append(e.mtime)
        self.layer.append(layer)
        self.loc.append(e.loc)
        if e.kind == EntryKind.DIR:
            self.children[node] = {}
        if e.target is not None:
            self.target[node] = e.target
        if e.rdev is not None:
            self.rdev[node] = e.rdev
        if e.xattrs:
            self.xattrs[node] = dict(e.xattrs)
        self.children[parent][name] = node
        self._rolled = None
        return node

    def set_attrs(self, node: int, e: Entry, layer: int) -> None:
        """Rewrite a directory's attributes in place (its children stay)."""
        self.mode[node] = e.mode & 0o7777
        self.uid[node] = e.uid
        self.gid[node] = e.gid
        self.mtime[node] = e.mtime
        self.layer[node] = layer
        if e.xattrs:
            self.xattrs[node] = dict(e.xattrs)
        else:
            self.xattrs.pop(node, None)

    def invalidate(self) -> None:
        """Forget derived data (rolled-up sizes) after the tree changed."""
        self._rolled = None

    def unlink(self, node: int) -> None:
        del self.children[self.parent[node]][self.name[node]]
        self._rolled = None

    # -- reading ----------------------------------------------------------------------------

    def child(self, node: int, name: str) -> int | None:
        kids = self.kids(node)
        return None if kids is None else kids.get(name)

    def lookup(self, path: str) -> int | None:
        """The live node at an absolute path, resolved literally (never through symlinks)."""
        node = ROOT
        for part in path.split("/"):
            if not part or part == ".":
                continue
            kids = self.kids(node)
            if kids is None:
                return None
            nxt = kids.get(part)
            if nxt is None:
                return None
            node = nxt
        return node

    def is_dir(self, node: int) -> bool:
        return self.kind[node] == EntryKind.DIR

    def path(self, node: int) -> str:
        parts = []
        while node != ROOT:
            parts.append(self.name[node])
            node = self.parent[node]
        return "/" + "/".join(reversed(parts))

    def is_live(self, node: int) -> bool:
        while node != ROOT:
            par = self.parent[node]
            kids = self.kids(par)
            if kids is None or kids.get(self.name[node]) != node:
                return False
            node = par
        return True

    def sorted_children(self, node: int) -> list[int]:
        kids = self.kids(node)
        if not kids:
            return []
        return [kids[k] for k in sorted(kids)]

    def walk(self, node: int = ROOT, include_self: bool = False) -> Iterator[int]:
        """Depth-first, children in name order: paths come out sorted component-wise."""
        if include_self:
            yield node
        kinds, dir_kind = self.kind, EntryKind.DIR
        stack = [iter(self.sorted_children(node))]
        while stack:
            # a for loop resumes the directory's iterator where a subdirectory interrupted it
            for nxt in stack[-1]:
                yield nxt
                if kinds[nxt] == dir_kind:
                    stack.append(iter(self.sorted_children(nxt)))
                    break
            else:
                stack.pop()

    def walk_paths(self, node: int = ROOT) -> Iterator[tuple[int, str]]:
        """walk() with each node's absolute path, built incrementally (no parent chasing)."""
        base = "" if node == ROOT else self.path(node)
        names, kinds, dir_kind = self.name, self.kind, EntryKind.DIR
        stack: list[tuple[str, Iterator[int]]] = [(base, iter(self.sorted_children(node)))]
        while stack:
            prefix, it = stack[-1]
            for nxt in it:
                path = f"{prefix}/{names[nxt]}"
                yield nxt, path
                if kinds[nxt] == dir_kind:
                    stack.append((path, iter(self.sorted_children(nxt))))
                    break
            else:
                stack.pop()

    def entry(self, node: int, path: str | None = None) -> Entry:
        return Entry(
            path=self.path(node) if path is None else path,
            kind=EntryKind(self.kind[node]),
            mode=self.mode[node],
            uid=self.uid[node],
            gid=self.gid[node],
            size=self.size[node],
            mtime=self.mtime[node],
            target=self.target.get(node),
            rdev=self.rdev.get(node),
            xattrs=self.xattrs.get(node),
            ino=self.link_group.get(node, 0),
            loc=self.loc[node],
        )

    def source_layer(self, node: int) -> int:
        """The layer whose blob holds this node's content."""
        return self.content_layer.get(node, self.layer[node])

    def link_counts(self) -> dict[int, int]:
        """Live links per hard-link group."""
        return sizes.link_counts(self)

    def roll_up(self) -> None:
        """Compute every directory's rolled-up size now (a worker does, before a view
        that shows directory sizes asks; rolled_size(ROOT) alone takes a shortcut)."""
        if self._rolled is None:
            self._rolled = sizes.roll_up(self)

    def rolled_size(self, node: int) -> int:
        """Regular-file bytes under a directory (its own size for a non-directory), as
        `du -s` counts them: a hard-linked inode once in each directory holding it.

        Every directory's size is computed at once and kept (until the tree changes)
        unless only a few are asked for: a diff reporting a handful of directories walks
        just their subtrees, within a budget of 1/32 of the tree (what a full listing
        wastes before it computes every directory at once)."""
        if self.kind[node] != EntryKind.DIR:
            return self.size[node]
        if self._rolled is None:
            if node == ROOT:
                whole = sizes.live_total(self)
                if whole is not None:
                    return whole
            else:
                budget = len(self) // 32 - self._lazy_work
                found = sizes.subtree_total(self, node, budget) if budget > 0 else None
                if found is not None:
                    self._lazy_work += found[1]
                    return found[0]
            self._rolled = sizes.roll_up(self)
        return self._rolled.get(node, 0)

    def dir_sizes(self) -> dict[int, int]:
        """rolled_size() of every directory at once (a full listing needs them all);
        a directory holding no regular file may be missing (its size is 0)."""
        if self._rolled is None:
            self._rolled = sizes.roll_up(self)
        return self._rolled

    def total_size(self) -> int:
        return self.rolled_size(ROOT)

    def count(self) -> int:
        """Live entries, root excluded."""
        return sum(1 for _ in self.walk())
