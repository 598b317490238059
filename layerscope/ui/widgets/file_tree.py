"""The file tree pane: dive's columns (marker, attributes, size, bar, tree) drawn line by line.

Only the lines on screen are rendered; a directory's children become lines when it is
expanded, and a directory with more than rows.BIG_DIR children is sorted in a thread worker
(its line shows "⋯" meanwhile), so no directory size ever blocks a keystroke.
The screen assigns a Rows (set_rows); the widget posts Highlighted when the cursor moves.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.model.entry import EntryKind
from layerscope.ui.fmt import bar, human_size, ls_mode, owner, safe, signed_size
from layerscope.ui.rows import Rows

STATUS_CLASS = {
    Status.ADDED: "filetree--added",
    Status.REMOVED: "filetree--removed",
    Status.MODIFIED: "filetree--modified",
    Status.UNCHANGED: "filetree--unchanged",
    Status.PENDING: "filetree--pending",  # "?": contents not compared yet
}
BAR_WIDTH = 6
BAR_MIN_WIDTH = 60


class FileTreeView(ScrollView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("left,h", "collapse", "Close", show=False),
        Binding("right,l", "expand", "Open", show=False),
        Binding("space,enter", "toggle_dir", "Open/close", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "filetree--added",
        "filetree--removed",
        "filetree--modified",
        "filetree--unchanged",
        "filetree--pending",
        "filetree--cursor",
        "filetree--dim",
        "filetree--bar",
        "filetree--grew",
        "filetree--shrank",
    }

    class Highlighted(Message):
        """The cursor is on another entry (node None: the tree is empty)."""

        def __init__(self, cs: ChangeSet | None, node: int | None) -> None:
            self.cs = cs
            self.node = node
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Rows | None = None
        self.cursor = 0
        self.show_attrs = False
        self.show_deltas = False  # the diff screen's column: how much each entry grew
        self._pending: set[int] = set()  # directories being sorted in a worker
        self._posted: int | None = None

    # -- data in --------------------------------------------------------------------------

    def set_rows(self, rows: Rows | None, cursor_path: str | None = None) -> None:
        self.rows = rows
        self._pending.clear()
        self._posted = None
        line = 0
        if rows is not None and cursor_path:
            found = rows.reveal(cursor_path)
            line = found if found is not None else 0
        self._resize()
        self.cursor = -1
        self.move_to(line)
        self.refresh()

    def select_path(self, path: str) -> bool:
        """Open the directories down to `path` and put the cursor on it, if it is shown."""
        if self.rows is None:
            return False
        line = self.rows.reveal(path)
        self._resize()
        if line is not None:
            self.move_to(line)
        self.refresh()
        return line is not None

    def set_attributes(self, show: bool) -> None:
        self.show_attrs = show
        self.refresh()

    @property
    def node(self) -> int | None:
        rows = self.rows
        if rows is None or not 0 <= self.cursor < len(rows):
            return None
        return rows.ids[self.cursor]

    def cursor_path(self) -> str | None:
        node = self.node
        return None if node is None or self.rows is None else self.rows.cs.path(node)

    # -- cursor -----------------------------------------------------------------------

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) if self.rows else 0)

    def _page(self) -> int:
        return max(self.scrollable_content_region.height, 1)

    def move_to(self, line: int) -> None:
        count = len(self.rows) if self.rows else 0
        line = min(max(line, 0), max(count - 1, 0))
        old = self.cursor
        self.cursor = line
        top = round(self.scroll_offset.y)
        page = self._page()
        if line < top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif line >= top + page:
            self.scroll_to(y=line - page + 1, animate=False, immediate=True)
        if old != line:
            self.refresh_line(old)
            self.refresh_line(line)
        node = self.node
        if node != self._posted or old == -1:
            self._posted = node
            self.post_message(self.Highlighted(self.rows.cs if self.rows else None, node))

    def refresh_line(self, line: int) -> None:
        y = line - round(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.refresh_lines(y)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * self._page())

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(len(self.rows) if self.rows else 0)

    # -- expanding --------------------------------------------------------------------

    def action_expand(self) -> None:
        rows, node = self.rows, self.node
        if rows is None or node is None:
            return
        if node in rows.expanded:
            self.move_to(self.cursor + 1)  # dive: right on an open directory goes in
            return
        self._expand(self.cursor)

    def action_collapse(self) -> None:
        rows, node = self.rows, self.node
        if rows is None or node is None:
            return
        if node in rows.expanded:
            rows.collapse(self.cursor)
            self._changed()
            return
        parent = rows.parent_line(self.cursor)
        if parent is not None:
            self.move_to(parent)

    def action_toggle_dir(self) -> None:
        rows, node = self.rows, self.node
        if rows is None or node is None:
            return
        if node in rows.expanded:
            rows.collapse(self.cursor)
            self._changed()
        else:
            self._expand(self.cursor)

    def _expand(self, line: int) -> None:
        rows = self.rows
        assert rows is not None
        node = rows.ids[line]
        if not rows.cs.is_dir(node) or node in self._pending:
            return
        if rows.needs_worker(node):
            self._pending.add(node)
            self.refresh_line(line)
            self._sort_children(rows, node)
            return
        if rows.expand(line):
            self._changed()

    @work(thread=True, group="tree-sort", exit_on_error=False)
    def _sort_children(self, rows: Rows, node: int) -> None:
        rows.children(node)  # sorts and caches; the UI thread only splices
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._sorted, rows, node)

    def _sorted(self, rows: Rows, node: int) -> None:
        self._pending.discard(node)
        if rows is not self.rows:
            return  # the tree was replaced meanwhile
        line = rows.line_of(node)
        if line is not None and rows.expand(line):
            self._changed()

    def _changed(self) -> None:
        self._resize()
        self.move_to(self.cursor)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        line = round(self.scroll_offset.y) + event.y
        if self.rows is not None and 0 <= line < len(self.rows):
            if line == self.cursor:
                self.action_toggle_dir()
            else:
                self.move_to(line)

    def on_resize(self, event: events.Resize) -> None:
        self._resize()

    def on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self.refresh()

    # -- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        line = round(self.scroll_offset.y) + y
        rows = self.rows
        if rows is None or line >= len(rows):
            return Strip.blank(width, base)
        strip = Strip(self._segments(rows, line, base)).crop_extend(0, width, base)
        if line == self.cursor:
            # post_style: the cursor's background must win over each column's own
            cursor = self.get_component_rich_style("filetree--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip

    def _segments(self, rows: Rows, line: int, base: Style) -> list[Segment]:
        cs = rows.cs
        d = rows.ids[line]
        status = cs.status(d)
        style = base + self.get_component_rich_style(STATUS_CLASS[status])
        dim = base + self.get_component_rich_style("filetree--dim")
        tree, n = cs.tree_node(d)
        size = cs.size(d)
        up = cs.parent(d)
        whole = cs.size(up) if up is not None else 0
        segs = [Segment(f"{status.letter} ", style)]
        if self.show_attrs:
            segs.append(Segment(f"{ls_mode(tree, n)} {owner(tree, n):>11} ", dim))
        segs.append(Segment(f"{human_size(size):>10} ", base))
        if self.show_deltas:
            delta = cs.delta(d)
            grew = "filetree--grew" if delta > 0 else "filetree--shrank"
            segs.append(
                Segment(f"{signed_size(delta):>10} ", base + self.get_component_rich_style(grew))
            )
        if self.size.width >= BAR_MIN_WIDTH:  # in a narrow pane the names need the room
            segs.append(
                Segment(
                    bar(size / whole if whole else 0.0, BAR_WIDTH) + " ",
                    base + self.get_component_rich_style("filetree--bar"),
                )
            )
        segs.append(Segment(rows.guides(line), dim))
        name = safe(tree.name[n])
        if tree.kind[n] == EntryKind.SYMLINK:
            name += f" → {safe(tree.target.get(n, ''))}"
        segs.append(Segment(name, style))
        if d in self._pending:
            segs.append(Segment(f"  ⋯ sorting {rows.raw_count(d):,} entries", dim))
        return segs

    def line_text(self, line: int) -> str:
        """One line as plain text (what the tests read)."""
        rows = self.rows
        assert rows is not None
        return "".join(s.text for s in self._segments(rows, line, Style()))
