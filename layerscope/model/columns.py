"""LayerColumns: one layer's whole listing, column-wise, in the shape of FileTree's columns.

A reader that walks its own directory structure (squashfs) knows each entry's parent
without building a path, and lists each directory's children together. It can then fill
these columns directly: no Entry object, no path string and no path lookup per entry.
FileTree.adopt() takes the columns over as the tree of a first layer without copying them;
entries() turns them back into the Entry stream every reader also offers.

Row 0 is the layer's root directory; every other row's parent is a smaller row.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from layerscope.model.entry import Entry, EntryKind

# The per-node attributes kept as arrays, in one table: (name, array typecode, the root's
# value). LayerColumns and FileTree hold them under these names and typecodes, and the
# tree codec stores them in this order (plus FileTree's own `layer` column, TREE_COLUMNS).
# Names, kinds and the rare attributes (targets, devices, xattrs, inode identities) are
# a list, a bytearray and dicts beside them.
NODE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("parent", "i", 0),
    ("mode", "H", 0o755),
    ("uid", "I", 0),
    ("gid", "I", 0),
    ("size", "q", 0),
    ("mtime", "q", 0),
    ("loc", "q", -1),  # reader-private content locator; -1: nothing to read
)
# FileTree adds the layer that last wrote each node (-1 for the root: none did).
TREE_COLUMNS: tuple[tuple[str, str, int], ...] = (*NODE_COLUMNS, ("layer", "h", -1))


class LayerColumns:
    """Columns with one row per entry (row 0: the root), plus where each directory's
    children are: `spans` holds (directory row, first child row, end row) for every
    directory listed, children rows contiguous and in the listing's order."""

    __slots__ = (
        "dirs",
        "gid",
        "ino",
        "kind",
        "loc",
        "mode",
        "mtime",
        "name",
        "parent",
        "rdev",
        "size",
        "spans",
        "target",
        "uid",
        "xattrs",
    )

    parent: array[int]
    mode: array[int]
    uid: array[int]
    gid: array[int]
    size: array[int]
    mtime: array[int]
    loc: array[int]

    def __init__(self) -> None:
        for column, code, root in NODE_COLUMNS:
            setattr(self, column, array(code, [root]))
        self.name: list[str] = [""]
        self.kind = bytearray([EntryKind.DIR])
        self.spans: list[tuple[int, int, int]] = []
        self.dirs: list[int] = [0]  # rows that are directories (listed or empty)
        self.target: dict[int, str] = {}
        self.rdev: dict[int, tuple[int, int]] = {}
        self.xattrs: dict[int, dict[str, bytes]] = {}
        # non-directory rows with an inode identity: rows sharing one are hard links
        self.ino: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.name)

    def entries(self) -> Iterator[Entry]:
        """The rows below the root as Entry records, in row order (parents first)."""
        dir_paths: dict[int, str] = {0: ""}
        names, parents, kinds = self.name, self.parent, self.kind
        targets, rdevs, xattrs, inos = self.target, self.rdev, self.xattrs, self.ino
        dir_kind = EntryKind.DIR
        for row in range(1, len(names)):
            path = f"{dir_paths[parents[row]]}/{names[row]}"
            kind = kinds[row]
            if kind == dir_kind:
                dir_paths[row] = path
            xa = xattrs.get(row)
            yield Entry(
                path,
                EntryKind(kind),
                self.mode[row],
                self.uid[row],
                self.gid[row],
                self.size[row],
                self.mtime[row],
                target=targets.get(row),
                rdev=rdevs.get(row),
                xattrs=None if xa is None else dict(xa),
                ino=inos.get(row, 0),
                loc=self.loc[row],
            )
