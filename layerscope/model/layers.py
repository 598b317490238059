"""Apply layers, one after another, into one FileTree.

Three whiteout encodings are understood:
- OCI: `.wh.NAME` deletes NAME from lower layers; `.wh..wh..opq` hides every lower child of
  its directory. Both are recognised by name, whatever the tar type (hard links included).
  The opaque marker applies before the layer's own entries in that directory, whatever the
  tar order.
- overlayfs (SIF overlay partitions, sandboxes of overlay upper dirs): a char device 0/0
  deletes its path; a directory with an opaque xattr = "y" hides its lower children.

Paths are resolved literally: a lower symlink is never followed. A non-directory replacing a
directory (or the reverse) drops the old subtree.
"""

from __future__ import annotations

from collections.abc import Iterable
from sys import intern

from layerscope.model.entry import Entry, EntryKind, normalize_path
from layerscope.model.image import WhiteoutStyle
from layerscope.model.tree import ROOT, Deletion, FileTree

__all__ = ["WhiteoutStyle", "apply_layer", "apply_layers"]

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque", "user.fuseoverlayfs.opaque")

_IMPLICIT_DIR = Entry("", EntryKind.DIR, mode=0o755)


class _LayerState:
    """Per-layer bookkeeping, dropped when the layer is done.

    What this layer wrote is known from the tree's `layer` column (nodes it created or
    rewrote carry its index), so no per-entry set is kept."""

    __slots__ = ("dir_index", "ino_groups", "layer")

    def __init__(self, layer: int) -> None:
        self.layer = layer
        self.ino_groups: dict[int, int] = {}
        self.dir_index: dict[str, int] = {"/": ROOT}

    def removed(self) -> None:
        # A removal can take cached directories with it; re-resolve from the root.
        # Cleared in place: apply_layer holds the dict in a local.
        self.dir_index.clear()
        self.dir_index["/"] = ROOT


def apply_layer(
    tree: FileTree, layer: int, entries: Iterable[Entry], style: WhiteoutStyle = "oci"
) -> None:
    """Apply one layer's raw entries (in the layer's order) on top of `tree`.

    Most entries create a new name in an already known directory: that case runs inline
    with every column's append bound to a local (it is the whole cost of opening a
    single-layer image); everything else goes through the general path below."""
    st = _LayerState(layer)
    children = tree.children
    names = tree.name
    add_parent, add_name, add_kind = tree.parent.append, names.append, tree.kind.append
    add_mode, add_uid, add_gid = tree.mode.append, tree.uid.append, tree.gid.append
    add_size, add_mtime = tree.size.append, tree.mtime.append
    add_layer, add_loc = tree.layer.append, tree.loc.append
    targets, rdevs, xattrs = tree.target, tree.rdev, tree.xattrs
    dir_kind = EntryKind.DIR
    oci = style == "oci"
    overlay = style == "overlayfs"
    dir_index = st.dir_index
    for e in entries:
        path = e.path
        if not path.startswith("/") or "//" in path or "/." in path or path.endswith("/"):
            path = normalize_path(path)  # '..' resolved lexically, clamped at the root
            if path == "/":
                if e.kind == dir_kind:
                    tree.set_attrs(ROOT, e, layer)
                continue
        parent_path, _, name = path.rpartition("/")
        # One str per distinct name, shared by every node that bears it: images repeat
        # names (__init__.py, LC_MESSAGES, ...) and a str costs ~50 bytes + its length.
        name = intern(name)
        if oci and name[:4] == WH_PREFIX:
            # Whiteouts never create directories: a missing parent has nothing to hide.
            parent = _existing_dir(tree, parent_path or "/")
            if name == WH_OPAQUE:
                _make_opaque(tree, st, parent, layer)
            else:
                _whiteout(tree, st, parent, name[len(WH_PREFIX) :], layer)
            continue
        kind = e.kind
        if overlay and kind == EntryKind.CHAR and e.rdev == (0, 0):
            _whiteout(tree, st, _existing_dir(tree, parent_path or "/"), name, layer)
            continue
        parent = dir_index.get(parent_path or "/")
        if parent is None:
            parent = _parent_dir(tree, st, parent_path or "/", layer)
        kids = children[parent]
        if name in kids or e.hardlink is not None or (e.ino and kind != dir_kind):
            node = _put(tree, st, parent, name, e, layer)
        else:
            node = len(names)
            add_parent(parent)
            add_name(name)
            add_kind(kind)
            add_mode(e.mode & 0o7777)
            add_uid(e.uid)
            add_gid(e.gid)
            add_size(0 if kind == dir_kind else e.size)
            add_mtime(e.mtime)
            add_layer(layer)
            add_loc(e.loc)
            kids[name] = node
            if kind == dir_kind:
                children[node] = {}
            if e.target is not None:
                targets[node] = e.target
            if e.rdev is not None:
                rdevs[node] = e.rdev
            if e.xattrs:
                xattrs[node] = dict(e.xattrs)
        if kind == dir_kind:
            dir_index[path] = node
            if overlay and e.xattrs and _is_opaque(e):
                _make_opaque(tree, st, node, layer)
    tree.layer_count = max(tree.layer_count, layer + 1)
    tree.invalidate()


def apply_layers(
    layers: Iterable[tuple[Iterable[Entry], WhiteoutStyle]], tree: FileTree | None = None
) -> FileTree:
    tree = tree or FileTree()
    for index, (entries, style) in enumerate(layers):
        apply_layer(tree, index, entries, style)
    return tree


def _is_opaque(e: Entry) -> bool:
    assert e.xattrs is not None
    return any(e.xattrs.get(k) == b"y" for k in OPAQUE_XATTRS)


