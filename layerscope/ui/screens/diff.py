"""The diff screen (`layerscope diff A B` on a terminal): one tree of B with A's removed
entries under their parents, A/M/D markers and rolled-up size deltas; the selected
entry's old and new attributes; a preview with a unified diff of text (hex for binaries);
the metadata differences one key away (`m`).

Both images are read in parallel threads of one worker (cancellable with Esc); the tree
shows from the listings at once, files whose size and attributes agree pending ("?") until
BrowseScreen's worker has compared their contents (layerscope.engine.pending)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input
from textual.worker import get_current_worker

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.compare import ImageDiff, compare_images
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.engine.loading import load_image
from layerscope.engine.pending import (
    ContentProgress,
    Result,
    apply_content,
    compare_pending,
    quick_diff,
)
from layerscope.errors import Cancelled, ExitCode
from layerscope.model.diff import DEFAULT_COMPARE
from layerscope.model.portability.changes import Change
from layerscope.model.tree import ROOT, FileTree
from layerscope.readers import OpenOptions
from layerscope.ui import diff_text
from layerscope.ui.keys import DIFF_KEYS
from layerscope.ui.messages import DiffLoaded, Progress
from layerscope.ui.screens.browse import BrowseScreen, ChangeSource, Settler
from layerscope.ui.screens.inspect import MetadataScreen
from layerscope.ui.screens.view import key_bindings
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.loading import LoadingBar


class DiffScreen(BrowseScreen):
    BINDINGS = key_bindings(DIFF_KEYS)

    def __init__(
        self,
        a: str,
        b: str | None,
        layer: int | None = None,
        options: OpenOptions | None = None,
        compare: frozenset[str] | set[str] = DEFAULT_COMPARE,
        portability: bool = False,
    ) -> None:
        super().__init__()
        self.a_ref, self.b_ref, self.layer_n = a, b, layer
        # `diff --portability`: what changed for portability, in the metadata screen
        self.portability = portability
        self.changes: list[Change] | None = None
        self.options = options
        self.compare = frozenset(compare)
        self.diff: ImageDiff | None = None
        self.hasher = ContentHasher()
        self.hidden: set[Status] = {Status.UNCHANGED}
        # what `q` exits with: diff(1)'s 0 / 1 once compared; interrupted before that
        self.quit_status = int(ExitCode.INTERRUPTED)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield DetailsPane(id="diff-summary")
                yield DetailsPane(id="entry")
            yield from self.compose_browser()
        yield from self.compose_status()

    def on_mount(self) -> None:
        self.query_one("#diff-summary").border_title = "Diff summary"
        self.query_one("#entry").border_title = "Entry: A → B"
        tree = self.query_one(FileTreeView)
        tree.border_title = "Changes"
        tree.show_deltas = True
        self.query_one("#preview").border_title = "Preview"
        self.query_one("#filter", Input).cursor_blink = False
        tree.focus()
        self.call_after_refresh(self.load)

    # -- BrowseScreen hooks -----------------------------------------------------------

    def is_loaded(self) -> bool:
        return self.diff is not None

    def hidden_now(self) -> set[Status]:
        return self.hidden

    def change_source(self) -> ChangeSource | None:
        cs = self.cs
        if cs is None:
            return None
        return lambda cancel: cs

    def preview_labels(self, cs: ChangeSet) -> tuple[str, str]:
        if self.layer_n is not None:
            return f"layer {cs.before.upto}", f"layer {cs.after.upto}"
        a = os.path.basename(self.a_ref.rstrip("/")) or self.a_ref
        b = os.path.basename((self.b_ref or "").rstrip("/")) or (self.b_ref or "")
        return (a, b) if a != b else ("A", "B")

    # -- loading ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        cancel = get_current_worker().cancelled_event
        a, b = self._read_both(cancel)
        try:
            self.post_message(Progress("comparing", 0, 1))
            # the metadata half: contents are compared after the tree shows
            tree, pending = quick_diff(a, b, self.compare, self.hasher)
            with_meta = self.b_ref is not None
            diff = compare_images(a, b, self.compare, self.hasher, with_meta, tree=tree)
            if cancel.is_set():
                raise Cancelled("cancelled")
            cs = ChangeSet(1, "diff", a, b, diff.tree, pending)
            if self.portability:
                from layerscope.engine.portability import portability_changes_of

                self.post_message(Progress("portability: reading ELF files", 0, 1))
                self.changes = portability_changes_of(a, b, cancel=cancel)
            # sizes and deltas are rolled up here, not on the first frame
            a.tree.rolled_size(ROOT)
            b.tree.rolled_size(ROOT)
        except BaseException:
            a.close()
            b.close()
            raise
        self.post_message(DiffLoaded(diff, cs))

    def _read_both(self, cancel: threading.Event) -> tuple[Image, Image]:
        """A and B read at once; progress shows both sides."""
        done: dict[str, tuple[str, int, int]] = {"A": ("opening", 0, 1), "B": ("opening", 0, 1)}
        lock = threading.Lock()

        def progress_of(side: str) -> Callable[[str, int, int], None]:
            def progress(text: str, n: int, total: int) -> None:
                with lock:
                    done[side] = (text, n, total)
                    line = " · ".join(f"{k}: {t}" for k, (t, _, _) in sorted(done.items()))
                    n_all = sum(d[1] for d in done.values())
                    t_all = sum(max(d[2], 1) for d in done.values())
                self.post_message(Progress(line, n_all, t_all))

            return progress

        def read(side: str, ref: str, upto: int | None) -> Image:
            return load_image(ref, self.options, upto, progress_of(side), cancel)

        if self.b_ref is None:
            after = read("B", self.a_ref, self.layer_n)
            if after.upto == 0:
                return Image(after.ref, after.reader, after.meta, FileTree(), -1), after
            try:
                return read("A", self.a_ref, after.upto - 1), after
            except BaseException:
                after.close()
                raise
        with ThreadPoolExecutor(2, thread_name_prefix="layerscope-diff") as pool:
            fa = pool.submit(read, "A", self.a_ref, None)
            fb = pool.submit(read, "B", self.b_ref, None)
            errors = [f.exception() for f in (fa, fb)]
        got = [f.result() for f, e in zip((fa, fb), errors, strict=True) if e is None]
        failed = [e for e in errors if e is not None]
        if failed:
            for img in got:
                img.close()
            raise failed[0]
        return fa.result(), fb.result()

    def settler(self) -> Settler | None:
        hasher = self.hasher

        def settle(
            cs: ChangeSet, on_progress: Callable[[ContentProgress], None], cancel: threading.Event
        ) -> bool:
            def batch(results: list[Result], progress: ContentProgress) -> None:
                cs.settle(results)
                if self.diff is not None:  # the document `m` and the exit status read
                    apply_content(self.diff.tree, cs.after.tree, results)
                on_progress(progress)

            pairs = cs.pending_pairs()
            return compare_pending(cs.before, cs.after, pairs, hasher, batch, cancel)

        return settle

    def contents_settled(self, cs: ChangeSet) -> None:
        self._set_quit_status()

    def contents_compared(self, cs: ChangeSet) -> None:
        self._set_quit_status()  # a difference found part-way is already the answer

    def _set_quit_status(self) -> None:
        """diff(1)'s 0 or 1; quit while contents are still pending and nothing differs
        yet, the answer is not known: interrupted."""
        d, cs = self.diff, self.cs
        if d is None or cs is None:
            return
        same = d.tree.empty and not d.meta and not d.packages and not self.changes
        if same and not cs.settled:
            self.quit_status = int(ExitCode.INTERRUPTED)
        else:
            self.quit_status = int(ExitCode.OK if same else ExitCode.FINDINGS)

    def on_diff_loaded(self, message: DiffLoaded) -> None:
        self.diff = message.diff
        self.cs = message.cs
        self._set_quit_status()
        self.query_one(LoadingBar).add_class("hidden")
        self.show_details()
        self.refresh_tree(expand_all=None)

    def on_unmount(self) -> None:
        super().on_unmount()
        if self.diff is not None:
            self.diff.a.close()
            self.diff.b.close()

    # -- panes --------------------------------------------------------------------------

    def show_details(self) -> None:
        d, cs = self.diff, self.cs
        if d is None or cs is None:
            return
        pane = self.query_one("#diff-summary", DetailsPane)
        pane.set_text(diff_text.summary(d, cs, max(pane.size.width - 2, 24)))

    def show_titles(self) -> None:
        tree = self.query_one(FileTreeView)
        if self.layer_n is not None:
            tree.border_title = f"Layer {self.layer_n}: its changes (size, Δ size)"
        else:
            tree.border_title = "A → B: changes (size, Δ size)"
        tree.border_subtitle = self.shown_text()

    def on_file_tree_view_highlighted(self, message: FileTreeView.Highlighted) -> None:
        pane = self.query_one("#entry", DetailsPane)
        if message.cs is None or message.node is None:
            pane.set_text(Text("nothing selected"))
        else:
            pane.set_text(diff_text.entry(message.cs, message.node))

    # -- actions ------------------------------------------------------------------------

    def action_metadata(self) -> None:
        if self.diff is not None:
            text = diff_text.metadata(self.diff, self.changes)
            self.app.push_screen(MetadataScreen(text))
