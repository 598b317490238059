"""Rolled-up sizes count as `du -s` does, by every route (all directories at once, one
subtree, the live root), hard links and removals included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.model import sizes
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import WhiteoutStyle, apply_layers
from layerscope.model.tree import ROOT, FileTree

F, D = EntryKind.FILE, EntryKind.DIR


def _du(tree: FileTree, top: int) -> int:
    """Naive: the live regular files under `top`, one per hard-link group."""
    seen: dict[int, int] = {}
    for node in tree.walk(top):
        if tree.kind[node] == F:
            seen.setdefault(tree.link_group.get(node, -node - 1), tree.size[node])
    return sum(seen.values())


def _all_routes(tree: FileTree) -> None:
    full = sizes.roll_up(tree)
    dirs = [ROOT, *(n for n in tree.walk() if tree.is_dir(n))]
    for d in dirs:
        want = _du(tree, d)
        assert full.get(d, 0) == want, tree.path(d)
        walked = sizes.subtree_total(tree, d, len(tree) + 1)
        assert walked is not None and walked[0] == want, tree.path(d)
        assert FileTree.rolled_size(tree, d) == want
    whole = sizes.live_total(tree)
    assert whole is None or whole == _du(tree, ROOT)
    live_links: dict[int, int] = {}
    for node in tree.walk():
        group = tree.link_group.get(node)
        if group is not None:
            live_links[group] = live_links.get(group, 0) + 1
    assert tree.link_counts() == live_links
    lazy = sizes.LazyLinkCounts(tree)
    assert {g: lazy[g] for g in set(tree.link_group.values())} == {
        g: live_links.get(g, 0) for g in set(tree.link_group.values())
    }


def test_links_count_once_per_directory_holding_them() -> None:
    tree = apply_layers(
        [
            (
                [
                    Entry("/a/x", F, size=5, ino=9),
                    Entry("/a/z", F, size=5, ino=9),
                    Entry("/b/y", F, size=5, ino=9),
                    Entry("/b/w", F, size=1),
                    Entry("/b/s", EntryKind.SYMLINK, size=40, target="x" * 40),
                ],
                "oci",
            )
        ]
    )
    a, b = tree.lookup("/a"), tree.lookup("/b")
    assert a is not None and b is not None
    assert (tree.rolled_size(a), tree.rolled_size(b), tree.total_size()) == (5, 6, 6)
    assert sizes.roll_up(tree)[ROOT] == 6 and sizes.live_total(tree) == 6
    _all_routes(tree)


def test_removed_links_and_subtrees_do_not_count() -> None:
    tree = apply_layers(
        [
            ([Entry("/a/x", F, size=5, ino=9), Entry("/b/y", F, size=5, ino=9)], "oci"),
            (
                [
                    Entry("/a/.wh.x", F),
                    Entry("/c/big", F, size=100),
                    Entry("/c/l", F, hardlink="/b/y"),
                ],
                "oci",
            ),
            ([Entry("/.wh.c", F)], "oci"),
        ]
    )
    assert tree.total_size() == 5 and sizes.live_total(tree) is None
    assert tree.link_counts() == {tree.link_group[tree.lookup("/b/y") or 0]: 1}
    _all_routes(tree)


names = st.sampled_from(["a", "b", "c"])
paths = st.lists(names, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))


@st.composite
def layer(draw: st.DrawFn) -> tuple[list[Entry], WhiteoutStyle]:
    entries = []
    for _ in range(draw(st.integers(0, 8))):
        path = draw(paths)
        what = draw(st.sampled_from(["file", "linked", "hardlink", "dir", "whiteout"]))
        if what == "file":
            entries.append(Entry(path, F, size=draw(st.integers(0, 9))))
        elif what == "linked":  # same-layer links: one inode number, one size
            entries.append(Entry(path, F, size=7, ino=draw(st.sampled_from([1, 2]))))
        elif what == "hardlink":  # tar-style, possibly to a lower layer's file
            entries.append(Entry(path, F, hardlink=draw(paths)))
        elif what == "dir":
            entries.append(Entry(path, D, mode=0o755))
        else:
            parent, _, name = path.rpartition("/")
            entries.append(Entry(f"{parent}/.wh.{name}", F))
    return entries, "oci"


@settings(max_examples=400, deadline=None)
@given(st.lists(layer(), min_size=1, max_size=3))
def test_every_route_equals_naive_du(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> None:
    _all_routes(apply_layers(layers))
