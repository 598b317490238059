"""Honest reclaimable bytes: content stored in a layer that the final tree never shows.

Every regular file's bytes live in one layer's blob (a hard link's in the layer that holds
its target). Those bytes are reclaimable when no live path shows them any more, because:

  whiteout          a `.wh.` entry (or an overlayfs 0/0 device) deleted it or a parent
  opaque            an opaque directory hid it
  shadowed          a later layer wrote the same path with other content
  attribute-only    a later layer wrote the same content again to change mode/owner/xattrs
  unchanged-rewrite a later layer wrote the same content and attributes again
  replaced          something of another type took its path (or a parent's)
  implicit          a later layer needed its path as a directory

Each stored copy is counted once, charged to the layer that wrote it and to the layer that
hid it. Whether a same-size rewrite kept its content is asked of a caller-supplied test
(hashing is I/O); without one it counts as "shadowed".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from layerscope.model.entry import EntryKind
from layerscope.model.tree import ROOT, Deletion, FileTree

SameContent = Callable[[int, int], "bool | None"]

REASONS = (
    "whiteout",
    "opaque",
    "shadowed",
    "attribute-only",
    "unchanged-rewrite",
    "replaced",
    "implicit",
)


@dataclass(slots=True, frozen=True)
class Cause:
    """Why a node is not in the final tree: which layer hid it, how, and the topmost
    removed node (the node itself or a removed parent directory)."""

    layer: int
    reason: str
    top: int


@dataclass(slots=True, frozen=True)
class WasteItem:
    path: str
    node: int
    size: int
    layer: int  # the layer whose blob stores the bytes
    hidden_by: int  # the layer that made them invisible
    reason: str


@dataclass(slots=True)
class WasteReport:
    items: list[WasteItem]  # largest first
    total: int
    written_by_layer: list[int]  # reclaimable bytes each layer stored
    hidden_by_layer: list[int]  # reclaimable bytes each layer hid
    by_reason: dict[str, int] = field(default_factory=dict)


def content_key(tree: FileTree, node: int) -> tuple[int, int]:
    """Identity of stored content: (layer holding the bytes, locator). Hard links share it."""
    loc = tree.loc[node]
    if loc < 0:
        return (-2, node)  # no locator: its own identity
    return (tree.source_layer(node), loc)


class PathCache:
    """tree.path() with directories' paths remembered: paths of many files of one tree
    cost one dictionary lookup each instead of a walk to the root."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self._dirs: dict[int, str] = {ROOT: ""}

    def __call__(self, node: int) -> str:
        if node == ROOT:
            return "/"
        return self._dir(self.tree.parent[node]) + "/" + self.tree.name[node]

    def _dir(self, node: int) -> str:
        chain = []
        while node not in self._dirs:
            chain.append(node)
            node = self.tree.parent[node]
        path = self._dirs[node]
        for n in reversed(chain):
            path = self._dirs[n] = path + "/" + self.tree.name[n]
        return path


class Provenance:
    """Which nodes are live, and why the others are not. Build once per tree."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.live: set[int] = {ROOT, *tree.walk()}
        self._deleted: dict[int, Deletion] = {}
        for d in tree.deletions:
            self._deleted.setdefault(d.node, d)
        self._replaced_by: dict[int, int] = {old: new for new, old in tree.prev.items()}

    def is_live(self, node: int) -> bool:
        return node in self.live

    def top_removed(self, node: int) -> int:
        """The node itself, or the ancestor, that was unlinked from its parent."""
        tree = self.tree
        x = node
        while x != ROOT and x not in self.live:
            par = tree.parent[x]
            kids = tree.kids(par)
            if kids is None or kids.get(tree.name[x]) != x:
                return x
            x = par
        return x

    def cause(self, node: int, same_content: SameContent | None = None) -> Cause | None:
        """None for a live node."""
        if node in self.live:
            return None
        top = self.top_removed(node)
        d = self._deleted.get(top)
        if d is not None:
            return Cause(d.layer, d.reason, top)
        new = self._replaced_by.get(top)
        if new is None:
            return Cause(-1, "replaced", top)
        return Cause(self._writer(top, new), self._rewrite_reason(top, new, same_content), top)

    def _writer(self, old: int, new: int) -> int:
        """The layer that wrote `new` over `old`. A directory's layer column moves with
        later rewrites; its shadow history still says who came first."""
        tree = self.tree
        if tree.kind[new] != EntryKind.DIR:
            return tree.layer[new]
        before = list(tree.shadows.get(old, ()))
        if tree.layer[old] >= 0:
            before.append(tree.layer[old])
        history = tree.shadows.get(new, [])
        if len(history) > len(before):
            return history[len(before)]
        return tree.layer[new]

    def _rewrite_reason(self, old: int, new: int, same_content: SameContent | None) -> str:
        tree = self.tree
        if tree.kind[new] != tree.kind[old]:
            return "replaced"
        if tree.kind[old] != EntryKind.FILE or tree.size[old] != tree.size[new]:
            return "shadowed"
        same = same_content(old, new) if same_content is not None else None
        if not same:
            return "shadowed"
        attrs_same = (
            tree.mode[old] == tree.mode[new]
            and tree.uid[old] == tree.uid[new]
            and tree.gid[old] == tree.gid[new]
            and (tree.xattrs.get(old) or {}) == (tree.xattrs.get(new) or {})
        )
        return "unchanged-rewrite" if attrs_same else "attribute-only"


def reclaimable(
    tree: FileTree,
    same_content: SameContent | None = None,
    provenance: Provenance | None = None,
) -> WasteReport:
    prov = provenance or Provenance(tree)
    layers = max(tree.layer_count, 1)
    live_content: set[tuple[int, int]] = set()
    for node in prov.live:
        if tree.kind[node] == EntryKind.FILE:
            live_content.add(content_key(tree, node))
    counted: set[tuple[int, int]] = set()
    items: list[WasteItem] = []
    path_of = PathCache(tree)
    for node in range(1, len(tree)):
        if tree.kind[node] != EntryKind.FILE or tree.size[node] == 0 or node in prov.live:
            continue
        key = content_key(tree, node)
        if key in live_content or key in counted:
            continue
        counted.add(key)
        cause = prov.cause(node, same_content)
        assert cause is not None
        items.append(
            WasteItem(
                path_of(node),
                node,
                tree.size[node],
                tree.source_layer(node),
                cause.layer,
                cause.reason,
            )
        )
    items.sort(key=lambda w: (-w.size, w.path))
    written = [0] * layers
    hidden = [0] * layers
    by_reason: dict[str, int] = {}
    for w in items:
        if 0 <= w.layer < layers:
            written[w.layer] += w.size
        if 0 <= w.hidden_by < layers:
            hidden[w.hidden_by] += w.size
        by_reason[w.reason] = by_reason.get(w.reason, 0) + w.size
    return WasteReport(items, sum(w.size for w in items), written, hidden, by_reason)
