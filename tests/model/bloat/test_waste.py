"""Honest reclaimable bytes: synthetic stacks for each reason, and the fixtures against
what reference tools (sqfsdiff/umoci snapshots, tar, unsquashfs) say each layer removed
or superseded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerscope.engine.hashing import ContentHasher
from layerscope.engine.loading import load_image
from layerscope.model.bloat.waste import reclaimable
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree
from tests.conftest import EXPECTED, FIXTURES

_loc = iter(range(1, 1 << 30))


def F(path: str, size: int, mode: int = 0o644, loc: int | None = None) -> Entry:
    return Entry(path, EntryKind.FILE, mode=mode, size=size, loc=next(_loc) if loc is None else loc)


def D(path: str) -> Entry:
    return Entry(path, EntryKind.DIR, mode=0o755)


def WH(path: str) -> Entry:
    return Entry(path, EntryKind.FILE, mode=0, size=0)


def build(*layers: list[Entry]) -> FileTree:
    return apply_layers([(entries, "oci") for entries in layers])


def test_whiteout_of_a_directory_and_an_opaque_directory_hide_every_file_once() -> None:
    base = [
        D("/d"),
        F("/d/a", 10),
        D("/d/sub"),
        F("/d/sub/b", 20),
        D("/o"),
        F("/o/x", 30),
        D("/o/deep"),
        F("/o/deep/y", 40),
        F("/keep", 5),
    ]
    top = [WH("/.wh.d"), D("/o"), WH("/o/.wh..wh..opq"), F("/o/new", 1)]
    r = reclaimable(build(base, top))
    assert r.total == 10 + 20 + 30 + 40
    assert {(w.path, w.reason, w.layer, w.hidden_by) for w in r.items} == {
        ("/d/a", "whiteout", 0, 1),
        ("/d/sub/b", "whiteout", 0, 1),
        ("/o/x", "opaque", 0, 1),
        ("/o/deep/y", "opaque", 0, 1),
    }
    assert r.written_by_layer == [100, 0] and r.hidden_by_layer == [0, 100]
    assert r.by_reason == {"whiteout": 30, "opaque": 70}


@pytest.mark.parametrize(
    ("same", "mode", "reason"),
    [
        (True, 0o755, "attribute-only"),
        (True, 0o644, "unchanged-rewrite"),
        (False, 0o755, "shadowed"),
        (None, 0o755, "shadowed"),  # content unknown (no hashing allowed): not claimed
    ],
)
def test_same_size_rewrites_are_classified_by_content(
    same: bool | None, mode: int, reason: str
) -> None:
    tree = build([F("/f", 40)], [F("/f", 40, mode=mode)])
    r = reclaimable(tree, lambda a, b: same)
    assert [(w.path, w.size, w.reason, w.layer, w.hidden_by) for w in r.items] == [
        ("/f", 40, reason, 0, 1)
    ]


def test_a_hard_link_keeps_its_bytes_alive_and_is_never_counted_twice() -> None:
    base = [F("/a", 50, loc=900), Entry("/b", EntryKind.FILE, size=0, hardlink="/a")]
    assert reclaimable(build(base, [WH("/.wh.a")])).total == 0
    both = reclaimable(build(base, [WH("/.wh.a"), WH("/.wh.b")]))
    assert both.total == 50 and len(both.items) == 1
    # a later layer links to the lower file, then the original name is deleted
    cross = build(
        [F("/a", 50, loc=901)],
        [Entry("/c", EntryKind.FILE, size=0, hardlink="/a")],
        [WH("/.wh.a")],
    )
    assert reclaimable(cross).total == 0


def test_type_changes_and_implicit_parents() -> None:
    tree = build(
        [F("/f", 7), D("/d"), F("/d/x", 8), F("/p", 9)],
        [D("/f"), F("/d", 1), F("/p/q", 2)],
    )
    r = reclaimable(tree)
    got = {(w.path, w.reason, w.hidden_by) for w in r.items}
    assert got == {("/f", "replaced", 1), ("/d/x", "replaced", 1), ("/p", "implicit", 1)}
    assert r.total == 7 + 8 + 9


def test_a_path_written_twice_in_one_layer_wastes_the_first_copy() -> None:
    r = reclaimable(build([F("/f", 11), F("/f", 12)]))
    assert [(w.size, w.layer, w.hidden_by, w.reason) for w in r.items] == [(11, 0, 0, "shadowed")]


def test_nothing_is_reclaimable_in_a_single_layer_image_without_rewrites() -> None:
    assert reclaimable(build([D("/a"), F("/a/b", 3), F("/c", 4)])).total == 0


def _opaque_dirs(tv: Path) -> list[str]:
    return [
        "/" + line.split()[5].rsplit("/", 1)[0]
        for line in tv.read_text().splitlines()
        if line.split()[5].endswith("/.wh..wh..opq")
    ]


def test_app_1_0_matches_what_each_layer_removed_or_superseded() -> None:
    """Expected items come from the reference tools' per-layer changes (umoci snapshots
    diffed by sqfsdiff) and the layers' tar listings."""
    expected: set[tuple[str, int, int, str]] = set()
    for n in range(2, 6):
        changes = json.loads((EXPECTED / "oci" / f"app-1.0.layer{n}.changes.json").read_text())
        opaque = _opaque_dirs(EXPECTED / "oci" / f"app-1.0.layer{n}.tv.txt")
        for item in changes["removed"]:
            if item["type"] == "file" and item["size"]:
                hidden = any(item["path"].startswith(d + "/") for d in opaque)
                expected.add(
                    (item["path"], item["size"], n - 1, "opaque" if hidden else "whiteout")
                )
        for item in changes["modified"]:
            if item["old"]["type"] == "file":
                why = "shadowed" if "content" in item["what"] else "attribute-only"
                expected.add((item["path"], item["old"]["size"], n - 1, why))
    img = load_image(f"oci:{FIXTURES}/oci/app-layout:1.0")
    try:
        hasher = ContentHasher()
        r = reclaimable(img.tree, lambda a, b: hasher.equal(img, a, img, b))
    finally:
        img.close()
    assert {(w.path, w.size, w.hidden_by, w.reason) for w in r.items} == expected
    assert r.total == sum(e[1] for e in expected)
    for layer in range(5):
        assert r.hidden_by_layer[layer] == sum(e[1] for e in expected if e[2] == layer)
    # the apt caches: written by the install layer (1), removed by the cleanup layer (2)
    apt = [w for w in r.items if w.path.startswith(("/var/cache/apt/", "/var/lib/apt/"))]
    assert apt and all((w.layer, w.hidden_by, w.reason) == (1, 2, "whiteout") for w in apt)


def _lln_sizes(name: str) -> dict[str, int]:
    out = {}
    for line in (EXPECTED / "sif" / f"{name}.lln.txt").read_text().splitlines():
        fields = line.split(None, 5)
        if line.startswith("-"):
            out[fields[5]] = int(fields[2])
    return out


def test_sif_overlay_whiteout_opaque_and_modified_file() -> None:
    base = _lln_sizes("alpine-like-base")
    img = load_image(str(FIXTURES / "sif" / "with-overlay.sif"))
    try:
        r = reclaimable(img.tree)
    finally:
        img.close()
    assert {(w.path, w.size, w.reason, w.layer, w.hidden_by) for w in r.items} == {
        ("/etc/motd", base["/etc/motd"], "whiteout", 0, 1),
        (
            "/usr/share/doc/layerscope-base/README",
            base["/usr/share/doc/layerscope-base/README"],
            "opaque",
            0,
            1,
        ),
        ("/etc/hostname", base["/etc/hostname"], "shadowed", 0, 1),
    }
