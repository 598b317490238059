"""Caches and junk, duplicates and the largest files."""

from __future__ import annotations

import pytest

from layerscope.engine.loading import load_image
from layerscope.model.bloat.dupes import find_duplicates
from layerscope.model.bloat.junk import CATEGORY, CLASSES, DEFAULT_CLASSES, classify, find_junk
from layerscope.model.bloat.largest import largest
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree
from tests.conftest import EXPECTED, FIXTURES

_loc = iter(range(1, 1 << 30))


def F(path: str, size: int) -> Entry:
    return Entry(path, EntryKind.FILE, size=size, loc=next(_loc))


def build(*layers: list[Entry]) -> FileTree:
    return apply_layers([(entries, "oci") for entries in layers])


def _lln(name: str) -> list[tuple[str, str, int]]:
    rows = []
    for line in (EXPECTED / "sif" / f"{name}.lln.txt").read_text().splitlines():
        if line.startswith("-"):  # regular files: "-rw-r--r-- 0/0 SIZE DATE TIME PATH"
            fields = line.split(None, 5)
            rows.append((line[0], fields[5], int(fields[2])))
    return rows


@pytest.mark.parametrize("name", ["stage1", "stage2"])
def test_sif_chain_apt_caches(name: str) -> None:
    """stage1 leaves apt caches, stage2 removed them (keeping `lock` and `partial/`):
    the expected bytes are unsquashfs's sizes under each cache directory."""
    rows = _lln(name)
    expected = {}
    for cls, top in (("apt-cache", "/var/cache/apt"), ("apt-lists", "/var/lib/apt/lists")):
        total = sum(s for t, p, s in rows if t == "-" and p.startswith(top + "/"))
        if total:
            expected[cls] = (top, total)
    img = load_image(str(FIXTURES / "sif" / f"{name}.sif"))
    try:
        junk = find_junk(img.tree)
    finally:
        img.close()
    assert {j.cls: (j.path, j.bytes) for j in junk} == expected
    assert bool(expected) == (name == "stage1")


def test_each_junk_class() -> None:
    tree = build(
        [
            F("/usr/lib/python3/x/__pycache__/m.cpython-311.pyc", 100),
            F("/src/app/.git/objects/ab", 200),
            F("/usr/lib/libfoo.a", 300),
            F("/usr/lib/libfoo.so.1", 10),
            F("/usr/lib/libbar.a", 50),  # no libbar.so: a static-only library is needed
            F("/root/.cache/pip/http/a", 400),
            F("/opt/conda/pkgs/numpy.tar.bz2", 500),
            F("/opt/conda/conda-meta/history", 1),
            F("/build/out/CACHEDIR.TAG", 43),
            F("/build/out/obj.o", 600),
            F("/core", 700),
            F("/tmp/scratch", 800),
            F("/usr/share/doc/pkg/README", 900),
            F("/var/cache/apt/archives/lock", 0),
        ]
    )
    got = {(j.cls, j.path, j.bytes) for j in find_junk(tree)}
    assert got == {
        ("pycache", "/usr/lib/python3/x/__pycache__", 100),
        ("git", "/src/app/.git", 200),
        ("static-lib", "/usr/lib/libfoo.a", 300),
        ("pip-cache", "/root/.cache/pip", 400),
        ("conda-pkgs", "/opt/conda/pkgs", 500),
        ("tagged-cache", "/build/out", 643),
        ("core", "/core", 700),
        ("tmp", "/tmp", 800),
    }
    with_docs = find_junk(tree, DEFAULT_CLASSES | {"docs"})
    assert ("docs", "/usr/share/doc", 900) in {(j.cls, j.path, j.bytes) for j in with_docs}
    # a core dump confirmed by its bytes only when the caller can read them
    assert all(j.cls != "core" for j in find_junk(tree, is_core=lambda n: False))


