"""Pilot tests of the diff screen (`layerscope diff A B` on a terminal): rows and markers
against the reference change lists (sqfsdiff, umoci), size deltas against the reference
sizes, the preview's unified diff against the definition files, the metadata tab, keys,
exit status, a small terminal."""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from textual.pilot import Pilot

from layerscope.engine.browse.changes import Status
from layerscope.ui.app import make_diff_app
from layerscope.ui.keys import DIFF_KEYS
from layerscope.ui.screens.diff import DiffScreen
from layerscope.ui.screens.help import HelpScreen
from layerscope.ui.screens.inspect import MetadataScreen
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.preview import PreviewView
from tests.conftest import EXPECTED, ROOT
from tests.ui.helpers import current, sync
from tests.ui.stories import OCI, OCI_NEXT, SIZE, STAGES, goto, settle

DEFS = ROOT / "fixtures" / "sif" / "defs"


@asynccontextmanager
async def diffing(
    a: str, b: str | None, layer: int | None = None, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[Pilot[Any], DiffScreen]]:
    app = make_diff_app(a, b, layer, theme="textual-dark")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        yield pilot, screen


def rows_of(screen: DiffScreen) -> dict[str, str]:
    tree = screen.query_one(FileTreeView)
    assert tree.rows is not None
    cs = tree.rows.cs
    return {cs.path(d): cs.status(d).letter for d in tree.rows.ids}


def delta_of(screen: DiffScreen, path: str) -> int:
    assert screen.cs is not None
    d = screen.cs.lookup(path)
    assert d is not None, path
    return screen.cs.delta(d)


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXPECTED / name).read_text())
    return data


def marked(reference: dict[str, Any]) -> dict[str, str]:
    out = {e["path"]: "A" for e in reference["added"]}
    out.update({e["path"]: "D" for e in reference["removed"]})
    out.update({e["path"]: "M" for e in reference["modified"]})
    return out


def text_of(screen: object, pane: str) -> str:
    assert isinstance(screen, DiffScreen)
    return screen.query_one(pane, DetailsPane).text.plain


@sync
async def test_sif_stages_rows_markers_and_deltas() -> None:
    ref = expected("sif/stage1__stage2.changes.json")
    async with diffing(STAGES[0], STAGES[1]) as (_, screen):
        rows = rows_of(screen)
        # every change the reference lists is a row with its marker; the other rows are
        # only their directories (unchanged entries are hidden by default)
        want = marked(ref)
        assert {p: rows[p] for p in want} == want
        assert set(rows.values()) - {"U"} <= {"A", "M", "D"}
        for path, letter in rows.items():
            if letter == "U":
                assert any(p.startswith(path + "/") for p in want), path
        # deltas: a file by its reference sizes; directories rolled up
        sizes = {e["path"]: e["size"] for e in ref["added"] + ref["removed"]}
        assert delta_of(screen, "/opt/data/model.bin") == sizes["/opt/data/model.bin"]
        archives = "/var/cache/apt/archives"
        gone = [p for p in sizes if p.startswith(archives + "/")]
        assert gone and delta_of(screen, archives) == -sum(sizes[p] for p in gone)
        assert delta_of(screen, "/var/cache") == delta_of(screen, archives)
        for m in ref["modified"]:
            if m["old"]["type"] == m["new"]["type"] == "file":
                assert delta_of(screen, m["path"]) == m["new"]["size"] - m["old"]["size"]
        tree = screen.query_one(FileTreeView)
        assert tree.select_path("/opt/data/model.bin")
        assert "+5.2 MB" in tree.line_text(tree.cursor)  # 5 MiB, in SI units as dive shows
        summary = text_of(screen, "#diff-summary")
        assert STAGES[0] in summary and STAGES[1] in summary
        assert f"A {len(ref['added']):>5,} added" in summary
        assert f"D {len(ref['removed']):>5,} removed" in summary
        assert screen.quit_status == 1


@sync
async def test_text_file_diff_and_old_new_attributes() -> None:
    old, new = (DEFS / "stage1.def").read_text(), (DEFS / "stage2.def").read_text()
    changed = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    async with diffing(STAGES[0], STAGES[1]) as (pilot, screen):
        await goto(pilot, "/.singularity.d/Singularity")
        preview = screen.query_one(PreviewView).preview
        assert preview is not None and preview.kind == "diff"
        body = preview.plain().splitlines()
        assert changed and all(line in body for line in changed)
        entry = text_of(screen, "#entry")
        assert "changed: content, size" in entry
        assert f"A {len(old.encode())} B" in entry and f"B {len(new.encode())} B" in entry
        # a binary file: hex summary
        await goto(pilot, "/opt/data/model.bin")
        preview = screen.query_one(PreviewView).preview
        assert preview is not None and preview.kind == "hex"


