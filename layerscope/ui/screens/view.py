"""The browser: layers, details, file tree and preview. It owns the state (which step, which
mode); the tree, filters and preview come from BrowseScreen; widgets get data by
assignment."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input
from textual.worker import Worker, WorkerState, get_current_worker

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import Mode, Stack, count_growth, open_stack
from layerscope.errors import Cancelled
from layerscope.model.growth import Growth
from layerscope.present import units
from layerscope.present.growth import change_growth
from layerscope.present.text import clean
from layerscope.readers import OpenOptions
from layerscope.ui import findings_text, inspect_text
from layerscope.ui.diff_text import pending_reason
from layerscope.ui.keys import VIEW_KEYS, Key
from layerscope.ui.messages import (
    AnalysisProgress,
    Analyzed,
    GrowthCounted,
    GrowthReady,
    Loaded,
    PortabilityReady,
    Progress,
)
from layerscope.ui.richdoc import plain
from layerscope.ui.screens.browse import BrowseScreen, ChangeSource, Settler
from layerscope.ui.screens.inspect import (
    FindingsScreen,
    GrowthScreen,
    InspectScreen,
    PortabilityScreen,
)
from layerscope.ui.widgets.details import DetailsPane
from layerscope.ui.widgets.file_tree import FileTreeView
from layerscope.ui.widgets.layers import LayersTable
from layerscope.ui.widgets.loading import LoadingBar

if TYPE_CHECKING:
    from layerscope.engine.analysis import Report  # the analyses load on first use


def key_bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    return [
        Binding(k.keys, k.action, k.footer_text, show=k.footer, tooltip=k.description) for k in keys
    ]


def view_bindings() -> list[BindingType]:
    return key_bindings(VIEW_KEYS)


class ViewScreen(BrowseScreen):
    BINDINGS = view_bindings()

    def __init__(self, refs: list[str], options: OpenOptions | None = None) -> None:
        super().__init__()
        self.refs = refs
        self.options = options
        self.stack: Stack | None = None
        self.step = 0
        self.mode = Mode.LAYER
        # dive's layer view shows what the layer touched; the aggregated view, everything
        self.hidden: dict[Mode, set[Status]] = {
            Mode.LAYER: {Status.UNCHANGED},
            Mode.AGGREGATED: set(),
        }
        # the analysis `check` runs, made in a worker: for an image as soon as it is
        # loaded, whatever its size (the metadata-only numbers first, then what needs its
        # contents, with progress); for a stage when `f` asks, kept per stage
        self.report: Report | None = None
        self.stage_reports: dict[int, Report] = {}
        self.analysing = False
        self._analysis_step: int | None = None  # what is analysed: a stage, None the image
        self._analysis_progress: tuple[int, int] | None = None  # content bytes done, total
        self._open_findings = False
        self._findings_step: int | None = None
        # the portability panel, per step, made in a worker when `r` asks (reads ELF files)
        self.portability_texts: dict[int, Text] = {}
        self._portability_step: int | None = None
        self._growth: tuple[ChangeSet, Growth] | None = None  # of the aggregated change set
        # the "what made it big" panel, per step, made in a worker when `g` asks
        self.growth_texts: dict[int, Text] = {}
        self._growth_step: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LayersTable(id="layers")
                yield DetailsPane(id="layer-details")
                yield DetailsPane(id="image-details")
            yield from self.compose_browser()
        yield from self.compose_status()

    def on_mount(self) -> None:
        self.query_one("#layers").border_title = "Layers"
        self.query_one("#layer-details").border_title = "Layer details"
        self.query_one("#image-details").border_title = "Image details"
        self.query_one("#tree").border_title = "Contents"
        self.query_one("#preview").border_title = "Preview"
        self.query_one("#filter", Input).cursor_blink = False
        self.show_deltas()
        self.query_one(LayersTable).focus()
        # paint the first frame before the loading thread competes for the interpreter
        self.call_after_refresh(self.load)

    # -- BrowseScreen hooks ---------------------------------------------------------------

    def is_loaded(self) -> bool:
        return self.stack is not None

    def hidden_now(self) -> set[Status]:
        return self.hidden[self.mode]

    def change_source(self) -> ChangeSource | None:
        stack, step, mode = self.stack, self.step, self.mode
        if stack is None:
            return None

        def progress(text: str, done: int, total: int) -> None:
            self.post_message(Progress(text, done, total))

        def source(cancel: threading.Event) -> ChangeSet:
            # the metadata half only: contents are compared after the rows show
            return stack.change_set(step, mode, progress, cancel, settle=False)

        return source

    def settler(self) -> Settler | None:
        return self.stack.settle_contents if self.stack is not None else None

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

    def on_loaded(self, message: Loaded) -> None:
        self.stack = message.stack
        self.query_one(LoadingBar).add_class("hidden")
        self.query_one(LayersTable).set_steps(self.stack.steps, self.step, self.mode)
        if any(step.growth is None for step in self.stack.steps):
            self.count_growth(self.stack)  # each layer's added and removed bytes
        if self.stack.final is not None and not self.stack.stages:
            self.start_analysis()
        self.show_details()
        self.refresh_tree(expand_all=None)

    @work(thread=True, exclusive=True, group="layer-growth", exit_on_error=False)
    def count_growth(self, stack: Stack) -> None:
        worker = get_current_worker()
        count_growth(stack, worker.cancelled_event)
        if not worker.is_cancelled:
            self.post_message(GrowthCounted())

    def on_growth_counted(self, message: GrowthCounted) -> None:
        self.show_details()  # the table's sizes and the layer details

    def start_analysis(self, step: int | None = None) -> None:
        """Analyse the image (`step` None) or stage `step`, in a worker (one at a time)."""
        assert self.stack is not None
        if self.analysing and self._analysis_step != step:
            # the running analysis stops (exclusive worker): its metadata-only report must
            # not stay behind as if its contents were still being read
            old = self._analysis_step
            kept = self.report if old is None else self.stage_reports.get(old)
            if kept is not None and kept.pending:
                if old is None:
                    self.report = None
                else:
                    del self.stage_reports[old]
        self.analysing = True
        self._analysis_step = step
        self._analysis_progress = None
        self.analyse(self.stack, step)

    @work(thread=True, exclusive=True, group="analysis", exit_on_error=False)
    def analyse(self, stack: Stack, step: int | None) -> None:
        # imported here: the first frame does not wait for the analyses' modules
        from layerscope.engine.analysis import analyze
        from layerscope.engine.browse.build import Reporter

        worker = get_current_worker()
        cancel = worker.cancelled_event
        img = stack.final if step is None else stack.state(step, Reporter(None, cancel))
        assert img is not None

        def first(report: Report) -> None:
            if not worker.is_cancelled:
                self.post_message(Analyzed(report, step))

        def progress(text: str, done: int, total: int) -> None:
            if text.startswith("reading contents") and not worker.is_cancelled:
                self.post_message(AnalysisProgress(step, done, total))

        report = analyze(img, progress=progress, cancel=cancel, first=first)
        if not worker.is_cancelled:
            self.post_message(Analyzed(report, step))

    def on_analyzed(self, message: Analyzed) -> None:
        if message.step is None:
            self.report = message.report
        else:
            self.stage_reports[message.step] = message.report
        if not message.report.pending and message.step == self._analysis_step:
            self.analysing = False
            self._analysis_progress = None
        self.show_details()
        if (
            self._open_findings
            and not message.report.pending
            and message.step == self._findings_step
        ):
            self._open_findings = False
            if message.step == self._target():
                self.app.clear_notifications()  # "…open when it is done" is now said
                self.action_findings()

    def on_analysis_progress(self, message: AnalysisProgress) -> None:
        if self.analysing and message.step == self._analysis_step:
            self._analysis_progress = (message.done, message.total)
            if message.step == self._target():
                self.show_details()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group not in ("analysis", "portability", "growth", "layer-growth"):
            return  # BrowseScreen's handler deals with it
        event.prevent_default()
        # a cancelled one was replaced by a newer request (or the screen is closing)
        failed = event.state == WorkerState.ERROR
        if failed and event.worker.group == "portability":
            self._portability_step = None
        if failed and event.worker.group == "growth":
            self._growth_step = None
        if event.state == WorkerState.ERROR:
            # the findings and the portability report are extra: say why they are
            # missing, keep browsing
            if event.worker.group == "analysis":
                self.analysing = False
            if isinstance(event.worker.error, Cancelled):
                return
            first = str(event.worker.error).splitlines()[0] if str(event.worker.error) else ""
            what = event.worker.group
            self.notify(clean(f"{what} failed: {first}"), severity="warning", markup=False)
            self.show_details()

    # -- state changes --------------------------------------------------------------------

    @on(LayersTable.Selected)
    def _layer_selected(self, message: LayersTable.Selected) -> None:
        if self.stack is None or message.index == self.step:
            return
        self.step = message.index
        self.query_one(LayersTable).mark(self.step, self.mode)
        self.clear_tree()
        self.show_details()
        self.refresh_tree(expand_all=None)

    def preview_labels(self, cs: ChangeSet) -> tuple[str, str]:
        assert self.stack is not None
        steps = self.stack.steps
        before = cs.before.upto if not self.stack.stages else cs.step - 1
        if cs.mode == Mode.AGGREGATED.value:
            before = 0
        what = "stage" if self.stack.stages else "layer"
        old = f"{what} {steps[before].label}" if before >= 0 else "empty image"
        return old, f"{what} {steps[cs.step].label}"

    def show_details(self) -> None:
        if self.stack is None:
            return
        step = self.stack.steps[self.step]
        text = inspect_text.layer_text(step, self.stack)
        cs = self.cs
        if cs is not None and cs.step == self.step:
            title = "Changes" if cs.mode == Mode.LAYER.value else "Changes since the first step"
            text.append(f"\n{title}\n", style="bold")
            grew = self.growth_of(cs)
            # files' bytes, hard-linked content once; what was removed is a minus
            rows = (
                (Status.ADDED, grew.added, ""),
                (Status.MODIFIED, grew.modified, " net"),
                (Status.REMOVED, -grew.removed, ""),
            )
            for status, delta, net in rows:
                n = cs.counts[status]
                text.append(f"{status.letter} {n:>7,}  ", style=_STATUS_STYLE[status])
                text.append(f"{units.signed_size(delta)}{net}\n")
            text.append(f"  {'net':>7}  {units.signed_size(grew.net)}\n", style="bold")
            pending = cs.counts[Status.PENDING]
            if pending:
                why = pending_reason(cs)
                text.append(f"? {pending:>7,}  pending ({why})\n", style="italic")
        self.query_one("#layer-details", DetailsPane).set_text(text)
        self.query_one("#image-details", DetailsPane).set_text(
            inspect_text.summary(self.stack, self.step, self.findings_rows())
        )
        self.query_one(LayersTable).refresh_sizes()

    def growth_of(self, cs: ChangeSet) -> Growth:
        """The change set's bytes added, removed and changed (hard links once): the step's
        own numbers in layer mode (counted when the stack opened), else counted once."""
        assert self.stack is not None
        step = self.stack.steps[cs.step]
        if cs.mode == Mode.LAYER.value and step.growth is not None:
            return step.growth
        if self._growth is None or self._growth[0] is not cs:
            self._growth = (cs, change_growth(cs))
        return self._growth[1]

    def show_titles(self) -> None:
        if self.stack is None:
            return
        what = "Stage" if self.stack.stages else "Layer"
        label = self.stack.steps[self.step].label
        cs = self.cs
        mode = Mode.LAYER if self.step == 0 else self.mode  # both modes agree on step 0
        if cs is None or cs.step != self.step or cs.mode != mode.value:
            # the rows shown are not this step's (yet): name the step, show no rows
            title = f"{what} {label}: loading…"
        elif mode == Mode.LAYER:
            title = f"{what} {label}: its changes"
        else:
            title = f"{what}s {self.stack.steps[0].label}…{label}: aggregated changes"
        tree = self.query_one(FileTreeView)
        tree.border_title = plain(title)
        tree.border_subtitle = self.shown_text()

    # -- actions ------------------------------------------------------------------------

    def action_mode(self, mode: str) -> None:
        if self.mode.value == mode:
            return
        self.mode = Mode(mode)
        self.query_one(LayersTable).mark(self.step, self.mode)
        self.clear_tree()
        self.show_deltas()
        self.refresh_tree(expand_all=None)

    def show_deltas(self) -> None:
        """In "its changes" mode each entry shows what the step changed it by (a directory:
        everything under it), beside its size."""
        tree = self.query_one(FileTreeView)
        tree.show_deltas = self.mode == Mode.LAYER
        tree.refresh()

    def _target(self) -> int | None:
        """What the findings are of: the selected stage, or the image (None)."""
        return self.step if self.stack is not None and self.stack.stages else None

    def current_report(self) -> Report | None:
        step = self._target()
        return self.report if step is None else self.stage_reports.get(step)

    def findings_rows(self) -> list[tuple[str, str]]:
        step = self._target()
        running = self.analysing and self._analysis_step == step
        progress = self._analysis_progress if running else None
        return findings_text.headline_rows(self.current_report(), running, progress)

    def action_inspect(self) -> None:
        if self.stack is not None:
            text = inspect_text.details(self.stack, self.step, self.findings_rows())
            self.app.push_screen(InspectScreen(text))

    def action_findings(self) -> None:
        """The findings of the image, or in stage mode of the selected stage (each stage is
        an image); they open when the analysis is done."""
        if self.stack is None or (not self.stack.stages and self.stack.final is None):
            return
        step = self._target()
        report = self.current_report()
        if report is not None and not report.pending:
            self.app.push_screen(FindingsScreen(findings_text.findings(report)))
            return
        self._open_findings = True
        self._findings_step = step
        if not (self.analysing and self._analysis_step == step):
            self.start_analysis(step)
            self.show_details()
        what = "the image" if step is None else f"stage {self.stack.steps[step].label}"
        self.notify(clean(f"analysing {what}: the findings open when it is done"), markup=False)

    # -- the portability panel --------------------------------------------------------------

    def action_portability(self) -> None:
        if self.stack is None:
            return
        text = self.portability_texts.get(self.step)
        if text is not None:
            self.app.push_screen(PortabilityScreen(text))
            return
        if self._portability_step != self.step:
            # exclusive worker: one for another step stops, this step's is wanted now
            self._portability_step = self.step
            self.portability_worker(self.stack, self.step)
        self.notify("reading the ELF files: the portability report opens when it is done")

    @work(thread=True, exclusive=True, group="portability", exit_on_error=False)
    def portability_worker(self, stack: Stack, step: int) -> None:
        from layerscope.engine.portability import portability  # its parsers load on use
        from layerscope.model.portability.changes import portability_changes
        from layerscope.ui.portability_text import portability_text

        worker = get_current_worker()
        cancel = worker.cancelled_event
        report = portability(stack.state(step), cancel=cancel)
        what = "stage" if stack.stages else "layer"
        name = f"{what} {stack.steps[step].label}"
        changes, before = None, None
        if step > 0:
            earlier = portability(stack.state(step - 1), cancel=cancel)
            changes = portability_changes(earlier, report)
            before = f"{what} {stack.steps[step - 1].label}"
        text = portability_text(name, report, changes, before)
        if not worker.is_cancelled:
            self.post_message(PortabilityReady(step, text))

    def on_portability_ready(self, message: PortabilityReady) -> None:
        self.portability_texts[message.step] = message.text
        if message.step == self._portability_step:
            self._portability_step = None
        if message.step == self.step:
            self.app.clear_notifications()  # "…opens when it is done" is now said
            self.app.push_screen(PortabilityScreen(message.text))

    # -- the "what made it big" panel -----------------------------------------------------

    def action_growth(self) -> None:
        if self.stack is None:
            return
        text = self.growth_texts.get(self.step)
        if text is not None:
            self.app.push_screen(GrowthScreen(text))
            return
        if self._growth_step != self.step:
            # exclusive worker: one for another step stops, this step's is wanted now
            self._growth_step = self.step
            self.growth_worker(self.stack, self.step)
        self.notify("counting what the step added: the panel opens when it is done")

    @work(thread=True, exclusive=True, group="growth", exit_on_error=False)
    def growth_worker(self, stack: Stack, step: int) -> None:
        from layerscope.engine.contributors import contributors  # loads on first use
        from layerscope.ui.growth_text import growth_text

        worker = get_current_worker()
        cancel = worker.cancelled_event
        before, after = stack.state(step - 1), stack.state(step)
        doc = contributors(before, after, cancel)
        what = "stage" if stack.stages else "layer"
        name = f"{what} {stack.steps[step].label}"
        earlier = f"{what} {stack.steps[step - 1].label}" if step > 0 else "an empty image"
        text = growth_text(name, earlier, doc)
        if not worker.is_cancelled:
            self.post_message(GrowthReady(step, text))

    def on_growth_ready(self, message: GrowthReady) -> None:
        self.growth_texts[message.step] = message.text
        if message.step == self._growth_step:
            self._growth_step = None
        if message.step == self.step:
            self.app.clear_notifications()  # "…opens when it is done" is now said
            self.app.push_screen(GrowthScreen(message.text))


_STATUS_STYLE = {Status.ADDED: "green", Status.MODIFIED: "yellow", Status.REMOVED: "red"}
