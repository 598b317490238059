"""dive's efficiency score, wasted bytes and user-wasted percent, computed as dive does.

dive (wagoodman/dive, `filetree/efficiency.go`, `image/analysis.go`) builds one tree per
layer from the layer's tar headers and visits each tree's *leaves*:

- a leaf's path has a leading `.wh.` of its own name stripped; its size is the tar header
  size (0 for directories, links and devices);
- a whiteout leaf is sized from the stack of all lower layers: the summed sizes of the
  lower subtree if that is a directory, else 0; if the lower stack has no such path dive
  stops visiting the rest of that layer, leaving a new path's minimum at -1 (we record a
  note and do the same);
- opaque markers (`.wh..wh..opq`) are never added to a layer tree, so opaque directories
  count for nothing;
- per path: cumulative = sum of sizes over occurrences, minimum = smallest occurrence;
  efficiency = sum(minimum) / sum(cumulative) (1.0 when nothing was seen); wasted bytes =
  sum of cumulative over paths seen two or more times; layer size = sum of the layer's tar
  header sizes; user size = all layers but the first; user-wasted percent = wasted / user
  size (dive divides by zero into NaN there; we report None).

The quirks are kept on purpose: these numbers exist so users can compare with dive. The
honest numbers are in `bloat_waste`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from layerscope.model.entry import Entry, EntryKind, encode_name

WH = ".wh."
WH_META = ".wh..wh.."


class _Node:
    """A dive FileNode: payload (tar size, is-dir) and children by name."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.size = size
        self.is_dir = is_dir
        self.children: dict[str, _Node] = {}

    def copy(self) -> _Node:
        top = _Node(self.size, self.is_dir)
        stack = [(self, top)]
        while stack:
            src, dst = stack.pop()
            for name, kid in src.children.items():
                new = _Node(kid.size, kid.is_dir)
                dst.children[name] = new
                if kid.children:
                    stack.append((kid, new))
        return top


@dataclass(slots=True, frozen=True)
class DivePath:
    """One path dive saw in two or more layers (an "inefficient file")."""

    path: str
    count: int
    cumulative: int
    minimum: int


@dataclass(slots=True)
class DiveResult:
    efficiency: float
    wasted_bytes: int
    size_bytes: int
    user_size_bytes: int
    user_wasted_percent: float | None
    inefficiencies: list[DivePath]  # largest cumulative size first
    layer_sizes: list[int]
    notes: list[str] = field(default_factory=list)


def dive_size(e: Entry) -> int:
    """The size dive reads from the tar header: data bytes of regular members only."""
    return e.size if e.kind == EntryKind.FILE and e.hardlink is None else 0


def _dive_path(e: Entry, style: str) -> str | None:
    """The member name as dive would see it in an OCI tar, or None for the root entry."""
    path = e.path
    if path in ("", "/", "."):
        return None
    if style == "overlayfs" and e.kind == EntryKind.CHAR and e.rdev == (0, 0):
        # An overlayfs whiteout is what an OCI tar writes as .wh.NAME.
        parent, _, name = path.rpartition("/")
        return f"{parent}/{WH}{name}"
    return path


def _names(path: str) -> list[str]:
    return [n for n in path.split("/") if n]


def _add_path(root: _Node, names: list[str], size: int, is_dir: bool) -> _Node | None:
    """dive's FileTree.AddPath: missing parents get an empty payload (not a directory!).
    Returns the node that got the payload, or None if dive dropped the path."""
    if not names:
        return None
    node = root
    for name in names:
        child = node.children.get(name)
        if child is None:
            if name.startswith(WH_META):
                return None
            child = _Node()
            node.children[name] = child
        node = child
    node.size = size
    node.is_dir = is_dir
    return node


def _get(root: _Node, names: list[str]) -> _Node | None:
    node = root
    for name in names:
        nxt = node.children.get(name)
        if nxt is None:
            return None
        node = nxt
    return node


def _remove(root: _Node, names: list[str]) -> None:
    if not names:
        return  # dive refuses to remove the root
    parent = _get(root, names[:-1])
    if parent is not None:
        parent.children.pop(names[-1], None)


def _target(names: list[str]) -> list[str]:
    """The path a (whiteout) node stands for, as components: `.wh.` stripped."""
    last = names[-1]
    if last.startswith(WH):
        last = last[len(WH) :]
        return [*names[:-1], last] if last else names[:-1]
    return names


def _child_first(root: _Node) -> Iterator[tuple[list[str], _Node]]:
    """dive's VisitDepthChildFirst: children in byte order, each node after its children;
    the root is not visited. Yields (names from the root, node)."""
    stack: list[tuple[list[str], _Node, bool]] = [([], root, False)]
    while stack:
        names, node, expanded = stack.pop()
        if expanded or not node.children:
            if names:
                yield names, node
            continue
        stack.append((names, node, True))
        for name in sorted(node.children, key=encode_name, reverse=True):
            stack.append(([*names, name], node.children[name], False))