@sync
async def test_metadata_tab_sif_definition_diff() -> None:
    old, new = (DEFS / "stage1.def").read_text(), (DEFS / "stage2.def").read_text()
    async with diffing(STAGES[0], STAGES[1]) as (pilot, screen):
        await pilot.press("m")
        await settle(pilot)
        meta = current(pilot)
        assert isinstance(meta, MetadataScreen)
        text = meta.text.plain
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm=""):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                assert f"  {line}" in text.splitlines()
        assert "Definition file" in text and "Runscript" in text
        await pilot.press("m")
        await settle(pilot)
        assert current(pilot) is screen


@sync
async def test_oci_versions_rows_and_metadata() -> None:
    ref = expected("oci/app-1.0__app-1.1.changes.json")
    labels_a = json.loads((EXPECTED / "oci/app-1.0.config.json").read_text())["config"]["Labels"]
    labels_b = json.loads((EXPECTED / "oci/app-1.1.config.json").read_text())["config"]["Labels"]
    key = "org.opencontainers.image.version"
    async with diffing(OCI, OCI_NEXT) as (pilot, screen):
        want = marked(ref)
        rows = rows_of(screen)
        assert {p: rows[p] for p in want} == want
        # modified symlink target and removed dir: markers shown, deltas from the reference
        for e in ref["added"]:
            if e["type"] == "file":
                assert delta_of(screen, e["path"]) == e["size"]
        assert "shared layers: 1" in text_of(screen, "#diff-summary")
        # the command palette offers the metadata tab
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Metadata differences")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        meta = current(pilot)
        assert isinstance(meta, MetadataScreen)
        text = meta.text.plain
        assert f"~ {key}: {labels_a[key]} -> {labels_b[key]}" in text
        assert "History" in text


@sync
async def test_filters_sort_regex_and_unchanged() -> None:
    async with diffing(OCI, OCI_NEXT) as (pilot, screen):
        screen.query_one(FileTreeView).focus()
        await pilot.press("1")  # hide added
        await settle(pilot)
        assert "A" not in set(rows_of(screen).values())
        await pilot.press("1", "4")  # added back, unchanged shown
        await settle(pilot)
        await pilot.press("c")  # collapse all, then open all
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert Status.UNCHANGED.letter in rows_of(screen).values()
        await pilot.press("4", "slash", *"static", "enter")
        await settle(pilot)
        rows = rows_of(screen)
        assert rows and all("static" in p or "/app/static".startswith(p) for p in rows)
        assert "/static/" in (screen.query_one(FileTreeView).border_subtitle or "")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert screen.sort == "name"


@sync
async def test_help_lists_the_diff_keys() -> None:
    async with diffing(STAGES[0], STAGES[1]) as (pilot, _):
        await pilot.press("question_mark")
        await settle(pilot)
        help_screen = current(pilot)
        assert isinstance(help_screen, HelpScreen)
        assert help_screen.keys[: len(DIFF_KEYS)] == DIFF_KEYS
        assert any(k.keys == "m" for k in help_screen.keys)
        assert not any(k.action == "inspect" for k in help_screen.keys)


@sync
async def test_layer_diff_and_quit_status() -> None:
    ref = expected("oci/app-1.0.layer3.changes.json")  # numbered from 1; --layer from 0
    async with diffing(OCI, None, layer=2) as (pilot, screen):
        want = marked(ref)
        rows = rows_of(screen)
        assert {p: rows[p] for p in want} == want
        assert "Layer 2" in str(screen.query_one(FileTreeView).border_title)
        await pilot.press("q")
        await settle(pilot)
    assert pilot.app.return_code == 1


@sync
async def test_same_image_two_formats_quits_zero_at_80x24() -> None:
    sif = "fixtures/sif/alpine-like-base.sif"
    async with diffing(sif, sif, size=(80, 24)) as (pilot, screen):
        assert screen.quit_status == 0
        assert rows_of(screen) == {}
        assert "no differences" in text_of(screen, "#diff-summary")
        await pilot.press("q")
        await settle(pilot)
    assert pilot.app.return_code == 0
