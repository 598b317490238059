"""The UI's Textual-free parts: tree lines, previews, saving, formatting."""

from __future__ import annotations

import difflib
import os
import subprocess
from pathlib import Path

import pytest

from layerscope.engine.browse.changes import Status
from layerscope.engine.browse.stack import Mode, Stack, open_stack
from layerscope.errors import UsageError
from layerscope.ui.fmt import bar, human_size, safe
from layerscope.ui.preview_model import HEX_WIDTH, build_preview, hex_line
from layerscope.ui.rows import BIG_DIR, SORT_NAME, SORT_SIZE, Rows
from layerscope.ui.save import ExistsError, save_file, target_path
from tests.conftest import EXPECTED, FIXTURES, require_tool

OCI_DIR = FIXTURES / "oci" / "app-layout"
OCI = f"oci:{OCI_DIR}:1.0"
BASE = str(FIXTURES / "sif" / "alpine-like-base.sif")
DEF = FIXTURES / "sif" / "defs" / "alpine-like-base.def"


@pytest.fixture(scope="module")
def sif() -> Stack:
    return open_stack([BASE])


@pytest.fixture(scope="module")
def oci() -> Stack:
    return open_stack([OCI])


def lln_sizes() -> dict[str, int]:
    """Path -> size from `unsquashfs -lln` (the reference listing)."""
    out = {}
    for line in (EXPECTED / "sif" / "alpine-like-base.lln.txt").read_text().splitlines():
        if line[0] in "cb":
            continue  # devices print "major, minor" instead of a size
        fields = line.split(None, 5)
        path = fields[5].split(" -> ")[0]
        out[path] = int(fields[2])
    return out


def test_rows_open_small_trees_fully_sorted_by_size(sif: Stack) -> None:
    cs = sif.change_set(0)
    rows = Rows(cs, None, SORT_SIZE)
    rows.build()
    assert len(rows) == 85  # every entry: the tree is small enough to open whole
    sizes = lln_sizes()
    top = [cs.path(d) for d, depth in zip(rows.ids, rows.depth, strict=True) if depth == 0]
    assert top[0] == "/lib"  # holds the biggest file (40960 bytes)
    files = [cs.path(d) for d in rows.children(cs.lookup("/bin") or 0)]
    assert [sizes[p] for p in files] == sorted((sizes[p] for p in files), reverse=True)


def test_rows_sort_by_name_and_collapse(sif: Stack) -> None:
    cs = sif.change_set(0)
    rows = Rows(cs, None, SORT_NAME)
    rows.build(expand_all=False)
    names = [cs.name(d) for d in rows.ids]
    assert names == sorted(names)
    etc = rows.line_of(cs.lookup("/etc") or 0)
    assert etc is not None
    n = rows.expand(etc)
    assert n == len(cs.children(cs.lookup("/etc") or 0))
    assert rows.collapse(etc) == n
    assert [cs.name(d) for d in rows.ids] == names


def test_rows_guides_like_dive(sif: Stack) -> None:
    cs = sif.change_set(0)
    rows = Rows(cs, None, SORT_NAME)
    rows.build(expand_all=False)
    last = len(rows) - 1
    assert rows.guides(last).startswith("└─")
    usr = rows.line_of(cs.lookup("/usr") or 0)
    assert usr is not None
    assert rows.guides(usr) == "├─⊕ "  # a closed directory
    rows.expand(usr)
    assert rows.guides(usr) == "├── "
    assert rows.guides(usr + 1).startswith("│   ")


def test_rows_reveal_and_filter(oci: Stack) -> None:
    cs = oci.change_set(2, Mode.LAYER)
    rows = Rows(cs, cs.visible(frozenset({Status.UNCHANGED}), None), SORT_SIZE)
    rows.build(expand_all=False)
    line = rows.reveal("/root/.ssh/id_rsa")
    assert line is not None and cs.path(rows.ids[line]) == "/root/.ssh/id_rsa"
    assert all(cs.status(d) != Status.UNCHANGED or cs.is_dir(d) for d in rows.ids)


def test_big_directories_go_to_a_worker(sif: Stack) -> None:
    rows = Rows(sif.change_set(0), None)
    assert BIG_DIR >= 1000  # the threshold keeps small trees synchronous
    assert not rows.needs_worker(0)


def test_text_preview_is_the_file(sif: Stack) -> None:
    cs = sif.change_set(0)
    node = cs.lookup("/.singularity.d/Singularity")
    assert node is not None
    p = build_preview(cs, node)
    assert p.kind == "text"
    assert [t.plain for t in p.lines] == DEF.read_text().splitlines()
    assert p.header[0].plain == "A /.singularity.d/Singularity"


