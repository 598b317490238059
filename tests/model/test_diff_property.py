"""diff_trees equals a naive comparison of two flat {path: attributes} listings."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from layerscope.model.diff import ALL_FIELDS, diff_trees
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree

NAMES = ["a", "b", "c"]
paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))


@st.composite
def entry(draw: st.DrawFn) -> Entry:
    path = draw(paths)
    kind = draw(st.sampled_from([EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK]))
    return Entry(
        path,
        kind,
        mode=draw(st.sampled_from([0o644, 0o755])),
        uid=draw(st.sampled_from([0, 1000])),
        size=draw(st.integers(0, 3)) if kind == EntryKind.FILE else 0,
        mtime=draw(st.integers(0, 1)),
        target=draw(st.sampled_from(NAMES)) if kind == EntryKind.SYMLINK else None,
        xattrs=draw(st.sampled_from([None, {"user.x": b"1"}])),
        loc=draw(st.integers(0, 1)),  # stands for the content
        # files sharing an identity are hard links (the links field counts them)
        ino=draw(st.sampled_from([0, 7])) if kind == EntryKind.FILE else 0,
    )


def _flat(tree: FileTree) -> dict[str, Entry]:
    return {tree.path(n): tree.entry(n) for n in tree.walk()}


def _links(flat: dict[str, Entry], e: Entry) -> int:
    """Hard links of an entry: the live paths sharing its inode identity."""
    return 1 if not e.ino else sum(1 for o in flat.values() if o.ino == e.ino)


def _naive(
    a: FileTree, b: FileTree, compare: set[str]
) -> tuple[set[str], set[str], dict[str, set[str]]]:
    fa, fb = _flat(a), _flat(b)
    modified: dict[str, set[str]] = {}
    for p in fa.keys() & fb.keys():
        x, y = fa[p], fb[p]
        ch: set[str] = set()
        if x.kind != y.kind:
            ch = {"type"} & compare
        else:
            if x.mode != y.mode:
                ch.add("mode")
            if (x.uid, x.gid) != (y.uid, y.gid):
                ch.add("owner")
            if x.kind == EntryKind.SYMLINK and x.target != y.target:
                ch.add("target")
            if (x.xattrs or {}) != (y.xattrs or {}):
                ch.add("xattrs")
            if x.kind == EntryKind.FILE:
                if x.size != y.size:
                    ch |= {"content", "size"}
                elif x.loc != y.loc:
                    ch.add("content")
            if x.mtime != y.mtime:
                ch.add("mtime")  # a directory's too (sqfsdiff -T reports it)
            if x.kind != EntryKind.DIR and _links(fa, x) != _links(fb, y):
                ch.add("links")
            ch &= compare
        if ch:
            modified[p] = ch
    # under an entry whose type changed, the old children are removed, the new ones added
    return set(fa) - set(fb), set(fb) - set(fa), modified


_F = EntryKind.FILE


@settings(max_examples=400, deadline=None)
@example(  # a file that gains a hard link (random lists rarely meet on one path)
    [Entry("/a", _F, 0o644, 0, 0, 1, 0, ino=7)],
    [Entry("/a", _F, 0o644, 0, 0, 1, 0, ino=7), Entry("/b", _F, 0o644, 0, 0, 1, 0, ino=7)],
    {"links"},
)
@given(
    st.lists(entry(), max_size=8),
    st.lists(entry(), max_size=8),
    st.sets(st.sampled_from(ALL_FIELDS)),
)
def test_diff_equals_naive(la: list[Entry], lb: list[Entry], compare: set[str]) -> None:
    a = apply_layers([(la, "none")])
    b = apply_layers([(lb, "none")])
    d = diff_trees(a, b, compare, lambda na, nb: a.loc[na] == b.loc[nb])
    gone, new, modified = _naive(a, b, compare)
    assert {p for p, _ in d.removed} == gone
    assert {p for p, _ in d.added} == new
    assert {m.path: set(m.changes) for m in d.modified} == modified
