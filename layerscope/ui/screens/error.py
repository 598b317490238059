"""The error screen: one line saying what went wrong, instead of a traceback."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from layerscope.errors import LayerscopeError, exit_code_for


def error_message(error: BaseException) -> str:
    if isinstance(error, LayerscopeError):
        return " ".join(str(error).split()) or type(error).__name__
    return f"internal error: {type(error).__name__}: {error}"


class ErrorScreen(ModalScreen[None]):
    """fatal: nothing is left to show (loading failed), so closing it quits."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", show=True),
    ]

    def __init__(self, error: BaseException, fatal: bool = False) -> None:
        super().__init__()
        self.error = error
        self.fatal = fatal

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box"):
            yield Label("Error" if not self.fatal else "Cannot open the image", id="error-title")
            yield Static(error_message(self.error), id="error-text", markup=False)
            hint = "Enter, Esc or q: quit" if self.fatal else "Enter or Esc: back"
            yield Label(hint, id="error-hint")

    def action_close(self) -> None:
        if self.fatal:
            self.app.exit(self.error, exit_code_for(self.error))
        else:
            self.dismiss(None)
