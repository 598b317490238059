"""Saving the selected file: the dialog (directory + name), the overwrite question, and
the thread worker that writes (layerscope.ui.save does the checking)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label
from textual.worker import get_current_worker

from layerscope.engine.browse.changes import ChangeSet
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.present import units
from layerscope.present.text import clean
from layerscope.ui.save import ExistsError, save_file, target_path


class SaveScreen(ModalScreen[tuple[str, str] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=True)]

    def __init__(self, name: str, directory: str | None = None) -> None:
        super().__init__()
        # The name comes from the image: offered cleaned (escapes visible), so neither the
        # dialog nor the file written can carry a control sequence to a terminal.
        self.file_name = clean(name)
        self.directory = clean(directory or os.getcwd())

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box") as box:
            box.border_title = "Save the file"
            yield Label("Directory (must exist)")
            yield Input(self.directory, id="save-dir")
            yield Label("File name (no /)")
            yield Input(self.file_name, id="save-name")
            with Horizontal(id="save-buttons"):
                yield Button("Save", variant="primary", id="save-ok")
                yield Button("Cancel", id="save-cancel")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False
        self.query_one("#save-name", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save-ok")
    def _ok(self) -> None:
        directory = self.query_one("#save-dir", Input).value
        name = self.query_one("#save-name", Input).value
        self.dismiss((directory, name))

    @on(Button.Pressed, "#save-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", show=True),
        Binding("n,escape", "answer(False)", "No", show=True),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(clean(self.question), markup=False)
            yield Label("y: yes   n / Esc: no", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def save_flow(screen: Screen[Any], cs: ChangeSet, node: int) -> None:
    """Ask where to save `node`, write it in a thread worker, ask before replacing a file."""
    img, n = cs.locate(node)
    app = screen.app

    def write(directory: str, name: str, force: bool) -> None:
        def job() -> None:
            try:
                target = target_path(directory, name)
                size = save_file(img, n, target, force, get_current_worker().cancelled_event)
            except ExistsError:
                app.call_from_thread(ask, directory, name)
            except Cancelled:
                pass
            except (LayerscopeError, OSError) as e:
                text = str(e) if isinstance(e, LayerscopeError) else f"{name}: {e.strerror}"
                app.call_from_thread(screen.notify, clean(text), severity="error", markup=False)
            else:
                done = clean(f"saved {units.size_exact(size)} to {target}")
                app.call_from_thread(screen.notify, done, markup=False)

        screen.run_worker(job, thread=True, group="save", exit_on_error=False)

    def ask(directory: str, name: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                write(directory, name, True)

        app.push_screen(ConfirmScreen(f"{name} exists in {directory}. Replace it?"), answered)

    def chosen(answer: tuple[str, str] | None) -> None:
        if answer is not None:
            write(answer[0], answer[1], False)

    app.push_screen(SaveScreen(cs.name(node)), chosen)
