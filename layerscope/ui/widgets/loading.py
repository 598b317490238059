"""The loading line: what the readers are doing, a progress bar, how to cancel."""

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

    def show_progress(self, text: str, done: int, total: int) -> None:
        self.query_one("#loading-text", Label).update(plain(text))  # names a ref: no markup
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
