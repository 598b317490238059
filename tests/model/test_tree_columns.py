"""FileTree.adopt and LayerColumns on hand-made columns: the cases no fixture holds."""

from __future__ import annotations

from layerscope.model.columns import LayerColumns
from layerscope.model.entry import EntryKind
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree


def _add(cols: LayerColumns, parent: int, name: str, kind: EntryKind, size: int = 0) -> int:
    row = len(cols)
    cols.parent.append(parent)
    cols.name.append(name)
    cols.kind.append(kind)
    for column, value in ((cols.mode, 0o644), (cols.uid, 0), (cols.gid, 0), (cols.size, size),
                          (cols.mtime, 0), (cols.loc, row)):  # fmt: skip
        column.append(value)
    if kind == EntryKind.DIR:
        cols.dirs.append(row)
    return row


def test_repeated_name_last_wins_and_is_recorded() -> None:
    cols = LayerColumns()
    a = _add(cols, 0, "a", EntryKind.FILE, 1)
    b = _add(cols, 0, "a", EntryKind.FILE, 2)
    d = _add(cols, 0, "d", EntryKind.DIR)
    cols.spans.append((0, a, d + 1))
    tree = FileTree.adopt(cols, 0)
    assert tree.lookup("/a") == b and tree.size[b] == 2
    assert [(x.node, x.reason) for x in tree.deletions] == [(a, "replaced")]
    assert tree.prev == {b: a}
    assert tree.children[d] == {}  # an empty directory still gets its (empty) listing


def test_entries_round_trip_through_apply_layer() -> None:
    cols = LayerColumns()
    d = _add(cols, 0, "etc", EntryKind.DIR)
    link = _add(cols, 0, "link", EntryKind.SYMLINK, 3)
    cols.spans.append((0, d, link + 1))
    f1 = _add(cols, d, "one", EntryKind.FILE, 5)
    f2 = _add(cols, d, "two", EntryKind.FILE, 5)
    cols.spans.append((d, f1, f2 + 1))
    cols.target[link] = "etc"
    cols.ino[f1] = cols.ino[f2] = 7
    cols.xattrs[f1] = {"user.k": b"v"}
    entries = list(cols.entries())
    assert [e.path for e in entries] == ["/etc", "/link", "/etc/one", "/etc/two"]
    applied = apply_layers([(iter(entries), "none")])
    adopted = FileTree.adopt(cols, 0)
    assert adopted.link_group == applied.link_group == {f1: f1, f2: f1}
    assert adopted.total_size() == applied.total_size() == 5  # one inode, counted once
    assert [applied.entry(n) for n in applied.walk()] == [adopted.entry(n) for n in adopted.walk()]
