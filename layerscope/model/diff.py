"""Compare two trees: what was added, removed and modified.

What counts as "modified" is a parameter (`compare`). Content is decided by size first and
by a caller-supplied equality test only when sizes are equal, so hashing (I/O) stays outside
the model and happens only where it can change the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from layerscope.model.entry import EntryKind
from layerscope.model.sizes import LazyLinkCounts
from layerscope.model.tree import ROOT, FileTree

# type, content (incl. size), permission bits, owner, symlink target, device numbers
DEFAULT_COMPARE = frozenset({"type", "content", "size", "mode", "owner", "target", "rdev"})
# Off by default: xattrs, mtime (rebuilds change it; a directory's changes whenever an
# entry in it is added or removed) and links (a file's hard-link count: sqfsdiff reports a
# file that gained a link, as its inode becomes an extended one; directories' counts
# follow their subdirectories, which the diff lists already, so they are not compared).
ALL_FIELDS = (
    "type", "content", "size", "mode", "owner", "target", "rdev", "xattrs", "mtime", "links",
)  # fmt: skip
# diffoci's --semantic idea: ignore what rebuilds change without meaning anything
SEMANTIC_IGNORE = frozenset({"mtime"})

ContentEqual = Callable[[int, int], bool]


@dataclass(slots=True)
class Modified:
    path: str
    changes: list[str]
    old: int
    new: int


@dataclass(slots=True)
class TreeDiff:
    added: list[tuple[str, int]] = field(default_factory=list)  # (path, node in b)
    removed: list[tuple[str, int]] = field(default_factory=list)  # (path, node in a)
    modified: list[Modified] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified)


def parse_fields(spec: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for item in spec:
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in ALL_FIELDS:
                raise ValueError(f"unknown field {name!r} (known: {', '.join(ALL_FIELDS)})")
            out.add(name)
    return out


def diff_trees(
    a: FileTree,
    b: FileTree,
    compare: frozenset[str] | set[str] = DEFAULT_COMPARE,
    content_equal: ContentEqual | None = None,
    top_a: int = ROOT,
    top_b: int = ROOT,
) -> TreeDiff:
    """Walk both trees by name. Entries under an added or removed directory are listed too,
    each with its own path, as sqfsdiff does."""
    out = TreeDiff()
    stack: list[tuple[int, int, str]] = [(top_a, top_b, "")]
    kind_a, kind_b, mode_a, mode_b = a.kind, b.kind, a.mode, b.mode
    uid_a, uid_b, gid_a, gid_b = a.uid, b.uid, a.gid, b.gid
    size_a, size_b = a.size, b.size
    dir_kind, file_kind = EntryKind.DIR, EntryKind.FILE
    # With neither mtime, xattrs nor links compared, a directory or a same-size file whose
    # type, mode and owner agree needs no further look unless content must be compared.
    shortcut = not ({"mtime", "xattrs", "links"} & compare)
    links = (_Links(a), _Links(b)) if "links" in compare else None
    content = "content" in compare and content_equal is not None
    for_sure_same_files = shortcut and not content
    empty: dict[str, int] = {}
    if top_a == ROOT and top_b == ROOT:
        # The root's own attributes (a squashfs root inode's mode, owner, mtime), as
        # sqfsdiff compares them ("/ has a different timestamp").
        root = _changes(a, ROOT, b, ROOT, compare, None, links)
        if root:
            out.modified.append(Modified("/", root, ROOT, ROOT))
    while stack:
        da, db, prefix = stack.pop()
        kids_a = a.kids(da) or empty
        kids_b = b.kids(db) or empty
        in_b = kids_b.get
        both = 0
        # Children are visited in any order (the lists are sorted at the end) and a path
        # is only built for what is reported or descended into.
        for name, na in kids_a.items():
            nb = in_b(name)
            if nb is None:
                _subtree(a, na, f"{prefix}/{name}", out.removed)
                continue
            both += 1
            ka = kind_a[na]
            if (
                shortcut
                and ka == kind_b[nb]
                and mode_a[na] == mode_b[nb]
                and uid_a[na] == uid_b[nb]
                and gid_a[na] == gid_b[nb]
            ):
                if ka == dir_kind:
                    stack.append((na, nb, f"{prefix}/{name}"))
                    continue
                if ka == file_kind and size_a[na] == size_b[nb]:
                    # Type, mode, owner and size agree, and neither mtime nor xattrs
                    # count: only the content can differ.
                    if for_sure_same_files:
                        continue
                    if content_equal is not None and "content" in compare:
                        if content_equal(na, nb):
                            continue
                        out.modified.append(Modified(f"{prefix}/{name}", ["content"], na, nb))
                        continue
            path = f"{prefix}/{name}"
            changes = _changes(a, na, b, nb, compare, content_equal, links)
            if changes:
                out.modified.append(Modified(path, changes, na, nb))
            a_dir = ka == dir_kind
            b_dir = kind_b[nb] == dir_kind
            if a_dir and b_dir:
                stack.append((na, nb, path))
            elif a_dir:
                _children(a, na, path, out.removed)
            elif b_dir:
                _children(b, nb, path, out.added)
        if both != len(kids_b):
            for name in kids_b.keys() - kids_a.keys():
                _subtree(b, kids_b[name], f"{prefix}/{name}", out.added)
    for lst in (out.added, out.removed):
        lst.sort(key=lambda item: item[0].split("/"))
    out.modified.sort(key=lambda m: m.path.split("/"))
    return out


def _subtree(tree: FileTree, node: int, path: str, into: list[tuple[str, int]]) -> None:
    into.append((path, node))
    if tree.kind[node] == EntryKind.DIR:
        _children(tree, node, path, into)


def _children(tree: FileTree, node: int, path: str, into: list[tuple[str, int]]) -> None:
    base = path.split("/")
    for kid in tree.walk(node):
        rel = []
        n = kid
        while n != node:
            rel.append(tree.name[n])
            n = tree.parent[n]
        into.append(("/".join(base + rel[::-1]), kid))


def _changes(
    a: FileTree,
    na: int,
    b: FileTree,
    nb: int,
    compare: frozenset[str] | set[str],
    content_equal: ContentEqual | None,
    links: tuple[_Links, _Links] | None = None,
) -> list[str]:
    changes: list[str] = []
    kind = a.kind[na]
    if kind != b.kind[nb]:
        return ["type"] if "type" in compare else []
    if "mode" in compare and a.mode[na] != b.mode[nb]:
        changes.append("mode")
    if "owner" in compare and (a.uid[na], a.gid[na]) != (b.uid[nb], b.gid[nb]):
        changes.append("owner")
    if kind == EntryKind.SYMLINK and "target" in compare and a.target.get(na) != b.target.get(nb):
        changes.append("target")
    is_dev = kind in (EntryKind.CHAR, EntryKind.BLOCK)
    if is_dev and "rdev" in compare and a.rdev.get(na) != b.rdev.get(nb):
        changes.append("rdev")
    if "xattrs" in compare and (a.xattrs.get(na) or {}) != (b.xattrs.get(nb) or {}):
        changes.append("xattrs")
    if kind == EntryKind.FILE and ("content" in compare or "size" in compare):
        if a.size[na] != b.size[nb]:
            changes.extend(f for f in ("content", "size") if f in compare)
        elif "content" in compare and content_equal is not None and not content_equal(na, nb):
            changes.append("content")
    # A directory whose only change is its mtime is reported too (as `sqfsdiff -T`
    # does), when mtime is compared: it is off by default.
    if "mtime" in compare and a.mtime[na] != b.mtime[nb]:
        changes.append("mtime")
    if links is not None and kind != EntryKind.DIR and links[0](na) != links[1](nb):
        changes.append("links")
    return changes


class _Links:
    """A non-directory's hard-link count in its tree (live links of its inode), counted
    for the groups asked about only."""

    def __init__(self, tree: FileTree) -> None:
        self.groups = tree.link_group
        self.counts = LazyLinkCounts(tree)

    def __call__(self, node: int) -> int:
        group = self.groups.get(node)
        return 1 if group is None else self.counts[group]
