"""Pilot tests of the dialogs, screens and app-level behaviour: inspect, help, save, the
command palette, stage stacks, errors, cancelling, a small terminal."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from layerscope.errors import Cancelled, UnsupportedFormatError
from layerscope.ui.app import LayerscopeApp
from layerscope.ui.keys import VIEW_KEYS
from layerscope.ui.screens.error import ErrorScreen
from layerscope.ui.screens.help import HelpScreen
from layerscope.ui.screens.inspect import InspectScreen
from layerscope.ui.screens.save import ConfirmScreen, SaveScreen
from layerscope.ui.widgets.layers import LayersTable
from layerscope.ui.widgets.preview import PreviewView
from tests.ui.helpers import (
    DEF,
    current,
    running,
    shown,
    sync,
    tree_of,
)
from tests.ui.stories import BASE, OCI, SIZE, STAGES, goto, settle


@sync
async def test_inspect_and_help_screens() -> None:
    async with running(BASE) as (pilot, screen):
        await pilot.press("i")
        assert isinstance(pilot.app.screen, InspectScreen)
        text = pilot.app.screen.text.plain
        assert DEF.read_text().splitlines()[0] in text
        assert "Def.FILE" in text and "FS (Squashfs/*System/amd64)" in text
        assert "org.example.stage" in text and "Runscript" in text
        await pilot.press("escape")
        assert current(pilot) is screen
        await pilot.press("question_mark")
        assert isinstance(current(pilot), HelpScreen)
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(current(pilot), HelpScreen)
        await pilot.press("q")  # closes help, does not quit
        assert current(pilot) is screen


def test_help_lists_every_key() -> None:
    from rich.console import Console

    from layerscope.ui.keys import ALL_KEYS
    from layerscope.ui.screens.help import keys_table

    console = Console(width=200, record=True)
    console.print(keys_table())
    text = console.export_text()
    for key in ALL_KEYS:
        assert key.description in text and (key.label or key.keys) in text


@sync
async def test_save_asks_before_overwriting(tmp_path: Path) -> None:
    async with running(BASE) as (pilot, screen):
        await goto(pilot, "/.singularity.d/Singularity")
        await pilot.press("s")
        dialog = pilot.app.screen
        assert isinstance(dialog, SaveScreen)
        dialog.query_one("#save-dir", Input).value = str(tmp_path)
        await pilot.press("enter")
        await settle(pilot)
        saved = tmp_path / "Singularity"
        assert saved.read_bytes() == DEF.read_bytes()
        saved.write_text("mine")
        await pilot.press("s")
        pilot.app.screen.query_one("#save-dir", Input).value = str(tmp_path)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(current(pilot), ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert saved.read_text() == "mine"
        await pilot.press("s")
        pilot.app.screen.query_one("#save-dir", Input).value = str(tmp_path)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert saved.read_bytes() == DEF.read_bytes()
        await goto(pilot, "/etc")
        await pilot.press("s")
        assert current(pilot) is screen  # directories are not saved


@sync
async def test_command_palette_offers_the_actions() -> None:
    async with running(BASE) as (pilot, screen):
        app = pilot.app
        titles = {c.title for c in app.get_system_commands(screen)}
        for key in VIEW_KEYS:
            if key.palette:
                assert key.description in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"attributes")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert screen.show_attrs


@sync
async def test_three_stage_stack() -> None:
    async with running(*STAGES) as (pilot, screen):
        table = screen.query_one(LayersTable)
        assert [table.get_row_at(i)[1] for i in range(3)] == [
            "stage1.sif",
            "stage2.sif",
            "final.sif",
        ]
        await pilot.press("down", "down")
        await settle(pilot)
        lines = shown(screen)
        assert lines["/etc/motd"] == "D"
        assert lines["/etc/pkgx/config.ini"] == "M"
        assert lines["/usr/local/bin/pkgx-helper"] == "M"
        await goto(pilot, "/etc/pkgx/config.ini")
        p = screen.query_one(PreviewView).preview
        assert p is not None and p.kind == "diff"
        assert p.lines[0].plain.endswith("(stage stage2.sif)")


@sync
async def test_error_screen_then_exit_code() -> None:
    app = LayerscopeApp(["fixtures/sif/corrupt/not-a-sif.sif"], theme="textual-dark")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ErrorScreen)
        shown_text = str(app.screen.query_one("#error-text", Static).render())
        assert "not-a-sif.sif: unrecognised format" in shown_text
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_code == 3
    assert isinstance(app.return_value, UnsupportedFormatError)


@sync
async def test_loading_can_be_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    started = threading.Event()

    def slow_open(refs: list[str], options: object, progress: object, cancel: object) -> None:
        started.set()
        assert hasattr(cancel, "wait")
        cancel.wait(10)
        raise Cancelled("cancelled")

    monkeypatch.setattr("layerscope.ui.screens.view.open_stack", slow_open)
    app = LayerscopeApp([BASE], theme="textual-dark")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert started.wait(5)
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_code == 130


@sync
async def test_small_terminal_and_quit() -> None:
    async with running(OCI, size=(80, 24)) as (pilot, screen):
        tree = tree_of(screen)
        assert tree.size.height > 3 and tree.rows is not None and len(tree.rows) > 0
        await pilot.press("q")
        await pilot.pause()
    assert pilot.app.return_code == 0