def test_hex_preview(sif: Stack) -> None:
    cs = sif.change_set(0)
    node = cs.lookup("/.singularity.d/Singularity")
    assert node is not None
    p = build_preview(cs, node, hex_mode=True)
    data = DEF.read_bytes()
    assert p.kind == "hex" and p.data == data
    assert p.line_count == (len(data) + HEX_WIDTH - 1) // HEX_WIDTH
    first = hex_line(p.data, 0).plain
    assert first.startswith("00000000  " + " ".join(f"{b:02x}" for b in data[:HEX_WIDTH]))
    assert first.endswith("|Bootstrap: docke|")


def test_binary_file_previews_as_hex(oci: Stack) -> None:
    cs = oci.change_set(1)
    node = cs.lookup("/app/static/img/logo.png")
    assert node is not None
    p = build_preview(cs, node)
    assert p.kind in ("hex", "text")
    if b"\0" in p.data[:8192]:
        assert p.kind == "hex"


def test_diff_preview_matches_the_layer_blobs(oci: Stack) -> None:
    """The diff of /etc/app/config.yml, against the two versions tar extracts from the blobs."""
    tar = require_tool("tar")
    manifest = (EXPECTED / "oci" / "app-1.0.manifest.json").read_text()
    import json

    digests = [x["digest"].split(":")[1] for x in json.loads(manifest)["layers"]]

    def member(layer: int) -> list[str]:
        blob = OCI_DIR / "blobs" / "sha256" / digests[layer]
        out = subprocess.run(
            [tar, "-xzOf", str(blob), "etc/app/config.yml"], capture_output=True, check=True
        ).stdout
        return out.decode().splitlines()

    cs = oci.change_set(4, Mode.LAYER)
    node = cs.lookup("/etc/app/config.yml")
    assert node is not None and cs.status(node) == Status.MODIFIED
    p = build_preview(cs, node, labels=("layer 3", "layer 4"))
    assert p.kind == "diff"
    want = list(difflib.unified_diff(member(1), member(4), lineterm="", n=3))
    assert [t.plain for t in p.lines][2:] == want[2:]
    assert p.lines[0].plain.startswith("--- /etc/app/config.yml (layer 3)")


def test_directory_preview_lists_biggest(sif: Stack) -> None:
    cs = sif.change_set(0)
    p = build_preview(cs, cs.lookup("/lib") or 0)
    assert p.kind == "dir"
    assert "ld-musl-x86_64.so.1" in p.lines[1].plain


def test_save_writes_the_bytes_and_never_overwrites(sif: Stack, tmp_path: Path) -> None:
    cs = sif.change_set(0)
    img, node = cs.locate(cs.lookup("/.singularity.d/Singularity") or 0)
    target = target_path(str(tmp_path), "def.txt")
    assert save_file(img, node, target) == DEF.stat().st_size
    assert target.read_bytes() == DEF.read_bytes()
    target.write_text("mine")
    with pytest.raises(ExistsError):
        save_file(img, node, target)
    assert target.read_text() == "mine"
    save_file(img, node, target, overwrite=True)
    assert target.read_bytes() == DEF.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["def.txt"]  # no temporary left behind


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "/etc/passwd"])
def test_save_refuses_names_that_leave_the_directory(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError):
        target_path(str(tmp_path), name)


def test_save_refuses_symlinks_and_missing_dirs(sif: Stack, tmp_path: Path) -> None:
    cs = sif.change_set(0)
    img, node = cs.locate(cs.lookup("/etc/os-release") or 0)
    outside = tmp_path / "outside"
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(UsageError):
        save_file(img, node, target_path(str(tmp_path), "link"), overwrite=True)
    assert not outside.exists()
    with pytest.raises(UsageError):
        target_path(str(tmp_path / "missing"), "x")
    dir_img, dir_node = cs.locate(cs.lookup("/etc") or 0)
    with pytest.raises(UsageError):
        save_file(dir_img, dir_node, target_path(str(tmp_path), "etc"))


def test_formatting() -> None:
    assert human_size(0) == "0 B"
    assert human_size(999) == "999 B"
    assert human_size(1000) == "1.0 kB"  # SI units, as dive prints sizes
    assert human_size(5 * 1024 * 1024) == "5.2 MB"
    assert human_size(1_346_215_338) == "1.3 GB"
    assert bar(0.5, 4) == "██  "
    assert bar(1.0, 3) == "███"
    assert len(bar(0.3, 6)) == 6
    assert safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe(b"caf\xe9".decode("utf-8", "surrogateescape")) == "caf\\xe9"
