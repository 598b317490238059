"""The image-details panel (`i`): everything `apptainer inspect` shows, and more."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


class InspectScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i,q", "close", "Close", show=True),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
    ]

    TITLE_TEXT = "Image details"

    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="inspect-box") as box:
            box.border_title = self.TITLE_TEXT
            yield Static(self.text, id="inspect-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#inspect-box").focus()

    def action_scroll(self, direction: str) -> None:
        box = self.query_one("#inspect-box", VerticalScroll)
        if direction == "down":
            box.scroll_down(animate=False)
        else:
            box.scroll_up(animate=False)

    def action_close(self) -> None:
        self.dismiss(None)


class FindingsScreen(InspectScreen):
    """What makes the image big or leaky (`f`): the analysis `check` also runs."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "close", "Close", show=False)]
    TITLE_TEXT = "Findings: wasted and reclaimable bytes, caches, duplicates, secrets"


class PortabilityScreen(InspectScreen):
    """Will it run on that cluster (`r`): the selected step's portability report."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "close", "Close", show=False)]
    TITLE_TEXT = "Portability: architecture, x86-64 level, glibc, kernel, MPI, GPU"


class GrowthScreen(InspectScreen):
    """What made the selected step big (`g`): its growth by directory and package, and the
    caches and secrets it added."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("g", "close", "Close", show=False)]
    TITLE_TEXT = "What made it big: growth by directory and package, caches, secrets"


class MetadataScreen(InspectScreen):
    """The diff screen's metadata tab (`m`): what the two images say differently."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("m", "close", "Close", show=False)]
    TITLE_TEXT = "Metadata differences (A → B)"