def _node_path(names: list[str]) -> str:
    """dive's FileNode.Path(): `.wh.` is stripped from the node's own name only."""
    last = names[-1]
    if last.startswith(WH):
        last = last[len(WH) :]
    return ("/" + "/".join([*names[:-1], last])).replace("//", "/")


def _stack(lower: _Node, upper: _Node) -> None:
    """dive's FileTree.Stack: whiteouts remove, everything else is (re)added."""
    for names, node in _child_first(upper):
        if names[-1].startswith(WH):
            _remove(lower, _target(names))
        else:
            _add_path(lower, names, node.size, node.is_dir)


def _subtree_size(node: _Node) -> int:
    total = 0
    stack = [node]
    while stack:
        n = stack.pop()
        total += n.size
        stack.extend(n.children.values())
    return total


Item = tuple[str, int, bool]  # (path as dive sees it, tar size, is-directory)


def _layer_items(entries: Iterable[Entry], style: str) -> tuple[list[Item], int, bool]:
    """A layer's entries as dive sees them, their summed tar sizes, and whether any needs
    dive's trees: a whiteout (any `.wh.` name but an opaque marker at the end) or a path
    that is not clean ("/a/b": no empty part), whose nodes only the trees resolve."""
    items: list[Item] = []
    total = 0
    trees = False
    for e in entries:
        path = _dive_path(e, style)
        if path is None:
            continue
        size = dive_size(e)
        total += size
        items.append((path, size, e.kind == EntryKind.DIR))
        if not trees and (
            (WH in path and not _opaque(path)) or path[0] != "/" or "//" in path or path[-1] == "/"
        ):
            trees = True
    return items, total, trees


def _opaque(path: str) -> bool:
    """An opaque marker whose parents hold no `.wh.` name."""
    parent, _, name = path.rpartition("/")
    return name.startswith(WH_META) and WH not in parent


def _layer_tree(items: Iterable[Item]) -> _Node:
    root = _Node()
    # Nodes of a layer tree are never removed, so a path resolved once resolves to the
    # same node again: look the parent up by its path instead of walking from the root.
    known: dict[str, _Node] = {}
    for path, size, is_dir in items:
        parent_path, _, name = path.rpartition("/")
        parent = known.get(parent_path)
        if parent is None or not name:
            node = _add_path(root, _names(path), size, is_dir)
        else:
            node = parent.children.get(name)
            if node is None:
                if name.startswith(WH_META):
                    continue
                node = parent.children[name] = _Node()
            node.size = size
            node.is_dir = is_dir
        if node is not None:
            known[path] = node
    return root


def _leaves(items: list[Item]) -> Iterator[tuple[str, int]]:
    """(path, size) of the leaves of the tree `_layer_tree(items)` would build, for clean
    paths without whiteouts, without building it: a node is a leaf unless a node was made
    below it. A missing parent is made with size 0 (dive's AddPath), also for an opaque
    marker, which itself is never added."""
    nodes: dict[str, int] = {}
    inner: set[str] = set()
    for path, size, _ in items:
        parent, _, name = path.rpartition("/")
        if name.startswith(WH_META):
            if not parent:
                continue
            nodes.setdefault(parent, 0)
            path, parent = parent, parent.rpartition("/")[0]
        else:
            nodes[path] = size
        while parent and parent not in inner:
            inner.add(parent)
            nodes.setdefault(parent, 0)
            parent = parent.rpartition("/")[0]
    for path, size in nodes.items():
        if path not in inner:
            yield path, size