def _parent_dir(tree: FileTree, st: _LayerState, parent_path: str, layer: int) -> int:
    node = st.dir_index.get(parent_path)
    if node is not None:
        return node
    node = ROOT
    walked = ""
    for part in parent_path.split("/"):
        if not part:
            continue
        walked += "/" + part
        nxt = tree.children[node].get(part)
        if nxt is None:
            # Layers may omit parent directories: create them as a runtime would.
            nxt = tree.new_node(node, part, _IMPLICIT_DIR, layer)
        elif tree.kind[nxt] != EntryKind.DIR:
            # Literal resolution: a lower symlink or file in the way is replaced, not followed.
            tree.unlink(nxt)
            tree.deletions.append(Deletion(layer, nxt, "implicit"))
            old = nxt
            nxt = tree.new_node(node, part, _IMPLICIT_DIR, layer)
            tree.prev[nxt] = old
            st.removed()
        node = nxt
    st.dir_index[parent_path] = node
    return node


def _whiteout(tree: FileTree, st: _LayerState, parent: int | None, name: str, layer: int) -> None:
    victim = None if parent is None else tree.children[parent].get(name)
    if victim is None:
        return
    keep = _layer_marked(tree, victim, layer)
    if victim not in keep:
        tree.unlink(victim)
        tree.deletions.append(Deletion(layer, victim, "whiteout"))
        st.removed()
        return
    if tree.kind[victim] != EntryKind.DIR:
        return  # this layer's own file: whiteouts only hide lower layers
    # The same layer also wrote under this directory (tar order is not meaningful): hide
    # only what lower layers put there.
    _hide_lower(tree, st, victim, layer, "whiteout", keep)
    if tree.kind[victim] == EntryKind.DIR and tree.layer[victim] != layer:
        tree.set_attrs(victim, _IMPLICIT_DIR, layer)


def _make_opaque(tree: FileTree, st: _LayerState, directory: int | None, layer: int) -> None:
    """Hide everything lower layers put under `directory`, keeping this layer's entries."""
    if directory is None or tree.kind[directory] != EntryKind.DIR:
        return
    _hide_lower(tree, st, directory, layer, "opaque", _layer_marked(tree, directory, layer))


def _layer_marked(tree: FileTree, top: int, layer: int) -> set[int]:
    """Nodes under `top` (itself included) that are, or contain, something `layer` wrote."""
    marked: set[int] = set()
    order = [top]
    if tree.kind[top] == EntryKind.DIR:
        order.extend(tree.walk(top))
    for node in reversed(order):
        if tree.layer[node] == layer or node in marked:
            marked.add(node)
            if node != top:
                marked.add(tree.parent[node])
    return marked


def _hide_lower(
    tree: FileTree, st: _LayerState, directory: int, layer: int, reason: str, keep: set[int]
) -> None:
    stack = [directory]
    while stack:
        d = stack.pop()
        for kid in list(tree.children[d].values()):
            if kid not in keep:
                tree.unlink(kid)
                tree.deletions.append(Deletion(layer, kid, reason))
                st.removed()
            elif tree.kind[kid] == EntryKind.DIR:
                stack.append(kid)
                if tree.layer[kid] != layer:
                    # A lower directory survives only as the parent of this layer's entries.
                    tree.set_attrs(kid, _IMPLICIT_DIR, layer)


def _existing_dir(tree: FileTree, path: str) -> int | None:
    node = tree.lookup(path)
    return node if node is not None and tree.kind[node] == EntryKind.DIR else None


def _put(tree: FileTree, st: _LayerState, parent: int, name: str, e: Entry, layer: int) -> int:
    old = tree.children[parent].get(name)
    if e.hardlink is not None:
        return _put_hardlink(tree, st, parent, name, e, layer, old)
    if old is not None:
        old_kind = tree.kind[old]
        if old_kind == EntryKind.DIR and e.kind == EntryKind.DIR:
            _shadow(tree, old, old, layer)
            tree.set_attrs(old, e, layer)
            return old
        tree.unlink(old)
        if old_kind == EntryKind.DIR:
            tree.deletions.append(Deletion(layer, old, "replaced"))
            st.removed()
    node = tree.new_node(parent, name, e, layer)
    if old is not None:
        tree.prev[node] = old
        _shadow(tree, node, old, layer)
    if e.ino and e.kind != EntryKind.DIR:
        group = st.ino_groups.get(e.ino)
        if group is None:
            st.ino_groups[e.ino] = node
        else:
            first = group
            gid = tree.link_group.setdefault(first, first)
            tree.link_group[node] = gid
    return node


def _shadow(tree: FileTree, node: int, old: int, layer: int) -> None:
    """Record that `node` (now written by `layer`) hides what `old` held before: one
    cell linked to old's history, never a copy of it (model.history)."""
    tree.shadows.record(node, old, tree.layer[old], layer)


def _put_hardlink(
    tree: FileTree, st: _LayerState, parent: int, name: str, e: Entry, layer: int, old: int | None
) -> int:
    assert e.hardlink is not None
    target = tree.lookup(normalize_path(e.hardlink))
    if target is None or tree.kind[target] == EntryKind.DIR or target == old:
        # Dangling or self link: keep the name as an empty file rather than lose it.
        plain = Entry(e.path, EntryKind.FILE, e.mode, e.uid, e.gid, 0, e.mtime, loc=-1)
        return _put(tree, st, parent, name, plain, layer)
    link_entry = tree.entry(target, path=e.path)
    link_entry.ino = 0
    node = _put(tree, st, parent, name, link_entry, layer)
    group = tree.link_group.setdefault(target, target)
    tree.link_group[node] = group
    src = tree.source_layer(target)
    if src != layer:
        tree.content_layer[node] = src
    return node
