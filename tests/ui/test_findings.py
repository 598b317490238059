"""The findings panel (`f`) and the headline in the image details: the analysis `check`
runs, shown in the browser once the image is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from layerscope.engine.analysis import Report, analyze
from layerscope.engine.loading import load_image
from layerscope.present.analysis import report_json
from layerscope.ui import findings_text
from layerscope.ui.messages import Analyzed
from layerscope.ui.screens.inspect import FindingsScreen, InspectScreen
from layerscope.ui.screens.view import ViewScreen
from layerscope.ui.widgets.details import DetailsPane
from tests.portability_support import make_sif
from tests.ui.helpers import current, running, sync
from tests.ui.stories import BASE, OCI, STAGES, settle


def _report(ref: str) -> dict[str, Any]:
    img = load_image(ref)
    try:
        return report_json(analyze(img))
    finally:
        img.close()


@sync
async def test_findings_panel_shows_what_check_finds() -> None:
    expected = _report(OCI)
    async with running(OCI) as (pilot, screen):
        assert screen.report is not None  # the same analysis `check --json` prints
        assert report_json(screen.report) == expected
        pane = screen.query_one("#image-details", DetailsPane).text.plain
        assert (
            "Efficiency" in pane
            and f"{expected['dive']['efficiency'] * 100:.2f} %" in pane
            and "Reclaimable" in pane
        )
        await pilot.press("f")
        panel = current(pilot)
        assert isinstance(panel, FindingsScreen)
        text = panel.text.plain
        for item in expected["reclaimable"]["items"][: findings_text.TOP]:
            assert item["path"] in text
        assert "/root/.ssh/id_rsa" in text and "recoverable" in text
        # values are redacted in the panel as in the JSON: the key's body never shows
        assert "BEGIN OPENSSH PRIVATE KEY" not in text
        await pilot.press("f")
        assert current(pilot) is screen
        await pilot.press("i")
        assert isinstance(current(pilot), InspectScreen)
        assert "Reclaimable" in current(pilot).text.plain  # type: ignore[attr-defined]


@sync
async def test_headline_for_a_sif() -> None:
    async with running(BASE) as (_, screen):
        rows = dict(findings_text.headline_rows(screen.report, screen.analysing))
        assert rows["Secrets"] == "none found" and "Efficiency" in rows


@sync
async def test_findings_of_the_selected_stage() -> None:
    """`f` in stage mode: each stage is an image; the selected one's findings open, the
    same `check` finds in that stage, kept per stage."""
    expected = _report(STAGES[1])
    async with running(*STAGES) as (pilot, screen):
        assert screen.report is None and not screen.stage_reports  # stages: when asked
        await pilot.press("down")
        await settle(pilot)
        assert screen.step == 1
        await pilot.press("f")
        await settle(pilot)
        panel = current(pilot)
        assert isinstance(panel, FindingsScreen)
        assert STAGES[1] in panel.text.plain and STAGES[2] not in panel.text.plain
        assert report_json(screen.stage_reports[1]) == expected
        assert set(screen.stage_reports) == {1}
        await pilot.press("f")
        # the headline of the selected stage is in its details pane, not the others'
        pane = screen.query_one("#image-details", DetailsPane).text.plain
        assert f"{expected['dive']['efficiency'] * 100:.2f} %" in pane
        await pilot.press("down")
        await settle(pilot)
        assert "Efficiency" not in screen.query_one("#image-details", DetailsPane).text.plain


def test_headline_rows_while_analysing() -> None:
    assert findings_text.headline_rows(None, True) == [("Findings", "analysing…")]
    assert findings_text.headline_rows(None, False) == []


def test_metadata_part_first() -> None:
    """analyze(first=...) hands the listings' numbers before reading contents: dive's,
    the reclaimable total, caches and the largest entries equal the complete report's,
    and the complete report is the one analyze gives without it."""
    for ref in (OCI, BASE):
        img = load_image(ref)
        try:
            got: list[Report] = []
            full = analyze(img, first=got.append)
        finally:
            img.close()
        assert len(got) == 1 and got[0].pending and not full.pending
        early, final = report_json(got[0]), report_json(full)
        assert final == _report(ref)
        assert early["dive"] == final["dive"] and early["largest"] == final["largest"]
        assert early["sizes"]["reclaimable_bytes"] == final["sizes"]["reclaimable_bytes"]
        assert early["reclaimable"]["by_layer"] == final["reclaimable"]["by_layer"]
        if not got[0].pycache_pending:  # random access: the databases were read at once
            assert early["caches"] == final["caches"]
        assert early["secrets"]["findings"] == [] and early["bytes_read"] == 0
        rows = dict(findings_text.headline_rows(got[0], True, (10**6, 4 * 10**6)))
        assert rows["Content"] == "reading contents: 25 %, 1.0 MB of 4.0 MB"
        assert "Secrets" not in rows and "Efficiency" in rows


BIG = 55_000  # entries: more than the 50,000 the viewer once analysed by itself


@sync
async def test_big_image_numbers_without_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real SIF of more than 50,000 entries (mksquashfs + siftool; empty files are
    cheap): the efficiency and the content findings appear without `f`, the metadata-only
    part first."""
    seen: list[bool] = []
    shown = ViewScreen.on_analyzed

    def spy(self: ViewScreen, message: Analyzed) -> None:
        seen.append(message.report.pending)
        shown(self, message)

    monkeypatch.setattr(ViewScreen, "on_analyzed", spy)
    root = tmp_path / "root"
    for d in range(55):
        sub = root / "data" / f"d{d:02}"
        sub.mkdir(parents=True)
        for i in range(BIG // 55):
            (sub / f"f{i:04}").touch()
    (root / "data" / "a.bin").write_bytes(b"x" * 70_000)
    (root / "data" / "b.bin").write_bytes(b"x" * 70_000)  # a duplicate: read to be found
    ref = str(make_sif(root, tmp_path / "big.sif"))
    expected = _report(ref)
    async with running(ref) as (pilot, screen):
        await settle(pilot)
        assert len(screen.stack.final.tree) > BIG  # type: ignore[union-attr]
        assert screen.report is not None and not screen.report.pending
        assert report_json(screen.report) == expected
        assert expected["duplicates"]["total_savings"] >= 70_000
        pane = screen.query_one("#image-details", DetailsPane).text.plain
        assert f"{expected['dive']['efficiency'] * 100:.2f} %" in pane
        assert "Duplicates" in pane and "pending" not in pane
        assert not isinstance(current(pilot), FindingsScreen)
    assert seen == [True, False]
