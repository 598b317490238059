"""The TUI's portability panel (`r`) on a stack of SIF stages: the selected stage's
report and what it changed over the stage before."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from layerscope.ui.screens.inspect import PortabilityScreen
from tests.portability.conftest import BIN
from tests.ui.helpers import running, sync
from tests.ui.stories import settle


def test_stage_panel_names_what_raised_the_level(stages: list[Path]) -> None:
    @sync
    async def run() -> None:
        async with running(*map(str, stages)) as (pilot, _):
            await pilot.press("down", "down")
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, PortabilityScreen)
            body = screen.query_one("#inspect-text", Static).render()
            text = str(body)
            assert "x86-64 level: x86-64-v4, set by /opt/app/bin/avx512f" in text
            assert "Changes since stage stage2.sif" in text
            assert (
                "stage stage3.sif raised the x86-64 level to x86-64-v4 (was x86-64-v3): "
                f"{BIN}/avx512f"
            ) in text
            await pilot.press("r")
            await settle(pilot)
            assert not isinstance(pilot.app.screen, PortabilityScreen)

    run()
