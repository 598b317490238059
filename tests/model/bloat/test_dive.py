"""dive's efficiency numbers: layerscope's DiveCounter against a naive reference written
from dive's definition (tests/model/bloat_reference.py), on random stacks and on every
multi-layer fixture."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerscope.engine.loading import load_image
from layerscope.model.bloat.dive import DiveCounter, dive_efficiency, dive_one_layer
from layerscope.model.entry import Entry, EntryKind
from tests.conftest import FIXTURES
from tests.model.bloat.reference import reference_dive


def F(path: str, size: int = 0) -> Entry:
    return Entry(path, EntryKind.FILE, size=size)


def D(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=0o755)


def _agree(layers: list[list[Entry]], styles: Sequence[str] | None = None) -> None:
    got = dive_efficiency(layers, styles)
    ref = reference_dive(layers, styles)
    assert got.efficiency == pytest.approx(ref.efficiency, abs=1e-9)
    assert got.wasted_bytes == ref.wasted
    assert got.layer_sizes == ref.layer_sizes
    if ref.user_percent is None:
        assert got.user_wasted_percent is None
    else:
        assert got.user_wasted_percent == pytest.approx(ref.user_percent, abs=1e-9)


def test_deleted_file_is_waste_but_a_deleted_directory_is_not() -> None:
    base = [D("/a"), F("/a/f", 100), D("/d"), F("/d/x", 30), F("/d/y", 70)]
    top = [F("/a/.wh.f"), F("/.wh.d")]
    r = dive_efficiency([base, top])
    # /a/f: 100 then a whiteout of a file (0): cumulative 100, minimum 0 -> wasted.
    # /d: whiteout of a directory counts its lower size (100) once: not wasted.
    assert r.wasted_bytes == 100
    assert [p.path for p in r.inefficiencies] == ["/a/f"]
    # minimums: /a/f 0, /d/x 30, /d/y 70, /d 100; cumulative: 100 + 30 + 70 + 100
    assert r.efficiency == pytest.approx(200 / 300)
    assert r.user_size_bytes == 0 and r.user_wasted_percent is None
    _agree([base, top])


def test_opaque_markers_count_for_nothing_and_sizes_are_tar_header_sizes() -> None:
    base = [D("/o"), F("/o/old", 500), F("/bin/perl", 40), Entry("/l", EntryKind.SYMLINK, size=9)]
    top = [
        D("/o"),
        F("/o/.wh..wh..opq"),
        F("/o/new", 10),
        Entry("/bin/perl2", EntryKind.FILE, size=40, hardlink="/bin/perl"),
    ]
    r = dive_efficiency([base, top])
    assert r.wasted_bytes == 0 and r.efficiency == 1.0
    assert r.layer_sizes == [540, 10]  # symlink and hard link headers carry no data
    _agree([base, top])


def test_whiteout_of_a_missing_path_stops_the_layer_as_dive_does() -> None:
    base = [F("/a", 10), F("/z", 5)]
    top = [F("/.wh.b"), F("/z", 7)]  # "/.wh.b" sorts first; /z is never visited
    r = dive_efficiency([base, top])
    assert r.notes and "/b" in r.notes[0]
    assert r.wasted_bytes == 0
    # dive's record for /b keeps minimum -1: sum(minimum) = 10 + 5 - 1
    assert r.efficiency == pytest.approx(14 / 15)
    _agree([base, top])


def test_overlayfs_whiteouts_count_like_oci_ones() -> None:
    base = [D("/etc"), F("/etc/motd", 47)]
    upper = [D("/etc"), Entry("/etc/motd", EntryKind.CHAR, mode=0, rdev=(0, 0))]
    r = dive_efficiency([base, upper], ["none", "overlayfs"])
    assert r.wasted_bytes == 47
    _agree([base, upper], ["none", "overlayfs"])


@st.composite
def _entry(draw: st.DrawFn) -> Entry:
    parts = draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3))
    last = draw(st.sampled_from(["plain"] * 6 + ["whiteout"] * 2 + ["opaque"]))
    if last == "whiteout":
        parts[-1] = ".wh." + parts[-1]
    elif last == "opaque":
        parts[-1] = ".wh..wh..opq"
    path = "/" + "/".join(parts)
    kind = draw(st.sampled_from(["file", "dir", "link", "symlink"]))
    if kind == "dir":
        return D(path)
    if kind == "symlink":
        return Entry(path, EntryKind.SYMLINK, size=3, target="x")
    if kind == "link":
        return Entry(path, EntryKind.FILE, size=5, hardlink="/a")
    return F(path, draw(st.integers(0, 50)))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_entry(), max_size=8), min_size=1, max_size=4))
def test_random_stacks_agree_with_the_reference(layers: list[list[Entry]]) -> None:
    _agree(layers)


@st.composite
def _no_whiteout(draw: st.DrawFn) -> Entry:
    """Entries a layer without whiteouts holds, parents often missing, opaque markers too."""
    parts = draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=4))
    if draw(st.integers(0, 6)) == 0:
        parts[-1] = ".wh..wh..opq"
    path = "/" + "/".join(parts)
    kind = draw(st.sampled_from(["file", "dir", "link"]))
    if kind == "dir":
        return D(path)
    if kind == "link":
        return Entry(path, EntryKind.FILE, size=5, hardlink="/a")
    return F(path, draw(st.integers(0, 50)))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.lists(_no_whiteout(), max_size=10), min_size=1, max_size=4),
    st.lists(st.lists(_entry(), max_size=6), max_size=2),
)
def test_layers_counted_without_trees_equal_dive_trees(
    plain: list[list[Entry]], mixed: list[list[Entry]]
) -> None:
    """Layers without whiteouts are counted from their entries alone (and the lower layers
    stacked only when a whiteout comes): every number, path and note equals the trees'."""
    for layers in (plain, plain + mixed, mixed + plain):
        fast, trees = DiveCounter(), DiveCounter(trees=True)
        for layer in layers:
            fast.add_layer(layer)
            trees.add_layer(layer)
        assert fast.result() == trees.result()


