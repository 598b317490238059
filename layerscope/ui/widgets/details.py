"""A scrollable text pane (layer details, image details)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class DetailsPane(VerticalScroll, can_focus=False):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text("")

    def compose(self) -> ComposeResult:
        yield Static(self.text, classes="details-body")

    def set_text(self, text: Text) -> None:
        self.text = text
        self.query_one(Static).update(text)
