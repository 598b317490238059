"""Pilot tests of "answer first, refine after" on real SIF stages (tests.pending_stages):
after a stage switch the tree pane's title and rows always name the same stage; rows whose
contents are not compared yet show "?" and turn into what a full comparison (and sqfsdiff)
says; the progress line shows and then ends; Esc cancels (pending stays pending, it says
so, nothing breaks); switching stage mid-comparison stops it and resumes it on return.

The content comparer is the real one, held behind a gate the test opens, so the moments
between "rows shown" and "contents compared" can be looked at."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import Mode, open_stack
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.present import units
from layerscope.readers import OpenOptions
from layerscope.ui.rows import Rows
from layerscope.ui.screens.view import ViewScreen
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.loading import LoadingBar
from tests.pending_stages import Stage, build_stages, sqfsdiff_differs
from tests.ui.helpers import current, running, shown, sync, tree_of
from tests.ui.stories import settle

TIMEOUT = 60  # a hang guard, never a speed check
NO_CACHE = OpenOptions(use_cache=False)


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> list[Stage]:
    return build_stages(tmp_path_factory.mktemp("tui-stages"))


class Gate:
    """Holds every content comparison (not the metadata pass) until opened: the comparer
    of one pair, and the comparison of many pairs at once where the hasher has one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.waiting = threading.Event()  # a comparison waits at the gate
        real = ContentHasher.comparer
        gate = self

        def comparer(
            hasher: ContentHasher, a: Image, b: Image, pending: list[tuple[int, int]] | None = None
        ) -> Callable[[int, int], bool]:
            equal = real(hasher, a, b, pending)
            if pending is not None:
                return equal

            def held(na: int, nb: int) -> bool:
                gate.waiting.set()
                if not gate.open.wait(TIMEOUT):
                    raise TimeoutError("the test never opened the gate")
                return equal(na, nb)

            return held

        monkeypatch.setattr(ContentHasher, "comparer", comparer)
        bulk = getattr(ContentHasher, "settle", None)
        if bulk is not None:  # the hasher's many-pairs comparison, where it has one

            def settle(hasher: ContentHasher, *args: Any, **kwargs: Any) -> Any:
                gate.waiting.set()
                if not gate.open.wait(TIMEOUT):
                    raise TimeoutError("the test never opened the gate")
                return bulk(hasher, *args, **kwargs)

            monkeypatch.setattr(ContentHasher, "settle", settle)


def refs(stages: list[Stage]) -> list[str]:
    return [str(s.sif) for s in stages]


def label(screen: ViewScreen) -> str:
    assert screen.stack is not None
    return screen.stack.steps[screen.step].label


def agree(screen: ViewScreen) -> None:
    """The invariant: the pane's title names the selected stage, and its rows are that
    stage's changes or there are none (loading)."""
    tree = tree_of(screen)
    title = str(tree.border_title)
    if tree.rows is None:
        assert title == f"Stage {label(screen)}: loading…"
    else:
        assert tree.rows.cs.step == screen.step, (title, tree.rows.cs.step)
        assert title == f"Stage {label(screen)}: its changes"


async def until(pilot: Pilot[Any], screen: ViewScreen, cond: Callable[[], bool]) -> None:
    """Wait for `cond`, checking the invariant at every turn of the event loop."""
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        agree(screen)
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)
    agree(screen)


def rows_of(screen: ViewScreen, step: int) -> Callable[[], bool]:
    def ready() -> bool:
        rows = tree_of(screen).rows
        return rows is not None and rows.cs.step == step

    return ready


def expected_rows(full: ChangeSet) -> dict[str, str]:
    """What the layer mode shows (U hidden) for a change set compared in full."""
    rows = Rows(full, full.visible(frozenset({Status.UNCHANGED}), None))
    rows.build(expand_all=True)
    return {full.path(d): full.status(d).letter for d in rows.ids}


def full_changes(stages: list[Stage], step: int) -> ChangeSet:
    """A full comparison, outside the app; no cache, or the app would find its digests."""
    stack = open_stack(refs(stages), NO_CACHE)
    try:
        return stack.change_set(step, Mode.LAYER)
    finally:
        stack.close()


def details(screen: ViewScreen) -> str:
    return screen.query_one("#layer-details", DetailsPane).text.plain


def bar(screen: ViewScreen) -> LoadingBar:
    return screen.query_one(LoadingBar)


async def settled(pilot: Pilot[Any], screen: ViewScreen) -> None:
    await until(pilot, screen, lambda: not screen.jobs.running("compare"))
    await settle(pilot)
    agree(screen)


