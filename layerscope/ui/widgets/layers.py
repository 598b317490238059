"""The layers pane: one row per layer, partition or stage, with dive's "Cmp" marks."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from layerscope.engine.browse.stack import Mode, Step
from layerscope.ui.fmt import human_size, safe


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
        self.add_column("Cmp", key="cmp", width=3)
        self.add_column("#", key="index")
        self.add_column("Size", key="size")
        self.add_column("Command", key="command")

    def set_steps(self, steps: list[Step], selected: int, mode: Mode) -> None:
        self.steps = steps
        self.clear()
        for step in steps:
            self.add_row(
                "",
                step.label,
                human_size(step.size) if not step.encrypted else "encrypted",
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
            size = human_size(step.size) if not step.encrypted else "encrypted"
            self.update_cell(str(step.index), "size", size)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Selected(event.cursor_row))
