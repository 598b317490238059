"""The browser: layers, details, file tree and preview. It owns the state (which step, which
mode, which filter) and runs the workers; widgets get data by assignment."""

from __future__ import annotations

import re
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState, get_current_worker

from layerscope.loading import Cancelled
from layerscope.model.entry import EntryKind
from layerscope.readers import OpenOptions
from layerscope.stack import Mode, Stack, open_stack
from layerscope.stack_changes import ChangeSet, Status
from layerscope.ui import inspect_text
from layerscope.ui.jobs import DONE, Jobs
from layerscope.ui.keys import VIEW_KEYS
from layerscope.ui.messages import Loaded, PreviewReady, Progress, TreeReady
from layerscope.ui.preview_model import build_preview
from layerscope.ui.rows import SORT_NAME, SORT_SIZE, Rows
from layerscope.ui.screens.error import ErrorScreen
from layerscope.ui.screens.inspect import InspectScreen
from layerscope.ui.screens.save import save_flow
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.layers import LayersTable
from layerscope.ui.widgets.loading import LoadingBar
from layerscope.ui.widgets.preview import PreviewView

LETTERS = {s.letter: s for s in Status}


def view_bindings() -> list[BindingType]:
    return [
        Binding(k.keys, k.action, k.footer_text, show=k.footer, tooltip=k.description)
        for k in VIEW_KEYS
    ]


