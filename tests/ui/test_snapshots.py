"""SVG snapshots of the screen stories (pytest-textual-snapshot, fixed size and theme).

Update after an intended change with `pytest tests/ui/test_snapshots.py --snapshot-update`
and look at the SVGs (screenshots/make.py writes the same pictures for the README)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.ui.stories import BY_NAME, SIZE

SnapCompare = Callable[..., bool]


def check(snap_compare: SnapCompare, name: str) -> None:
    story = BY_NAME[name]
    assert snap_compare(story.app(), terminal_size=SIZE, run_before=story.run_before)


def test_sif_overview(snap_compare: Any) -> None:
    check(snap_compare, "sif_overview")


def test_oci_layer_changes(snap_compare: Any) -> None:
    check(snap_compare, "oci_layer_changes")


def test_aggregated_mode_with_filters(snap_compare: Any) -> None:
    check(snap_compare, "aggregated_filters")


def test_text_preview(snap_compare: Any) -> None:
    check(snap_compare, "text_preview")


def test_diff_preview(snap_compare: Any) -> None:
    check(snap_compare, "diff_preview")


def test_findings_panel(snap_compare: Any) -> None:
    check(snap_compare, "findings")


def test_growth_panel(snap_compare: Any) -> None:
    check(snap_compare, "growth")


def test_sif_inspect_panel(snap_compare: Any) -> None:
    check(snap_compare, "sif_inspect")


def test_three_stage_stack(snap_compare: Any) -> None:
    check(snap_compare, "stages")


def test_diff_tree_with_deltas(snap_compare: Any) -> None:
    check(snap_compare, "diff_tree")


def test_diff_text_file(snap_compare: Any) -> None:
    check(snap_compare, "diff_text")


def test_diff_metadata_tab(snap_compare: Any) -> None:
    check(snap_compare, "diff_metadata")
