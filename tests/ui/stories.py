"""Screen stories: an app from the one factory, plus what a user does before the picture.

The snapshot tests and screenshots/make.py both use these, so the README's pictures are the
pictures the tests check. Paths are relative to the repository root (the caller chdirs
there) so pictures do not depend on where the checkout lives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.pilot import Pilot

from layerscope.ui.app import TEST_THEME, LayerscopeApp, make_app, make_diff_app
from layerscope.ui.widgets.file_tree import FileTreeView

SIZE = (120, 40)
BASE = "fixtures/sif/alpine-like-base.sif"
OCI = "oci:fixtures/oci/app-layout:1.0"
STAGES = ["fixtures/sif/stage1.sif", "fixtures/sif/stage2.sif", "fixtures/sif/final.sif"]
OCI_NEXT = "oci:fixtures/oci/app-layout:1.1"


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until no worker runs and no message is pending (workers start workers)."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return


async def goto(pilot: Pilot[Any], path: str) -> None:
    """Put the tree's cursor on `path`, opening directories on the way, and focus it."""
    tree = pilot.app.screen.query_one(FileTreeView)
    assert tree.select_path(path), f"{path} is not shown"
    tree.focus()
    await settle(pilot)


Step = Callable[[Pilot[Any]], Awaitable[None]]


def keys(*names: str) -> Step:
    async def press(pilot: Pilot[Any]) -> None:
        for name in names:
            await pilot.press(name)
            await settle(pilot)

    return press


def go(path: str) -> Step:
    async def run(pilot: Pilot[Any]) -> None:
        await goto(pilot, path)

    return run


@dataclass(frozen=True)
class Story:
    name: str
    refs: list[str]
    steps: list[Step] = field(default_factory=list)
    caption: str = ""
    diff: bool = False  # `layerscope diff REFS[0] REFS[1]` instead of `view REFS...`

    def app(self) -> LayerscopeApp:
        if self.diff:
            return make_diff_app(self.refs[0], self.refs[1], theme=TEST_THEME)
        return make_app(self.refs, theme=TEST_THEME)

    async def run_before(self, pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for step in self.steps:
            await step(pilot)
        await settle(pilot)


STORIES = [
    Story(
        "sif_overview",
        [BASE],
        [keys("tab")],
        "A SIF: its one partition, the definition's bootstrap line, the tree by size.",
    ),
    Story(
        "oci_layer_changes",
        [OCI],
        [keys("down", "down", "tab"), go("/root/.ssh")],
        "OCI layer 2 deletes files with whiteouts: D entries, still shipped in layer 1.",
    ),
    Story(
        "aggregated_filters",
        [OCI],
        [keys("down", "down", "down", "down", "ctrl+a", "4", "slash", *"app", "enter")],
        "Everything changed up to layer 4, unchanged hidden, paths filtered by /app/.",
    ),
    Story(
        "text_preview",
        [BASE],
        [go("/.singularity.d/labels.json")],
        "Preview of a text file, highlighted (the first MiB is read, in a worker).",
    ),
    Story(
        "diff_preview",
        [OCI],
        [keys("down", "down", "down", "down"), go("/etc/app/config.yml")],
        "A file modified by layer 4: unified diff between the two versions.",
    ),
    Story(
        "findings",
        [OCI],
        [keys("f")],
        "Findings (f): reclaimable bytes and why, dive's inefficient files, secrets left in.",
    ),
    Story(
        "growth",
        [OCI],
        [keys("down", "g")],
        "What made it big (g): layer 1's growth by directory and package, its caches and secrets.",
    ),
    Story(
        "sif_inspect",
        [BASE],
        [keys("i")],
        "Image details: definition file, labels, environment, runscript, descriptors.",
    ),
    Story(
        "stages",
        STAGES,
        [keys("down", "down", "tab"), go("/etc/pkgx/config.ini")],
        "Three SIF build stages as one stack: what final.sif changed over stage2.sif.",
    ),
    Story(
        "diff_tree",
        [OCI, OCI_NEXT],
        [go("/app/static/js/app.js")],
        "layerscope diff app:1.0 app:1.1: one tree, A/M/D markers, rolled-up size deltas.",
        diff=True,
    ),
    Story(
        "diff_text",
        STAGES[:2],
        [go("/.singularity.d/Singularity")],
        "Two SIF build stages: the definition file's unified diff, old and new attributes.",
        diff=True,
    ),
    Story(
        "diff_metadata",
        STAGES[:2],
        [keys("m")],
        "The metadata tab (m): definition file, environment, runscript and label changes.",
        diff=True,
    ),
]
BY_NAME = {s.name: s for s in STORIES}
