"""The layers pane: one row per layer, partition or stage, with dive's "Cmp" marks and what
each step grew the tree by: bytes added, removed (a minus) and net, hard links once."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from layerscope.engine.browse.stack import Mode, Step
from layerscope.present.units import PENDING, signed_size
from layerscope.ui.fmt import safe

GROWTH_COLUMNS = ("net", "added", "removed")


def growth_cells(step: Step) -> tuple[str, str, str]:
    """Net, added and removed bytes of a step, signed; `…` until counted."""
    if step.encrypted:
        return ("encrypted", "", "")
    g = step.growth
    if g is None:
        return (PENDING, PENDING, PENDING)
    return (signed_size(g.net), signed_size(g.added), signed_size(-g.removed))


class LayersTable(DataTable[str]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "cursor_up", "Up", show=False),
        Binding("j", "cursor_down", "Down", show=False),
    ]

    class Selected(Message):
        """The highlighted step changed."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.steps: list[Step] = []

    def on_mount(self) -> None:
        # dive's "Cmp" column, one cell wide: the room goes to the three sizes
        self.add_column("", key="cmp", width=1)
        self.add_column("#", key="index")
        self.add_column("Net", key="net")
        self.add_column("Added", key="added")
        self.add_column("Removed", key="removed")
        self.add_column("Command", key="command")

    def set_steps(self, steps: list[Step], selected: int, mode: Mode) -> None:
        self.steps = steps
        self.clear()
        for step in steps:
            self.add_row(
                "",
                step.label,
                *growth_cells(step),
                safe(" ".join(step.created_by.split())),
                key=str(step.index),
            )
        if steps:
            self.move_cursor(row=selected, animate=False)
        self.mark(selected, mode)

    def mark(self, selected: int, mode: Mode) -> None:
        """dive's Cmp column: which steps the tree compares."""
        for step in self.steps:
            if step.index == selected:
                mark = "▶"
            elif mode == Mode.AGGREGATED and step.index < selected:
                mark = "│"
            else:
                mark = ""
            self.update_cell(str(step.index), "cmp", mark)

    def refresh_sizes(self) -> None:
        for step in self.steps:
            for column, text in zip(GROWTH_COLUMNS, growth_cells(step), strict=True):
                # counted after the rows were made: the column grows to the numbers
                self.update_cell(str(step.index), column, text, update_width=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Selected(event.cursor_row))