MULTI_LAYER = [
    "oci:fixtures/oci/app-layout:1.0",
    "oci:fixtures/oci/app-layout:1.1",
    "oci:fixtures/oci/app-1.0-zstd:1.0",
    "docker-archive:fixtures/docker/app-1.0.docker-archive.tar",
    "docker-archive:fixtures/docker/app-1.1.docker-archive.tar",
    "oci-archive:fixtures/oci/app-1.0.oci-archive.tar",
    "dir:fixtures/dir/app-1.0-uncompressed",
    "fixtures/sif/with-overlay.sif",
]


@given(st.lists(_entry(), max_size=12), st.sampled_from(["oci", "overlayfs", "none"]))
def test_one_layer_shortcut_equals_the_trees(layer: list[Entry], style: str) -> None:
    one = dive_one_layer(layer, style)
    full = dive_efficiency([layer], [style])
    if one is None:  # a whiteout name: the trees decide
        assert any(e.path.rpartition("/")[2].startswith(".wh.") for e in layer) or (
            style == "overlayfs" and any(e.kind == EntryKind.CHAR for e in layer)
        )
        return
    assert one == full


def test_one_layer_shortcut_on_a_sandbox_tree() -> None:
    layer = [D("/a"), F("/a/x", 10), F("/a/y", 0), D("/b"), F("/b/x", 7)]
    one = dive_one_layer(layer)
    assert one is not None and one == dive_efficiency([layer])
    assert (one.efficiency, one.wasted_bytes, one.size_bytes) == (1.0, 0, 17)
    assert dive_one_layer([*layer, F("/b/.wh.x")]) is None


@pytest.mark.parametrize("ref", MULTI_LAYER)
def test_fixtures_agree_with_the_reference(ref: str) -> None:
    ref = ref.replace("fixtures/", str(FIXTURES) + "/", 1)
    img = load_image(ref)
    try:
        layers = [list(img.reader.iter_entries(i.index)) for i in img.meta.layers]
        styles = [i.whiteouts for i in img.meta.layers]
    finally:
        img.close()
    assert len(layers) >= 2
    _agree(layers, styles)


def test_app_1_0_layer_sizes_are_the_tar_data_bytes() -> None:
    """dive's layer size = sum of tar header sizes; tar -tv lists them (reference tool)."""
    img = load_image(f"oci:{FIXTURES}/oci/app-layout:1.0")
    try:
        layers = [list(img.reader.iter_entries(i.index)) for i in img.meta.layers]
    finally:
        img.close()
    expected = []
    for n in range(1, 6):
        lines = (FIXTURES / "expected" / "oci" / f"app-1.0.layer{n}.tv.txt").read_text()
        expected.append(
            sum(int(line.split()[2]) for line in lines.splitlines() if line.startswith("-"))
        )
    assert dive_efficiency(layers).layer_sizes == expected
