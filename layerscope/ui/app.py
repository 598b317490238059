"""The Textual app: a thin shell that pushes the view screen and offers the actions in the
command palette. State and workers live in the screens (ui/screens/view.py).

`make_app` is the one factory the CLI, the tests and screenshots/make.py use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from layerscope.errors import LayerscopeError
from layerscope.model.diff import DEFAULT_COMPARE
from layerscope.readers import OpenOptions
from layerscope.ui.keys import ALL_KEYS, APP_KEYS, DIFF_ALL_KEYS, DIFF_KEYS, VIEW_KEYS
from layerscope.ui.screens.diff import DiffScreen
from layerscope.ui.screens.help import HelpScreen
from layerscope.ui.screens.view import ViewScreen

TEST_THEME = "textual-dark"
SWITCH_INTERVAL = 0.001


class LayerscopeApp(App[LayerscopeError | None]):
    CSS_PATH = "app.tcss"
    TITLE = "layerscope"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            k.keys,
            k.action,
            k.footer_text,
            show=k.footer,
            tooltip=k.description,
            priority=k.keys == "ctrl+c",
        )
        for k in APP_KEYS
        if k.action != "command_palette"  # Textual binds it (COMMAND_PALETTE_BINDING)
    ]

    def __init__(
        self,
        refs: list[str],
        options: OpenOptions | None = None,
        theme: str | None = None,
        first_screen: Callable[[], Screen[None]] | None = None,
    ) -> None:
        super().__init__()
        self.refs = refs
        self.options = options
        self._theme_name = theme
        self._first_screen = first_screen or (lambda: ViewScreen(self.refs, self.options))

    def on_mount(self) -> None:
        # Workers are CPU-bound Python threads; each terminal write hands the interpreter
        # lock to them, and getting it back waits up to the switch interval (5 ms by
        # default) several times a frame. 1 ms keeps keystrokes quick while they run.
        sys.setswitchinterval(SWITCH_INTERVAL)
        if self._theme_name:
            self.theme = self._theme_name
        self.push_screen(self._first_screen())

    def _diff_screen(self) -> DiffScreen | None:
        found = [s for s in self.screen_stack if isinstance(s, DiffScreen)]
        return found[-1] if found else None

    async def action_quit(self) -> None:
        # `layerscope diff` exits like diff(1): 1 when the images differ
        diff = self._diff_screen()
        self.exit(None, diff.quit_status if diff is not None else 0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(DIFF_ALL_KEYS if self._diff_screen() else ALL_KEYS))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        keys = VIEW_KEYS if isinstance(screen, ViewScreen) else ()
        if isinstance(screen, DiffScreen):
            keys = DIFF_KEYS
        for key in keys:
            if key.palette:
                hint = f"{key.description}  [{key.label or key.keys}]"
                yield SystemCommand(key.description, hint, partial(screen.run_action, key.action))
        yield SystemCommand("Help", "Every key  [?]", self.action_help)
        yield from super().get_system_commands(screen)


def make_app(
    refs: list[str], options: OpenOptions | None = None, theme: str | None = None
) -> LayerscopeApp:
    """The app for `layerscope view REFS...` (several refs: a stack of build stages)."""
    return LayerscopeApp(list(refs), options, theme)


def make_diff_app(
    a: str,
    b: str | None,
    layer: int | None = None,
    options: OpenOptions | None = None,
    compare: frozenset[str] | set[str] = DEFAULT_COMPARE,
    theme: str | None = None,
    portability: bool = False,
) -> LayerscopeApp:
    """The app for `layerscope diff A B` (or `diff IMAGE --layer N`, b None)."""
    refs = [a] if b is None else [a, b]

    def screen() -> DiffScreen:
        return DiffScreen(a, b, layer, options, compare, portability)

    return LayerscopeApp(refs, options, theme, first_screen=screen)
