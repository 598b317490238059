"""The preview pane: a Preview (header + text, diff or hex lines) drawn line by line, so a
1 MiB file costs only the lines on screen."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from layerscope.ui.preview_model import HEX_WIDTH, Preview, hex_line

HEX_LINE_CELLS = 8 + 2 + HEX_WIDTH * 3 + 1 + HEX_WIDTH + 2


class PreviewView(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("left,h", "scroll_left", "Left", show=False),
        Binding("right,l", "scroll_right", "Right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.preview: Preview | None = None
        self.message: Text = Text("")

    def set_preview(self, preview: Preview | None, message: str = "") -> None:
        self.preview = preview
        self.message = Text(message, style="dim italic")
        width = 0
        count = 1
        if preview is not None:
            lines = preview.header + preview.lines
            width = max((t.cell_len for t in lines), default=0)
            if preview.kind == "hex":
                width = max(width, HEX_LINE_CELLS)
            count = len(preview.header) + preview.line_count
        self.virtual_size = Size(width, count)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def _line(self, y: int) -> Text | None:
        p = self.preview
        if p is None:
            return self.message if y == 0 else None
        if y < len(p.header):
            return p.header[y]
        y -= len(p.header)
        if p.kind == "hex":
            return hex_line(p.data, y) if y < p.line_count else None
        return p.lines[y] if y < len(p.lines) else None

    def render_line(self, y: int) -> Strip:
        x0, y0 = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        text = self._line(round(y0) + y)
        if text is None:
            return Strip.blank(width, base)
        text = text.copy()
        text.no_wrap = True
        strip = Strip(text.render(self.app.console), text.cell_len)
        return strip.apply_style(base).crop_extend(round(x0), round(x0) + width, base)