def test_caches_defined_precisely() -> None:
    """Caches are downloads and indexes; a package's byte-code, static libraries and
    documentation are optional slimming, never counted as caches (issue 16)."""
    tree = build(
        [
            F("/usr/lib/python3/dist-packages/np/core.py", 5),
            F("/usr/lib/python3/dist-packages/np/__pycache__/core.cpython-311.pyc", 100),
            F("/srv/app/main.py", 5),
            F("/srv/app/__pycache__/main.cpython-311.pyc", 30),
            F("/usr/lib/x86_64-linux-gnu/libm.a", 300),
            F("/usr/lib/x86_64-linux-gnu/libm.so.6", 10),
            F("/root/.cache/matplotlib/fontlist.json", 40),
            F("/root/.cargo/registry/cache/x.crate", 50),
            F("/var/cache/dnf/repo.solv", 60),
            F("/home/u/.cache/pip/http/a", 70),
            F("/usr/local/share/.cache/yarn/v6/x", 80),
        ]
    )
    owned = {"/usr/lib/python3/dist-packages/np/core.py"}
    got = {(j.cls, j.category, j.path) for j in find_junk(tree, owned=owned.__contains__)}
    assert got == {
        ("package-pycache", "slimming", "/usr/lib/python3/dist-packages/np/__pycache__"),
        ("pycache", "cache", "/srv/app/__pycache__"),
        ("static-lib", "slimming", "/usr/lib/x86_64-linux-gnu/libm.a"),
        ("user-cache", "cache", "/root/.cache/matplotlib"),
        ("cargo-cache", "cache", "/root/.cargo/registry"),
        ("os-pkg-cache", "cache", "/var/cache/dnf"),
        ("pip-cache", "cache", "/home/u/.cache/pip"),
        ("npm-cache", "cache", "/usr/local/share/.cache/yarn"),
    }
    assert set(CLASSES) == set(CATEGORY)


def test_classify_names_the_cache_a_deleted_path_was_in() -> None:
    assert classify("/var/cache/apt/archives/x.deb") == "apt-cache"
    assert classify("/var/lib/apt/lists/foo_Packages") == "apt-lists"
    assert classify("/home/u/.cache/pip/wheels/x.whl") == "pip-cache"
    assert classify("/app/main.py") is None


def test_duplicates_by_size_then_content_and_hard_links_are_one_copy() -> None:
    tree = build(
        [
            F("/a", 100),
            F("/b", 100),  # same size, same content as /a
            F("/c", 100),  # same size, other content
            F("/d", 7),
            Entry("/a-link", EntryKind.FILE, size=0, hardlink="/a"),
        ],
        [F("/e", 100)],  # same content as /a, another layer
    )
    content = {"/a": b"A", "/b": b"A", "/c": b"C", "/e": b"A", "/d": b"D"}
    asked: list[str] = []

    def digest(node: int) -> bytes:
        asked.append(tree.path(node))
        return content[tree.path(node)]

    r = find_duplicates(tree, digest)
    assert [(s.paths, s.layers, s.savings) for s in r.sets] == [
        (["/a", "/b", "/e"], [0, 0, 1], 200)
    ]
    assert r.total_savings == 200 and r.complete
    assert "/d" not in asked and "/a-link" not in asked  # unique size; a hard link


def test_duplicates_report_incomplete_when_the_digest_gives_up() -> None:
    tree = build([F("/a", 5), F("/b", 5)])
    r = find_duplicates(tree, lambda n: None)
    assert r.sets == [] and not r.complete


def test_largest_files_dirs_and_per_layer() -> None:
    tree = build(
        [F("/big", 1000), Entry("/d", EntryKind.DIR), F("/d/x", 300), F("/d/y", 200)],
        [F("/big", 10), F("/new", 50)],
    )
    big = largest(tree, top=2, per_layer=2)
    assert [(s.path, s.size) for s in big.files] == [("/d/x", 300), ("/d/y", 200)]
    assert [(s.path, s.size) for s in big.dirs] == [("/d", 500)]
    assert [(s.path, s.size, s.visible) for s in big.per_layer[0]] == [
        ("/big", 1000, False),
        ("/d/x", 300, True),
    ]
    assert [(s.path, s.size) for s in big.per_layer[1]] == [("/new", 50), ("/big", 10)]
