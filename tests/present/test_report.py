"""The report's documents without a browser: the treemap adds up and stays within its
budget at scale, Doc -> HTML escapes, the changed-entry lists summarise what they leave
out, text diffs keep to their limits, and the command's arguments and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import layerscope
from layerscope.engine.browse.stack import open_stack
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layer
from layerscope.model.tree import FileTree
from layerscope.present import treemap as tmod
from layerscope.present.doc import Doc, image
from layerscope.present.entries import LsEntry
from layerscope.present.htmldoc import doc_html
from layerscope.present.report import build
from layerscope.present.report.html import render, treemap_data
from layerscope.present.textdiff import MAX_FILE_BYTES, text_diffs
from tests.cli.run import cli, proc
from tests.conftest import FIXTURES

SIF = FIXTURES / "sif"
OCI = f"oci:{FIXTURES / 'oci' / 'app-layout'}"


def _check_views(tm: tmod.Treemap) -> None:
    for view in tm.views:
        top = [r for r in view.rects if r[5] == 0]
        for _, x, y, w, h, _ in view.rects:
            assert x >= 0 and y >= 0 and x + w <= tm.width + 1 and y + h <= tm.height + 1
        # the directory's own children tile without overlapping (1 px of rounding)
        for i, a in enumerate(top):
            for b in top[i + 1 :]:
                overlap_w = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
                overlap_h = min(a[2] + a[4], b[2] + b[4]) - max(a[2], b[2])
                assert overlap_w <= 1 or overlap_h <= 1, (a, b)


@pytest.mark.parametrize("ref", [str(SIF / "final.sif"), f"{OCI}:1.0", f"{OCI}:1.1"])
def test_treemap_adds_up_to_the_final_tree(ref: str) -> None:
    with layerscope.open(ref) as img:
        tree = img.tree
        tm = tmod.build_treemap(tree, lambda n: int(tree.layer[n]))
        assert tm.total == tree.total_size() == tm.nodes[0].bytes
        assert tm.entries == tree.count()
        # the root view's children (with the summarised rest) hold every byte
        root_kids = [tm.nodes[r[0]] for r in tm.views[0].rects if r[5] == 0]
        assert sum(n.bytes for n in root_kids) == tm.total
        _check_views(tm)
        for n in tm.nodes:
            if n.kind == "file":
                assert 0 <= n.owner < len(img.layers)


def test_composed_views_nest_inside_their_directories() -> None:
    with layerscope.open(f"{OCI}:1.0") as img:
        tm = tmod.build_treemap(img.tree, lambda n: int(img.tree.layer[n]))
    boxes = {r[0]: r for r in tm.views[0].rects}
    nested = [r for r in tmod.compose(tm, 0) if r[5] == 1]
    assert nested
    for n, x, y, w, h, _ in nested:
        px, py, pw, ph = boxes[tm.nodes[n].parent][1:5]
        assert px <= x and x + w <= px + pw + 1 and py + tmod.HEADER <= y
        assert y + h <= py + ph + 1


def test_treemap_hard_links_count_once() -> None:
    tree = FileTree()
    entries = [
        Entry("/a", EntryKind.DIR),
        Entry("/b", EntryKind.DIR),
        Entry("/a/big", EntryKind.FILE, size=1000, ino=7),
        Entry("/b/link", EntryKind.FILE, size=1000, ino=7),
        Entry("/b/other", EntryKind.FILE, size=10),
    ]
    apply_layer(tree, 0, entries, "none")
    tm = tmod.build_treemap(tree, lambda _n: 0)
    assert tm.total == 1010 == tree.total_size()
    by_path = {tm.path(i): n.bytes for i, n in enumerate(tm.nodes) if n.kind != "other"}
    # the linked content is drawn once, at one of its names; the other name holds 0 bytes
    assert by_path.get("/a/big", 0) + by_path.get("/b/link", 0) == 1000
    assert by_path.get("/a", 0) + by_path.get("/b", 0) == 1010


def test_treemap_budget_at_scale() -> None:
    """200,000 files in 2,000 directories: views and rectangles stay within the budget and
    what is not drawn is summarised with its count and bytes."""
    tree = FileTree()
    entries = []
    for d in range(2000):
        entries.append(Entry(f"/d{d:04}", EntryKind.DIR))
        entries.extend(
            Entry(f"/d{d:04}/f{f:03}", EntryKind.FILE, size=(d * 7 + f * 13) % 5000 + 1)
            for f in range(100)
        )
    apply_layer(tree, 0, entries, "none")
    tm = tmod.build_treemap(tree, lambda n: n % 3)
    assert tm.total == tree.total_size()
    rects = sum(len(v.rects) for v in tm.views)
    assert rects <= tmod.MAX_RECTS + tmod.MAX_KIDS + 1
    assert len(tm.views) <= tmod.MAX_VIEWS
    assert tm.shown < tm.entries == 202_000
    others = [n for n in tm.nodes if n.kind == "other"]
    assert others and all(n.count > 0 and n.bytes > 0 for n in others)
    data = json.dumps(treemap_data(tm, ["a", "b", "c"]))
    assert len(data) < 1_000_000
    _check_views(tm)


def test_doc_html_escapes_and_styles() -> None:
    doc = Doc()
    doc.title("Title <b>")
    doc.line(("+ added", "added"), image("</style><script>x</script>\x1b[2J"))
    html = str(doc_html(doc))
    assert "<script>" not in html and "</style>" not in html
    assert "&lt;/style&gt;&lt;script&gt;x&lt;/script&gt;\\x1b[2J" in html
    assert '<span class="d-title">Title &lt;b&gt;</span>' in html
    assert '<span class="d-added">+ added</span>' in html


def _entry(path: str, size: int) -> LsEntry:
    return LsEntry(path, "file", 0o644, 0, 0, size, 0, None, None, 1, {}, 0)


def test_change_rows_keep_the_largest_and_summarise_the_rest() -> None:
    n = build.ROWS_PER_STATUS + 50
    doc = {
        "added": [_entry(f"/a/{i}", i + 1) for i in range(n)],
        "removed": [_entry("/r/x<y>", 5)],
        "modified": [],
    }
    rows, unlisted = build.change_rows(doc)
    added = [r for r in rows if r.status == "added"]
    assert len(added) == build.ROWS_PER_STATUS and added[0].delta == n
    assert unlisted == {"added": (50, sum(range(1, 51)))}
    assert [r.delta for r in rows if r.status == "removed"] == [-5]


def test_text_diffs_within_limits(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root, v in ((a, 1), (b, 2)):
        root.mkdir()
        (root / "conf").write_text(f"x = {v}\ncommon\n")
        (root / "bin").write_bytes(bytes([0, v]) * 10)
        (root / "huge").write_text(str(v) * (MAX_FILE_BYTES + 1))
    with layerscope.open(str(a)) as ia, layerscope.open(str(b)) as ib:
        got = {f.path: f for f in text_diffs(ia.diff(ib))}
    lines = list(got["/conf"].doc.plain()) if got["/conf"].doc else []
    assert "-x = 1" in lines and "+x = 2" in lines and " common" in lines
    assert got["/bin"].doc is None and "binary" in got["/bin"].note
    assert got["/huge"].doc is None and "larger than" in got["/huge"].note


def test_portability_section_appears_when_given() -> None:
    stack = open_stack([str(SIF / "final.sif")])
    try:
        assert stack.final is not None
        report = stack.final.analyze()
        plain = render(build.build_page(stack, report))
        doc = Doc()
        doc.field("ISA level", "x86-64-v3 </b>")
        with_it = render(build.build_page(stack, report, portability=doc))
    finally:
        stack.close()
    assert 'id="portability"' not in plain
    assert 'id="portability"' in with_it and "x86-64-v3 &lt;/b&gt;" in with_it


def test_report_to_stdout_with_check(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    r = cli(capsysbinary, "report", str(SIF / "final.sif"), "-o", "-",
            "--rule", "lowest-efficiency=0.99", "--rule", "max-image-size=1MB")  # fmt: skip
    assert r.code == 0, r.err
    html = r.out.decode()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    check = cli(capsysbinary, "check", str(SIF / "final.sif"), "--json",
                "--rule", "lowest-efficiency=0.99", "--rule", "max-image-size=1MB")  # fmt: skip
    assert check.code == 1
    assert check.json()["result"] == "FAIL"
    assert 'id="sum-check" data-value="FAIL"' in html
    for rule in check.json()["rules"]:
        assert f"<td>{rule['status']}</td><td>{rule['key']}</td>" in html
    # nothing is loaded from elsewhere: no src or href leaves the page
    assert not re.search(r"""\b(src|href)=["'](?!#)""", html)
    assert "default-src &#39;none&#39;" in html


def test_report_arguments_and_exit_codes(tmp_path: Path) -> None:
    sif = tmp_path / "copy.sif"
    sif.write_bytes((SIF / "final.sif").read_bytes())
    r = proc("report", str(sif), "-o", str(sif))
    assert r.code == 2 and "reads" in r.err and sif.read_bytes()[:4] != b"<!DO"
    r = proc("report", str(tmp_path / "gone.sif"), "-o", str(tmp_path / "r.html"))
    assert r.code == 2 and r.err.count("\n") == 1
    r = proc("report", str(SIF / "corrupt" / "bad-magic.sif"), "-o", str(tmp_path / "r.html"))
    assert r.code == 3 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert not (tmp_path / "r.html").exists()
    r = proc("report", str(SIF / "final.sif"), "-o", str(tmp_path))
    assert r.code == 2
    r = proc("report", str(SIF / "final.sif"), "-o", str(tmp_path / "r.html"))
    assert r.code == 0 and (tmp_path / "r.html").stat().st_size > 1000
    assert list(tmp_path.glob(".report-*")) == []  # written whole, then renamed