class ViewScreen(Screen[None]):
    BINDINGS = view_bindings()

    def __init__(self, refs: list[str], options: OpenOptions | None = None) -> None:
        super().__init__()
        self.refs = refs
        self.options = options
        self.stack: Stack | None = None
        self.step = 0
        self.mode = Mode.LAYER
        self.sort = SORT_SIZE
        # dive's layer view shows what the layer touched; the aggregated view, everything
        self.hidden: dict[Mode, set[Status]] = {
            Mode.LAYER: {Status.UNCHANGED},
            Mode.AGGREGATED: set(),
        }
        self.pattern = ""
        self.show_attrs = False
        self.hex_mode = False
        self.cs: ChangeSet | None = None
        self._tree_gen = 0
        self._preview_gen = 0
        self.jobs = Jobs()

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LayersTable(id="layers")
                yield DetailsPane(id="layer-details")
                yield DetailsPane(id="image-details")
            with Vertical(id="right"):
                yield FileTreeView(id="tree")
                yield Input(
                    placeholder="regex on the full path (Enter: keep, Esc: clear)",
                    id="filter",
                    classes="hidden",
                )
                yield PreviewView(id="preview")
        yield LoadingBar(id="loading")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#layers").border_title = "Layers"
        self.query_one("#layer-details").border_title = "Layer details"
        self.query_one("#image-details").border_title = "Image details"
        self.query_one("#tree").border_title = "Contents"
        self.query_one("#preview").border_title = "Preview"
        self.query_one("#filter", Input).cursor_blink = False
        self.query_one(LayersTable).focus()
        # paint the first frame before the loading thread competes for the interpreter
        self.call_after_refresh(self.load)

    # -- workers ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        worker = get_current_worker()

        def progress(text: str, done: int, total: int) -> None:
            self.post_message(Progress(text, done, total))

        stack = open_stack(self.refs, self.options, progress, worker.cancelled_event)
        if worker.is_cancelled:
            stack.close()
            return
        self.post_message(Loaded(stack))

    @work(thread=True, group="tree", exit_on_error=False)
    def build_tree(
        self,
        cancel: threading.Event,
        gen: int,
        step: int,
        mode: Mode,
        hidden: frozenset[Status],
        pattern: re.Pattern[str] | None,
        sort: str,
        expanded: set[str],
        expand_all: bool | None,
        cursor: str | None,
    ) -> None:
        assert self.stack is not None
        cs = self.stack.change_set(step, mode, None, cancel)
        rows = Rows(cs, cs.visible(hidden, pattern, cancel), sort)
        rows.build(expanded, expand_all, cancel)
        if not cancel.is_set():
            self.post_message(TreeReady(gen, cs, rows, cursor))

    @work(thread=True, group="preview", exit_on_error=False)
    def build_preview(
        self, cancel: threading.Event, gen: int, cs: ChangeSet, node: int, hex_mode: bool
    ) -> None:
        preview = build_preview(cs, node, hex_mode, self._labels(cs), cancel)
        if not cancel.is_set():
            self.post_message(PreviewReady(gen, preview))

    def on_unmount(self) -> None:
        self.jobs.cancel_all()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state in DONE:
            self.jobs.finished(event.worker)
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, Cancelled):
            return
        assert isinstance(error, BaseException)
        self.app.push_screen(ErrorScreen(error, fatal=event.worker.group == "load"))

    # -- worker results -----------------------------------------------------------------

    def on_progress(self, message: Progress) -> None:
        self.query_one(LoadingBar).show_progress(message.text, message.done, message.total)

    def on_loaded(self, message: Loaded) -> None:
        self.stack = message.stack
        self.query_one(LoadingBar).add_class("hidden")
        self.query_one(LayersTable).set_steps(self.stack.steps, self.step, self.mode)
        self._show_details()
        self.refresh_tree(expand_all=None)

    def on_tree_ready(self, message: TreeReady) -> None:
        if message.generation != self._tree_gen:
            return
        self.cs = message.cs
        self.query_one(FileTreeView).set_rows(message.rows, message.cursor_path)
        self._show_details()
        self._titles()

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.generation == self._preview_gen:
            self.query_one(PreviewView).set_preview(message.preview)
            self.query_one("#preview").border_title = f"Preview: {message.preview.kind}"

    # -- state changes --------------------------------------------------------------------

    def refresh_tree(self, expand_all: bool | None = None, keep_expanded: bool = True) -> None:
        if self.stack is None:
            return
        tree = self.query_one(FileTreeView)
        expanded = tree.rows.expanded_paths() if tree.rows and keep_expanded else set()
        self._tree_gen += 1
        pattern = re.compile(self.pattern) if self.pattern else None
        args = (self._tree_gen, self.step, self.mode, frozenset(self.hidden[self.mode]), pattern,
                self.sort, expanded, expand_all, tree.cursor_path())  # fmt: skip
        self.jobs.submit("tree", lambda cancel: self.build_tree(cancel, *args))
        self._titles()

    @on(LayersTable.Selected)
    def _layer_selected(self, message: LayersTable.Selected) -> None:
        if self.stack is None or message.index == self.step:
            return
        self.step = message.index
        self.query_one(LayersTable).mark(self.step, self.mode)
        self._show_details()
        self.refresh_tree(expand_all=None)

    @on(FileTreeView.Highlighted)
    def _entry_highlighted(self, message: FileTreeView.Highlighted) -> None:
        self._preview_gen += 1
        preview = self.query_one(PreviewView)
        if message.cs is None or message.node is None:
            preview.set_preview(None, "nothing to show: every entry is filtered out")
            return
        if preview.display:
            args = (self._preview_gen, message.cs, message.node, self.hex_mode)
            self.jobs.submit("preview", lambda cancel: self.build_preview(cancel, *args))

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        try:
            re.compile(event.value)
        except re.error as e:
            event.input.add_class("-invalid")
            event.input.border_title = f"invalid regex: {e}"
            return
        event.input.remove_class("-invalid")
        event.input.border_title = None
        self.pattern = event.value
        self.refresh_tree(expand_all=None)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.query_one(FileTreeView).focus()

    def _labels(self, cs: ChangeSet) -> tuple[str, str]:
        assert self.stack is not None
        steps = self.stack.steps
        before = cs.before.upto if not self.stack.stages else cs.step - 1
        if cs.mode == Mode.AGGREGATED.value:
            before = 0
        what = "stage" if self.stack.stages else "layer"
        old = f"{what} {steps[before].label}" if before >= 0 else "empty image"
        return old, f"{what} {steps[cs.step].label}"

    def _show_details(self) -> None:
        if self.stack is None:
            return
        step = self.stack.steps[self.step]
        text = inspect_text.layer_text(step, self.stack)
        cs = self.cs
        if cs is not None and cs.step == self.step:
            title = "Changes" if cs.mode == Mode.LAYER.value else "Changes since the first step"
            text.append(f"\n{title}\n", style="bold")
            for status in (Status.ADDED, Status.MODIFIED, Status.REMOVED):
                n = cs.counts[status]
                text.append(f"{status.letter} {n:>7,}  ", style=_STATUS_STYLE[status])
                text.append(
                    f"{cs.bytes[status]:+,} B\n"
                    if status != Status.MODIFIED
                    else f"{cs.bytes[status]:+,} B net\n"
                )
        self.query_one("#layer-details", DetailsPane).set_text(text)
        self.query_one("#image-details", DetailsPane).set_text(
            inspect_text.summary(self.stack, self.step)
        )
        self.query_one(LayersTable).refresh_sizes()

    def _titles(self) -> None:
        if self.stack is None:
            return
        what = "Stage" if self.stack.stages else "Layer"
        label = self.stack.steps[self.step].label
        if self.mode == Mode.LAYER or self.step == 0:
            title = f"{what} {label}: its changes"
        else:
            title = f"{what}s {self.stack.steps[0].label}…{label}: aggregated changes"
        shown = " ".join(
            s.letter
            for s in (Status.ADDED, Status.MODIFIED, Status.REMOVED, Status.UNCHANGED)
            if s not in self.hidden[self.mode]
        )
        sub = f"sort: {self.sort} · showing: {shown or 'nothing'}"
        if self.pattern:
            sub += f" · /{self.pattern}/"
        tree = self.query_one(FileTreeView)
        tree.border_title = title
        tree.border_subtitle = sub

    # -- actions ------------------------------------------------------------------------

    def action_mode(self, mode: str) -> None:
        if self.mode.value == mode:
            return
        self.mode = Mode(mode)
        self.query_one(LayersTable).mark(self.step, self.mode)
        self.refresh_tree(expand_all=None)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.stack is None:
            self.app.exit(Cancelled("loading cancelled"), 130)
            return
        if box.has_class("hidden"):
            return
        box.add_class("hidden")
        self.query_one(FileTreeView).focus()
        if box.value:
            box.value = ""  # Input.Changed clears the filter

    def action_toggle_attributes(self) -> None:
        self.show_attrs = not self.show_attrs
        self.query_one(FileTreeView).set_attributes(self.show_attrs)

    def action_toggle_sort(self) -> None:
        self.sort = SORT_NAME if self.sort == SORT_SIZE else SORT_SIZE
        self.refresh_tree(expand_all=False)

    def action_toggle_status(self, letter: str) -> None:
        status = LETTERS[letter]
        hidden = self.hidden[self.mode]
        hidden.symmetric_difference_update({status})
        self.refresh_tree(expand_all=None)

    def action_toggle_all(self) -> None:
        rows = self.query_one(FileTreeView).rows
        if rows is None:
            return
        if rows.expanded:
            self.refresh_tree(expand_all=False, keep_expanded=False)
        else:
            self.refresh_tree(expand_all=True)

    def action_toggle_preview(self) -> None:
        preview = self.query_one(PreviewView)
        preview.display = not preview.display
        if preview.display:
            self._repreview()

    def action_toggle_hex(self) -> None:
        self.hex_mode = not self.hex_mode
        self._repreview()

    def _repreview(self) -> None:
        tree = self.query_one(FileTreeView)
        self._entry_highlighted(FileTreeView.Highlighted(self.cs, tree.node))

    def action_inspect(self) -> None:
        if self.stack is not None:
            self.app.push_screen(InspectScreen(inspect_text.details(self.stack, self.step)))

    def action_save(self) -> None:
        tree = self.query_one(FileTreeView)
        cs, node = self.cs, tree.node
        if cs is None or node is None:
            return
        if cs.kind(node) != EntryKind.FILE:
            self.notify("only regular files can be saved", severity="warning")
            return

        save_flow(self, cs, node)


_STATUS_STYLE = {Status.ADDED: "green", Status.MODIFIED: "yellow", Status.REMOVED: "red"}
