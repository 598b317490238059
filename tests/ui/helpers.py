"""Helpers of the pilot tests: run the app from the factory, read the state behind the
widgets."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ParamSpec

from textual.pilot import Pilot

from layerscope.engine.browse.stack import Mode
from layerscope.ui.screens.view import ViewScreen
from layerscope.ui.widgets.file_tree import FileTreeView
from tests.conftest import ROOT
from tests.ui.stories import SIZE, settle

DEF = ROOT / "fixtures" / "sif" / "defs" / "alpine-like-base.def"
P = ParamSpec("P")


def sync(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test on its own event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@asynccontextmanager
async def running(
    *refs: str, size: tuple[int, int] = SIZE
) -> AsyncIterator[tuple[Pilot[Any], ViewScreen]]:
    from layerscope.ui.app import make_app

    app = make_app(list(refs), theme="textual-dark")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ViewScreen)
        yield pilot, screen


def focused(screen: ViewScreen) -> object:
    """The focused widget (a function, so mypy does not narrow it between key presses)."""
    return screen.focused


def current(pilot: Pilot[Any]) -> object:
    return pilot.app.screen


def mode_of(screen: ViewScreen) -> Mode:
    return screen.mode


def tree_of(screen: ViewScreen) -> FileTreeView:
    return screen.query_one(FileTreeView)


def shown(screen: ViewScreen) -> dict[str, str]:
    """Path -> status letter of every line of the tree."""
    tree = tree_of(screen)
    assert tree.rows is not None
    cs = tree.rows.cs
    return {cs.path(d): cs.status(d).letter for d in tree.rows.ids}


def cursor_path(screen: ViewScreen) -> str | None:
    return tree_of(screen).cursor_path()
