"""Random layer stacks applied by the model equal a naive reference applier.

The reference keeps a flat {path: attrs} dict and applies each layer in the order the OCI
image spec describes: whiteouts and opaque markers act on the lower layers first, then the
layer's own entries are applied in order, creating missing parents and replacing anything
of another type (with its subtree)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import WhiteoutStyle, apply_layers

NAMES = ["a", "b", "c"]
Attrs = tuple[str, int, int, str | None]  # kind, mode, size, target
IMPLICIT: Attrs = ("dir", 0o755, 0, None)


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top + "/")


def _delete_tree(state: dict[str, Attrs], top: str) -> None:
    for p in [p for p in state if _under(p, top)]:
        del state[p]


def _reference(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> dict[str, Attrs]:
    state: dict[str, Attrs] = {}
    for entries, style in layers:
        lower = set(state)
        regular: list[Entry] = []
        for e in entries:
            parent, _, name = e.path.rpartition("/")
            if style == "oci" and name == ".wh..wh..opq":
                for p in [p for p in lower if p.startswith(parent + "/") and p in state]:
                    del state[p]
            elif style == "oci" and name.startswith(".wh."):
                victim = parent + "/" + name[4:]
                for p in [p for p in lower if _under(p, victim) and p in state]:
                    del state[p]
            elif style == "overlayfs" and e.kind == EntryKind.CHAR and e.rdev == (0, 0):
                for p in [p for p in lower if _under(p, e.path) and p in state]:
                    del state[p]
            elif style == "overlayfs" and e.xattrs and e.xattrs.get("trusted.overlay.opaque"):
                for p in [p for p in lower if p.startswith(e.path + "/") and p in state]:
                    del state[p]
                regular.append(e)
            else:
                regular.append(e)
        for e in regular:
            parts = e.path.strip("/").split("/")
            for i in range(1, len(parts)):
                anc = "/" + "/".join(parts[:i])
                if anc in state and state[anc][0] != "dir":
                    _delete_tree(state, anc)
                if anc not in state:
                    state[anc] = IMPLICIT
            new: Attrs = (e.kind.json_name, e.mode, e.size, e.target)
            old = state.get(e.path)
            if old is not None and not (old[0] == "dir" and new[0] == "dir"):
                _delete_tree(state, e.path)
            state[e.path] = new
    return state


def _model(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> dict[str, Attrs]:
    tree = apply_layers(layers)
    out: dict[str, Attrs] = {}
    for node in tree.walk():
        e = tree.entry(node)
        out[e.path] = (e.kind.json_name, e.mode, e.size if e.kind != EntryKind.DIR else 0, e.target)
    return out


paths = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))


@st.composite
def entry(draw: st.DrawFn, style: WhiteoutStyle) -> Entry:
    path = draw(paths)
    what = draw(st.sampled_from(["file", "dir", "dir", "symlink", "whiteout", "opaque"]))
    mode = draw(st.sampled_from([0o644, 0o755, 0o700]))
    if what == "file":
        return Entry(path, EntryKind.FILE, mode=mode, size=draw(st.integers(0, 9)))
    if what == "symlink":
        # a symlink's size is its target's length (as squashfs reports it): never file bytes
        target = draw(st.sampled_from(NAMES))
        return Entry(path, EntryKind.SYMLINK, mode=0o777, size=len(target), target=target)
    if what == "dir":
        return Entry(path, EntryKind.DIR, mode=mode)
    parent, _, name = path.rpartition("/")
    if style == "oci":
        marker = ".wh..wh..opq" if what == "opaque" else ".wh." + name
        return Entry(parent + "/" + marker, EntryKind.FILE, mode=0)
    if what == "opaque":
        return Entry(path, EntryKind.DIR, mode=mode, xattrs={"trusted.overlay.opaque": b"y"})
    return Entry(path, EntryKind.CHAR, mode=0, rdev=(0, 0))


@st.composite
def layer(draw: st.DrawFn) -> tuple[list[Entry], WhiteoutStyle]:
    style: WhiteoutStyle = draw(st.sampled_from(["oci", "overlayfs"]))
    return draw(st.lists(entry(style), max_size=8)), style


@settings(max_examples=600, deadline=None)
@given(st.lists(layer(), min_size=1, max_size=4))
def test_model_equals_reference(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> None:
    assert _model(layers) == _reference(layers)


@settings(max_examples=300, deadline=None)
@given(st.lists(layer(), min_size=1, max_size=4))
def test_rolled_sizes_equal_reference(layers: list[tuple[list[Entry], WhiteoutStyle]]) -> None:
    """A live directory's rolled-up size is the regular-file bytes of the reference's paths
    under it, after whiteouts and replacements."""
    tree = apply_layers(layers)
    state = _reference(layers)
    for node, path in [(0, ""), *tree.walk_paths()]:
        if tree.is_dir(node):
            files = [a[2] for p, a in state.items() if a[0] == "file" and p.startswith(path + "/")]
            assert tree.rolled_size(node) == sum(files), path or "/"
