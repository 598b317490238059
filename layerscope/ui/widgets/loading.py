"""The loading line: what the readers are doing (or how far a content comparison is), a
progress bar, how to cancel. It shows while something runs and hides when it ends."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from layerscope.ui.richdoc import plain


class LoadingBar(Horizontal):
    def compose(self) -> ComposeResult:
        yield Label("opening…", id="loading-text")
        yield ProgressBar(total=None, show_eta=False, id="loading-bar")
        yield Label("  Esc cancels", id="loading-hint")

    @property
    def text(self) -> str:
        """What the line says now (for tests)."""
        return str(self.query_one("#loading-text", Label).content)

    @property
    def shown(self) -> bool:
        return not self.has_class("hidden")

    def show_progress(self, text: str, done: int, total: int) -> None:
        """Show the line with `text` (may name a ref: no markup) and done/total."""
        self.remove_class("hidden")
        self.query_one("#loading-text", Label).update(plain(text))
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)

    def show_busy(self, text: str) -> None:
        """Show the line with `text` and an empty bar (not the indeterminate one: its
        animation repaints at 60 fps and takes the interpreter from the worker)."""
        self.remove_class("hidden")
        self.query_one("#loading-text", Label).update(plain(text))
        self.query_one(ProgressBar).update(total=1, progress=0)

    def done(self) -> None:
        self.add_class("hidden")
