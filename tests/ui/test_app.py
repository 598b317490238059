"""Pilot tests: drive every pane and key, assert on the state behind the widgets."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from layerscope.engine.browse.changes import Status
from layerscope.engine.browse.stack import Mode
from layerscope.ui.widgets.layers import LayersTable
from layerscope.ui.widgets.preview import PreviewView
from tests.ui.helpers import (
    DEF,
    cursor_path,
    focused,
    mode_of,
    running,
    shown,
    sync,
    tree_of,
)
from tests.ui.stories import BASE, OCI, goto, settle


@sync
async def test_sif_overview() -> None:
    async with running(BASE) as (_pilot, screen):
        table = screen.query_one(LayersTable)
        assert table.row_count == 1
        assert "Bootstrap: docker From: alpine:3.18" in table.get_row_at(0)[-1]
        lines = shown(screen)
        assert len(lines) == 85 and set(lines.values()) == {"A"}
        assert tree_of(screen).line_text(0).startswith("A ")
        assert "sif" in screen.query_one("#image-details").text.plain  # type: ignore[attr-defined]
        assert focused(screen) is table  # dive starts in the layers pane


@sync
async def test_tab_and_tree_moves() -> None:
    async with running(BASE) as (pilot, screen):
        tree = tree_of(screen)
        await pilot.press("tab")
        assert focused(screen) is tree
        await pilot.press("j", "down")
        assert tree.cursor == 2
        await pilot.press("k", "up")
        assert tree.cursor == 0
        first = cursor_path(screen)
        assert first == "/lib"
        count = len(tree.rows or [])
        await pilot.press("space")  # close /lib
        assert len(tree.rows or []) == count - 2
        await pilot.press("enter")  # open it again
        assert len(tree.rows or []) == count
        await pilot.press("h")  # close
        await pilot.press("l")  # open
        await pilot.press("right")  # on an open directory: step in
        assert cursor_path(screen) == "/lib/ld-musl-x86_64.so.1"
        await pilot.press("left")  # on a file: go to the parent
        assert cursor_path(screen) == "/lib"
        await pilot.press("left")
        assert len(tree.rows or []) == count - 2
        await pilot.press("end")
        assert tree.cursor == len(tree.rows or []) - 1
        await pilot.press("home", "pagedown")
        assert tree.cursor > 10
        await pilot.press("pageup")
        assert tree.cursor == 0
        await pilot.press("shift+tab")
        assert focused(screen) is screen.query_one(LayersTable)


@sync
async def test_oci_layer_with_whiteouts() -> None:
    async with running(OCI) as (pilot, screen):
        table = screen.query_one(LayersTable)
        assert table.row_count == 5
        await pilot.press("j", "down")
        await settle(pilot)
        assert screen.step == 2
        lines = shown(screen)
        assert lines["/root/.ssh"] == "D" and lines["/root/.ssh/id_rsa"] == "D"
        assert lines["/app/static/bundle.min.js"] == "A"
        assert "U" not in {
            v
            for p, v in lines.items()
            if p
            not in (
                "/app",
                "/root",
                "/var",
                "/app/static",
                "/var/cache",
                "/var/cache/apt",
                "/var/cache/apt/archives",
                "/var/lib",
                "/var/lib/apt",
                "/var/lib/apt/lists",
            )
        }
        details = screen.query_one("#layer-details").text.plain  # type: ignore[attr-defined]
        assert "D      15" in details
        await pilot.press("k")
        await settle(pilot)
        assert screen.step == 1 and shown(screen)["/root/.ssh/id_rsa"] == "A"
        assert table.get_row_at(1)[0] == "▶"


@sync
async def test_modes_and_status_toggles() -> None:
    async with running(OCI) as (pilot, screen):
        await pilot.press("down", "down", "down", "down")
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert mode_of(screen) == Mode.AGGREGATED
        assert "aggregated" in str(tree_of(screen).border_title)
        lines = shown(screen)
        assert lines["/etc/app/config.yml"] == "A"  # added after layer 0
        assert lines["/usr/bin/bash"] == "U"
        assert [screen.query_one(DataTable).get_row_at(i)[0] for i in range(5)] == [
            "│",
            "│",
            "│",
            "│",
            "▶",
        ]
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert mode_of(screen) == Mode.LAYER
        lines = shown(screen)
        assert lines["/etc/app/config.yml"] == "M"
        assert "/usr/bin/bash" not in lines  # unchanged: hidden in the layer view
        for keys, status in (
            (("1",), Status.ADDED),
            (("3",), Status.MODIFIED),
            (("2",), Status.REMOVED),
            (("ctrl+r",), Status.REMOVED),
            (("4",), Status.UNCHANGED),
            (("ctrl+u",), Status.UNCHANGED),
        ):
            before = status in screen.hidden[Mode.LAYER]
            await pilot.press(*keys)
            await settle(pilot)
            assert (status in screen.hidden[Mode.LAYER]) != before
        assert screen.hidden[Mode.LAYER] == {Status.ADDED, Status.MODIFIED, Status.UNCHANGED}
        assert shown(screen) == {}  # layer 4 removes nothing
        assert "nothing to show" in screen.query_one(PreviewView).message.plain
        await pilot.press("1", "3")
        await settle(pilot)
        assert shown(screen)["/etc/app/config.yml"] == "M"
        assert shown(screen)["/app/current"] == "A"


@sync
async def test_filter_keys() -> None:
    async with running(OCI) as (pilot, screen):
        await pilot.press("down", "down", "down", "down", "ctrl+a")
        await settle(pilot)
        await pilot.press("slash")
        box = screen.query_one("#filter", Input)
        assert focused(screen) is box
        await pilot.press(*r"\.yml$")
        await pilot.press("enter")
        await settle(pilot)
        assert set(shown(screen)) == {"/etc", "/etc/app", "/etc/app/config.yml"}
        assert focused(screen) is tree_of(screen)
        await pilot.press("escape")
        await settle(pilot)
        assert box.has_class("hidden") and screen.pattern == ""
        assert len(shown(screen)) > 3
        await pilot.press("ctrl+f")
        assert focused(screen) is box
        await pilot.press("(")
        assert box.has_class("-invalid")  # the tree keeps the last valid filter
        await pilot.press("escape")
        await settle(pilot)
        assert screen.pattern == ""


@sync
async def test_attributes_sort_and_collapse_all() -> None:
    async with running(BASE) as (pilot, screen):
        tree = tree_of(screen)
        await pilot.press("tab")
        assert "drwx" not in tree.line_text(0)
        await pilot.press("ctrl+b")
        assert tree.line_text(0).startswith("A drwxr-xr-x")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert screen.sort == "name"
        assert tree.rows is not None
        top = [
            tree.rows.cs.name(d)
            for d, depth in zip(tree.rows.ids, tree.rows.depth, strict=True)
            if depth == 0
        ]
        assert top == sorted(top)
        count = len(tree.rows)
        await pilot.press("c")
        await settle(pilot)
        assert tree.rows is not None and not tree.rows.expanded
        assert len(tree.rows) == len(top)
        await pilot.press("c")
        await settle(pilot)
        assert tree.rows is not None and len(tree.rows) == count


@sync
async def test_text_and_hex_preview() -> None:
    async with running(BASE) as (pilot, screen):
        await goto(pilot, "/.singularity.d/Singularity")
        preview = screen.query_one(PreviewView)
        assert preview.preview is not None and preview.preview.kind == "text"
        assert [t.plain for t in preview.preview.lines] == DEF.read_text().splitlines()
        await pilot.press("x")
        await settle(pilot)
        assert preview.preview.kind == "hex" and preview.preview.data == DEF.read_bytes()
        await pilot.press("x", "p")
        await settle(pilot)
        assert not preview.display
        await pilot.press("p")
        await settle(pilot)
        assert preview.display and preview.preview.kind == "text"


@sync
async def test_diff_preview_of_a_modified_file() -> None:
    async with running(OCI) as (pilot, screen):
        await pilot.press("down", "down", "down", "down")
        await settle(pilot)
        await goto(pilot, "/etc/app/config.yml")
        p = screen.query_one(PreviewView).preview
        assert p is not None and p.kind == "diff"
        plain = [t.plain for t in p.lines]
        assert plain[0] == "--- /etc/app/config.yml (layer 3)"
        assert plain[1] == "+++ /etc/app/config.yml (layer 4)"
        assert any(line.startswith("+") and not line.startswith("+++") for line in plain)
        await goto(pilot, "/app/bin/run.sh")  # mode only: no diff, the change is named
        p = screen.query_one(PreviewView).preview
        assert p is not None and p.kind == "text"
        assert "mode 0644 → 0755" in p.plain()
