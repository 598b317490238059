"""The help screen: every key, from the one table in ui/keys.py."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from layerscope.ui.keys import ALL_KEYS, Key


def keys_table(keys: tuple[Key, ...] = ALL_KEYS) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Key", no_wrap=True)
    table.add_column("Does")
    table.add_column("Where", style="dim")
    for key in keys:
        table.add_row(key.label or key.keys, key.description, key.group)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", show=True),
    ]

    def __init__(self, keys: tuple[Key, ...] = ALL_KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys"
            box.border_subtitle = "Esc closes · Ctrl+P: command palette"
            yield Static(keys_table(self.keys), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def action_close(self) -> None:
        self.dismiss(None)
