"""The findings panel (`f`) and the headline in the image details: the analysis `check`
runs, shown in the browser once the image is loaded."""

from __future__ import annotations

from typing import Any

import pytest

from layerscope.engine.analysis import analyze
from layerscope.engine.loading import load_image
from layerscope.present.analysis import report_json
from layerscope.ui import findings_text
from layerscope.ui.screens import view
from layerscope.ui.screens.inspect import FindingsScreen, InspectScreen
from layerscope.ui.widgets.details import DetailsPane
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
async def test_headline_for_a_sif_and_none_for_stages() -> None:
    async with running(BASE) as (pilot, screen):
        rows = dict(findings_text.headline_rows(screen.report, screen.analysing))
        assert rows["Secrets"] == "none found" and "Efficiency" in rows
    async with running(*STAGES) as (pilot, screen):
        assert screen.report is None and not screen.analysing
        await pilot.press("f")
        assert not isinstance(current(pilot), FindingsScreen)


def test_headline_rows_while_analysing() -> None:
    assert findings_text.headline_rows(None, True) == [("Findings", "analysing…")]
    assert findings_text.headline_rows(None, False) == []


@sync
async def test_big_images_are_analysed_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(view, "AUTO_ANALYSIS", 10)  # every fixture counts as big
    async with running(OCI) as (pilot, screen):
        assert screen.report is None and not screen.analysing
        assert "Efficiency" not in screen.query_one("#image-details", DetailsPane).text.plain
        await pilot.press("f")
        await settle(pilot)
        assert screen.report is not None and report_json(screen.report) == _report(OCI)
        assert isinstance(current(pilot), FindingsScreen)  # opened when the analysis ended