@sync
async def test_pending_rows_turn_into_the_full_comparison(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    full = full_changes(stages, 1)  # before the gate: the reference runs unhindered
    gate = Gate(monkeypatch)
    async with running(*refs(stages)) as (pilot, screen):
        agree(screen)
        await pilot.press("down")
        agree(screen)
        await until(pilot, screen, lambda: rows_of(screen, 1)() and gate.waiting.is_set())
        cs = tree_of(screen).rows.cs  # type: ignore[union-attr]
        lines = shown(screen)
        pending = [p for p, letter in lines.items() if letter == "?"]
        # the files a content comparison must settle show "?", read without colour
        assert len(pending) == cs.counts[Status.PENDING] >= 60
        tree = tree_of(screen)
        marked = [tree.line_text(i) for i in range(len(tree.rows.ids))]  # type: ignore[union-attr]
        assert sum(t.startswith("? ") for t in marked) == len(pending)
        want = expected_rows(full)
        for path, letter in lines.items():  # what is final already agrees
            assert letter == "?" or letter == want.get(path, "U"), path
        assert bar(screen).shown and bar(screen).text.startswith("comparing contents")
        assert "pending (contents being compared)" in details(screen)
        gate.open.set()
        await settled(pilot, screen)
        assert not bar(screen).shown  # the progress line ended
        after = shown(screen)
        assert "?" not in after.values()
        assert after == want
        assert cs.counts == full.counts and "pending" not in details(screen)
        content = set()
        for path, letter in after.items():
            d = cs.lookup(path)
            if letter == "M" and d is not None and "content" in cs.modified[d].changes:
                content.add(path)
        assert content == sqfsdiff_differs(stages[0].sqfs, stages[1].sqfs)


@sync
async def test_progress_line_counts_files_and_bytes(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("layerscope.engine.pending.CHUNK_SECONDS", 0.0)  # 64 pairs a chunk
    quick = open_stack(refs(stages), NO_CACHE)
    try:
        cs = quick.change_set(1, settle=False)
        pairs = cs.pending_pairs()
        total = sum(cs.after.tree.size[nb] for _, nb in pairs)
    finally:
        quick.close()
    seen: list[str] = []
    real = LoadingBar.show_progress

    def spy(self: LoadingBar, text: str, done: int, total: int) -> None:
        seen.append(text)
        real(self, text, done, total)

    monkeypatch.setattr(LoadingBar, "show_progress", spy)
    async with running(*refs(stages)) as (pilot, screen):
        await pilot.press("down")
        await settled(pilot, screen)
        lines = [t for t in seen if t.startswith("comparing contents")]
        assert len(lines) >= 2, seen  # batches every 0 s: a line per answer
        n, size = f"{len(pairs):,}", units.size(total)
        assert lines[-1].startswith(f"comparing contents: {n} of {n} files, {size} of {size}, ")
        assert lines[-1].endswith("/s")
        assert not bar(screen).shown  # and then it ends


@sync
async def test_esc_cancels_and_pending_stays_pending(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(monkeypatch)
    async with running(*refs(stages)) as (pilot, screen):
        await pilot.press("down")
        await until(pilot, screen, lambda: rows_of(screen, 1)() and gate.waiting.is_set())
        cs = screen.cs
        assert cs is not None
        before = cs.counts[Status.PENDING]
        await pilot.press("escape")
        assert not bar(screen).shown and cs.cancelled
        gate.open.set()  # the pair in flight gets its answer; no other is compared
        await settled(pilot, screen)
        assert current(pilot) is screen  # no error screen, still browsing
        left = cs.counts[Status.PENDING]
        assert before - 1 <= left <= before and left > 0
        assert list(shown(screen).values()).count("?") == left
        assert "pending (comparison cancelled)" in details(screen)
        messages = [n.message for n in pilot.app._notifications]
        assert any("cancelled" in m and f"{left:,} files stay pending" in m for m in messages)
        assert not bar(screen).shown
        # chosen again, the stage resumes and finishes
        await pilot.press("down")
        await until(pilot, screen, rows_of(screen, 2))
        await settled(pilot, screen)
        await pilot.press("up")
        await until(pilot, screen, rows_of(screen, 1))
        await settled(pilot, screen)
        assert screen.cs is cs and cs.settled and not cs.cancelled
        assert "?" not in shown(screen).values()


@sync
async def test_switching_stage_mid_comparison(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    full = {step: full_changes(stages, step) for step in (1, 2)}
    gate = Gate(monkeypatch)
    async with running(*refs(stages)) as (pilot, screen):
        await pilot.press("down")
        await until(pilot, screen, lambda: rows_of(screen, 1)() and gate.waiting.is_set())
        first = screen.cs
        assert first is not None
        await pilot.press("down")
        agree(screen)  # loading or stage 3's rows: never stage 2's under stage 3's title
        await until(pilot, screen, rows_of(screen, 2))
        assert "?" in shown(screen).values()  # shown before any content is compared
        gate.open.set()
        await settled(pilot, screen)
        assert shown(screen) == expected_rows(full[2])
        assert not bar(screen).shown
        assert not first.settled  # stopped when the step changed...
        await pilot.press("up")
        await until(pilot, screen, rows_of(screen, 1))
        await settled(pilot, screen)
        assert first.settled  # ...and resumed on return
        assert shown(screen) == expected_rows(full[1])
        for _ in range(3):  # quick switches: the invariant holds at every frame
            await pilot.press("down")
            agree(screen)
            await pilot.press("up")
            agree(screen)
        await settled(pilot, screen)
        assert shown(screen) == expected_rows(full[1])


@sync
async def test_diff_screen_answers_first(
    stages: list[Stage], monkeypatch: pytest.MonkeyPatch
) -> None:
    from layerscope.ui.app import make_diff_app
    from layerscope.ui.screens.diff import DiffScreen

    gate = Gate(monkeypatch)
    app = make_diff_app(str(stages[1].sif), str(stages[2].sif), theme="textual-dark")
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + TIMEOUT
        while not gate.waiting.is_set():
            assert time.monotonic() < deadline, "timed out"
            await pilot.pause(0.01)
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.cs is not None
        await pilot.pause(0.1)
        tree = screen.query_one(FileTreeView)
        assert tree.rows is not None
        letters = [tree.line_text(i)[0] for i in range(len(tree.rows.ids))]
        assert letters.count("?") == screen.cs.counts[Status.PENDING] >= 60
        summary = screen.query_one("#diff-summary", DetailsPane).text.plain
        assert "pending  (contents being compared)" in summary
        gate.open.set()
        while screen.jobs.running("compare") or not screen.cs.settled:
            assert time.monotonic() < deadline, "timed out"
            await pilot.pause(0.01)
        await settle(pilot)
        assert screen.diff is not None and screen.quit_status == 1
        content = {m.path for m in screen.diff.tree.modified if "content" in m.changes}
        assert content == sqfsdiff_differs(stages[1].sqfs, stages[2].sqfs)
        letters = [tree.line_text(i)[0] for i in range(len(tree.rows.ids))]
        assert "?" not in letters and "M" in letters
        assert not screen.query_one(LoadingBar).shown


def _corrupt_data_blocks(sif: Path, out: Path) -> Path:
    """A copy of `sif` whose squashfs data blocks (between the superblock and the inode
    table) are overwritten: the listing reads as before, the contents cannot be inflated."""
    data = bytearray(sif.read_bytes())
    at = data.index(b"hsqs")
    (inode_table,) = struct.unpack_from("<Q", data, at + 64)
    data[at + 96 : at + inode_table] = b"\xaa" * (inode_table - 96)
    out.write_bytes(bytes(data))
    return out


@sync
async def test_a_failed_comparison_says_so_and_is_not_retried(
    stages: list[Stage], tmp_path: Path
) -> None:
    bad = _corrupt_data_blocks(stages[1].sif, tmp_path / "s2-damaged.sif")
    async with running(str(stages[0].sif), str(bad)) as (pilot, screen):
        await pilot.press("down")
        await until(pilot, screen, rows_of(screen, 1))
        await settled(pilot, screen)
        cs = tree_of(screen).rows.cs  # type: ignore[union-attr]
        assert cs.failed is not None and cs.counts[Status.PENDING] > 0
        assert "pending (comparison failed:" in details(screen)
        assert not bar(screen).shown

        def warnings() -> int:
            said = [n.message for n in screen.app._notifications]
            return sum("comparing contents failed" in m for m in said)

        assert warnings() == 1
        tree_of(screen).focus()
        for key in ("1", "1", "ctrl+o"):  # tree rebuilds: the comparison stays failed
            gen = screen._tree_gen
            await pilot.press(key)
            await settled(pilot, screen)
            assert screen._tree_gen > gen  # the tree was laid out again
        assert warnings() == 1  # not tried (and failed) again
        assert "pending (comparison failed:" in details(screen)