class DiveCounter:
    """Feed layers in order (`add_layer`), then read `result()`.

    dive builds a tree per layer and stacks the lower ones; the stack is only looked at
    for a whiteout, and a layer's leaves can be found without its tree. So a layer without
    whiteouts is counted from its entries alone, and the trees are built (and the lower
    layers stacked, as dive does) only when a layer with a whiteout comes: images without
    whiteouts never build one. `trees=True` builds them for every layer (the shortcut's
    reference in the tests)."""

    def __init__(self, trees: bool = False) -> None:
        self._trees = trees
        self._seen: dict[str, list[int]] = {}  # path -> [count, cumulative, minimum]
        self._sizes: list[int] = []
        self._notes: list[str] = []
        self._stacked: _Node | None = None
        self._lower: list[list[Item] | _Node] = []  # each layer's items (or tree) so far
        self._stacked_upto = 0  # layers in _lower already stacked onto _stacked

    def add_layer(self, entries: Iterable[Entry], style: str = "oci") -> None:
        index = len(self._sizes)
        items, total, trees = _layer_items(entries, style)
        self._sizes.append(total)
        seen = self._seen
        if not trees and not self._trees:
            self._lower.append(items)
            for path, size in _leaves(items):
                rec = seen.get(path)
                if rec is None:
                    seen[path] = [1, size, size]
                    continue
                rec[0] += 1
                rec[1] += size
                if rec[2] < 0 or size < rec[2]:
                    rec[2] = size
            return
        tree = _layer_tree(items)
        stacked = self._stack_lower(tree)
        self._lower.append(tree)
        for names, node in _child_first(tree):
            if node.children:
                continue  # dive visits leaves only
            path = _node_path(names)
            rec = seen.get(path)
            if rec is None:
                # dive records the path before sizing it, with "no minimum yet" = -1
                rec = seen[path] = [0, 0, -1]
            if names[-1].startswith(WH):
                lower = _get(stacked, _target(names))
                if lower is None:
                    # dive's visitor returns an error here: the record stays as it was
                    # (a new one keeps minimum -1) and the rest of the layer is skipped.
                    self._notes.append(
                        f"layer {index}: whiteout of {path}, which no lower layer has: "
                        "dive stops counting this layer here"
                    )
                    break
                size = _subtree_size(lower) if lower.is_dir else 0
            else:
                size = node.size
            rec[0] += 1
            rec[1] += size
            if rec[2] < 0 or size < rec[2]:
                rec[2] = size

    def _stack_lower(self, tree: _Node) -> _Node:
        """dive's stack of the lower layers for the layer being added (its tree `tree`):
        StackTreeRange(trees, 0, -1) is layer 0 alone for layer 0, and layer 0 with layers
        0 .. n-1 stacked on it for layer n (layer 0 twice, as dive does)."""
        if self._stacked is None:
            first = self._lower[0] if self._lower else tree
            self._stacked = first.copy() if isinstance(first, _Node) else _layer_tree(first)
        for lower in self._lower[self._stacked_upto :]:
            _stack(self._stacked, lower if isinstance(lower, _Node) else _layer_tree(lower))
        self._stacked_upto = len(self._lower)
        for i in range(self._stacked_upto):
            self._lower[i] = []  # a stacked layer is not needed again
        return self._stacked

    def result(self) -> DiveResult:
        return _result(self._seen, list(self._sizes), list(self._notes))


def dive_one_layer(entries: Iterable[Entry], style: str = "oci") -> DiveResult | None:
    """dive's numbers for a one-layer image (a sandbox, a bare squashfs, a one-partition
    SIF) without dive's trees: each path is seen once, so nothing is wasted and the
    efficiency is 1. The trees cost ~300 bytes and a few microseconds an entry, which is
    most of `inspect --analyze` on a million-file sandbox. None when the layer holds a name
    dive reads as a whiteout (`.wh.`, or an overlayfs 0/0 device): then paths can meet,
    and `dive_efficiency` decides."""
    total = 0
    for e in entries:
        path = _dive_path(e, style)
        if path is None:
            continue
        if path.rpartition("/")[2].startswith(WH):
            return None
        total += dive_size(e)
    return _result({}, [total], [])


def dive_efficiency(
    layers: Iterable[Iterable[Entry]], styles: Sequence[str] | None = None
) -> DiveResult:
    """dive's numbers for raw per-layer entries (as readers yield them, whiteouts included).

    `styles` gives each layer's whiteout encoding ("oci", "overlayfs", "none"); overlayfs
    whiteouts are counted as the `.wh.` entries an OCI tar would hold."""
    counter = DiveCounter()
    for index, entries in enumerate(layers):
        style = styles[index] if styles is not None and index < len(styles) else "oci"
        counter.add_layer(entries, style)
    return counter.result()


def _result(seen: dict[str, list[int]], layer_sizes: list[int], notes: list[str]) -> DiveResult:
    minimum = sum(rec[2] for rec in seen.values())
    discovered = sum(rec[1] for rec in seen.values())
    efficiency = 1.0 if discovered == 0 else minimum / discovered
    waste = [DivePath(p, r[0], r[1], r[2]) for p, r in seen.items() if r[0] >= 2]
    waste.sort(key=lambda d: (-d.cumulative, d.path))
    wasted = sum(d.cumulative for d in waste)
    user = sum(layer_sizes[1:])
    return DiveResult(
        efficiency=efficiency,
        wasted_bytes=wasted,
        size_bytes=sum(layer_sizes),
        user_size_bytes=user,
        user_wasted_percent=(wasted / user) if user else None,
        inefficiencies=waste,
        layer_sizes=layer_sizes,
        notes=notes,
    )
