"""What the view and diff screens share: a change set shown as a file tree with filters,
sort and regex, a preview read in a worker, saving. Subclasses say where the change set
comes from and what the side panes show; the state lives here, widgets get it assigned.

A change set may come with contents not compared yet (PENDING, "?"): the tree shows at
once and a worker settles the rest in batches (redrawn as they come, with a progress line
Esc cancels); when it ends, the tree is laid out again under the filters."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.pending import ContentProgress
from layerscope.errors import Cancelled, exit_code_for
from layerscope.model.entry import EntryKind
from layerscope.present.progress import content_progress
from layerscope.present.text import clean
from layerscope.ui.jobs import DONE, Jobs
from layerscope.ui.messages import ContentCompared, PreviewReady, Progress, TreeReady
from layerscope.ui.preview_model import build_preview
from layerscope.ui.rows import SORT_NAME, SORT_SIZE, Rows
from layerscope.ui.screens.error import ErrorScreen
from layerscope.ui.screens.save import save_flow
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.loading import LoadingBar
from layerscope.ui.widgets.preview import PreviewView

LETTERS = {s.letter: s for s in Status}
# A change set for a tree job, made in the worker (it may read and compare images).
ChangeSource = Callable[[threading.Event], ChangeSet]
# Settles a change set's pending contents (progress callback, cancel); False if cancelled.
Settler = Callable[[ChangeSet, Callable[[ContentProgress], None], threading.Event], bool]
SHOWN_ORDER = (Status.ADDED, Status.MODIFIED, Status.REMOVED, Status.UNCHANGED)


class BrowseScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        self.sort = SORT_SIZE
        self.pattern = ""
        self.show_attrs = False
        self.hex_mode = False
        self.cs: ChangeSet | None = None
        self.tree_loading = False  # the tree is cleared until the new change set shows
        self._comparing: ChangeSet | None = None  # whose contents the worker compares
        self._compare_gen = 0  # the newest comparison submitted
        self._tree_gen = 0
        self._preview_gen = 0
        self.jobs = Jobs()

    # -- what subclasses provide ---------------------------------------------------------

    def compose_browser(self) -> ComposeResult:
        """The right-hand column both screens share: tree, filter box, preview."""
        with Vertical(id="right"):
            yield FileTreeView(id="tree")
            yield Input(
                placeholder="regex on the full path (Enter: keep, Esc: clear)",
                id="filter",
                classes="hidden",
            )
            yield PreviewView(id="preview")

    def compose_status(self) -> ComposeResult:
        yield LoadingBar(id="loading")
        yield Footer(compact=True)

    def is_loaded(self) -> bool:
        raise NotImplementedError

    def hidden_now(self) -> set[Status]:
        """The statuses hidden in the current tree (a set the toggles edit in place)."""
        raise NotImplementedError

    def change_source(self) -> ChangeSource | None:
        """How the tree job gets its change set (None: nothing loaded yet)."""
        raise NotImplementedError

    def preview_labels(self, cs: ChangeSet) -> tuple[str, str]:
        raise NotImplementedError

    def settler(self) -> Settler | None:
        """How pending contents get compared (None: change sets come complete)."""
        return None

    def contents_settled(self, cs: ChangeSet) -> None:
        """Every pending content of `cs` is compared now."""

    def contents_compared(self, cs: ChangeSet) -> None:
        """Some pending contents of `cs` were compared (a batch's answers are in)."""

    def show_details(self) -> None:
        """Fill the side panes from the current state."""

    def show_titles(self) -> None:
        """Set the tree's border title and subtitle."""

    def shown_text(self) -> str:
        hidden = self.hidden_now()
        shown = " ".join(s.letter for s in SHOWN_ORDER if s not in hidden)
        sub = f"sort: {self.sort} · showing: {shown or 'nothing'}"
        if self.pattern:
            sub += f" · /{self.pattern}/"
        return sub

    # -- workers ------------------------------------------------------------------------

    @work(thread=True, group="tree", exit_on_error=False)
    def build_tree(
        self,
        cancel: threading.Event,
        gen: int,
        source: ChangeSource,
        hidden: frozenset[Status],
        pattern: re.Pattern[str] | None,
        sort: str,
        expanded: set[str],
        expand_all: bool | None,
        cursor: str | None,
    ) -> None:
        cs = source(cancel)
        rows = Rows(cs, cs.visible(hidden, pattern, cancel), sort)
        rows.build(expanded, expand_all, cancel)
        if not cancel.is_set():
            self.post_message(TreeReady(gen, cs, rows, cursor))

    @work(thread=True, group="compare", exit_on_error=False)
    def compare_contents(
        self, cancel: threading.Event, gen: int, cs: ChangeSet, settle: Settler
    ) -> None:
        last = ContentProgress(0, 0, 0, 0, 0.0)

        def progress(p: ContentProgress) -> None:
            nonlocal last
            last = p
            self.post_message(ContentCompared(cs, p, generation=gen))

        try:
            settle(cs, progress, cancel)
        except Cancelled:
            raise
        except Exception as e:  # a corrupt block, a vanished file: said once, not retried
            why = clean(str(e).splitlines()[0] if str(e) else type(e).__name__)
            self.post_message(ContentCompared(cs, last, ended=True, generation=gen, error=why))
            return
        self.post_message(ContentCompared(cs, last, ended=True, generation=gen))

    @work(thread=True, group="preview", exit_on_error=False)
    def build_preview(
        self, cancel: threading.Event, gen: int, cs: ChangeSet, node: int, hex_mode: bool
    ) -> None:
        preview = build_preview(cs, node, hex_mode, self.preview_labels(cs), cancel)
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
        if event.worker.group == "compare":
            # the rows stay as they are (pending ones pending): say why, keep browsing
            self._comparing = None
            self.query_one(LoadingBar).done()
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.notify(clean(f"comparing contents failed: {first}"), severity="warning",
                        markup=False)  # fmt: skip
            self.show_details()
            return
        self.app.push_screen(ErrorScreen(error, fatal=event.worker.group == "load"))

    # -- worker results -----------------------------------------------------------------

    def on_progress(self, message: Progress) -> None:
        self.query_one(LoadingBar).show_progress(message.text, message.done, message.total)

    def on_tree_ready(self, message: TreeReady) -> None:
        if message.generation != self._tree_gen:
            return
        self.cs = message.cs
        self.tree_loading = False
        self.query_one(FileTreeView).set_rows(message.rows, message.cursor_path)
        if not self.compare_pending(message.cs):
            self.query_one(LoadingBar).done()
        self.show_details()
        self.show_titles()

    def compare_pending(self, cs: ChangeSet) -> bool:
        """Start (or keep) the worker comparing `cs`'s pending contents; False when there
        is nothing to compare (or the user stopped it for this change set)."""
        settle = self.settler()
        if settle is None or cs.settled or cs.cancelled or cs.failed is not None:
            return False
        if self._comparing is cs and self.jobs.running("compare"):
            return True
        self._comparing = cs
        self._compare_gen += 1
        gen = self._compare_gen
        self.jobs.submit("compare", lambda cancel: self.compare_contents(cancel, gen, cs, settle))
        pending = cs.counts[Status.PENDING]
        self.query_one(LoadingBar).show_busy(f"comparing contents: {pending:,} files pending")
        return True

    def stop_comparing(self, by_user: bool = False) -> bool:
        """Stop the content comparison (the pending rows stay pending). By the user: it
        stays stopped for that change set until its step is chosen again."""
        cs = self._comparing
        if cs is None or not self.jobs.running("compare"):
            return False
        if by_user:
            cs.cancelled = True
        self.jobs.cancel("compare")
        self._comparing = None
        self.query_one(LoadingBar).done()
        return True

    def on_content_compared(self, message: ContentCompared) -> None:
        cs, p = message.cs, message.progress
        current = message.generation == self._compare_gen
        if message.error is not None:
            cs.failed = message.error
        if message.ended and current and self._comparing is cs:
            self._comparing = None
        if cs is not self.cs:
            return  # an earlier step's comparison, stopped when the step changed
        self.contents_compared(cs)
        bar = self.query_one(LoadingBar)
        if not message.ended or not current:
            # answers came in; a stopped comparison's last message leaves the newer one's
            # progress line alone
            if not message.ended and current and self._comparing is cs:
                bar.show_progress(content_progress(p), p.bytes_done, p.bytes_total)
            self.query_one(FileTreeView).refresh()  # "?" rows turn M or U in place
            self.show_details()
            return
        bar.done()
        if message.error is not None:
            left = cs.counts[Status.PENDING]
            self.notify(f"comparing contents failed: {message.error} ({left:,} files stay ?)",
                        severity="warning", markup=False)  # fmt: skip
        elif p.finished:
            self.contents_settled(cs)
            # lay the tree out again: rows that turned out unchanged may now be hidden
            self.refresh_tree(expand_all=False)
        elif cs.cancelled:
            left = cs.counts[Status.PENDING]
            self.notify(f"content comparison cancelled: {left:,} files stay pending (?)")
        self.show_details()

    def on_preview_ready(self, message: PreviewReady) -> None:
        if message.generation == self._preview_gen:
            self.query_one(PreviewView).set_preview(message.preview)
            self.query_one("#preview").border_title = f"Preview: {message.preview.kind}"

    # -- state changes --------------------------------------------------------------------

    def refresh_tree(self, expand_all: bool | None = None, keep_expanded: bool = True) -> None:
        source = self.change_source()
        if source is None:
            return
        tree = self.query_one(FileTreeView)
        expanded = tree.rows.expanded_paths() if tree.rows and keep_expanded else set()
        self._tree_gen += 1
        if self.tree_loading:
            self.show_titles()
            self.query_one(LoadingBar).show_busy("loading the changes…")
        pattern = re.compile(self.pattern) if self.pattern else None
        args = (self._tree_gen, source, frozenset(self.hidden_now()), pattern, self.sort,
                expanded, expand_all, tree.cursor_path())  # fmt: skip
        self.jobs.submit("tree", lambda cancel: self.build_tree(cancel, *args))
        self.show_titles()

    def clear_tree(self) -> None:
        """Show nothing until the next change set is laid out: the tree pane never shows
        one step's rows under another step's title. Stops comparing the shown one."""
        self.stop_comparing()
        if self.cs is not None:
            self.cs.cancelled = False  # stopped by the user: chosen again, it resumes
        self.cs = None
        self.tree_loading = True
        self.query_one(FileTreeView).set_rows(None)

    @on(FileTreeView.Highlighted)
    def _entry_highlighted(self, message: FileTreeView.Highlighted) -> None:
        self._preview_gen += 1
        preview = self.query_one(PreviewView)
        if message.cs is None or message.node is None:
            why = "loading…" if self.tree_loading else "every entry is filtered out"
            preview.set_preview(None, f"nothing to show: {why}")
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

    # -- actions ------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("hidden")
        box.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if not self.is_loaded():
            error = Cancelled("loading cancelled")
            self.app.exit(error, exit_code_for(error))
            return
        if box.has_class("hidden"):
            if self.stop_comparing(by_user=True):
                self.show_details()
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
        self.hidden_now().symmetric_difference_update({LETTERS[letter]})
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

    def action_save(self) -> None:
        tree = self.query_one(FileTreeView)
        cs, node = self.cs, tree.node
        if cs is None or node is None:
            return
        if cs.kind(node) != EntryKind.FILE:
            self.notify("only regular files can be saved", severity="warning")
            return
        save_flow(self, cs, node)
