"""Messages the workers post to the view screen (attributes go down, messages come up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message

from layerscope.engine.browse.changes import ChangeSet
from layerscope.engine.browse.stack import Stack
from layerscope.engine.compare import ImageDiff
from layerscope.engine.pending import ContentProgress
from layerscope.ui.preview_model import Preview
from layerscope.ui.rows import Rows

if TYPE_CHECKING:
    from layerscope.engine.analysis import Report  # the analyses load on first use


class Progress(Message):
    """Loading progress; a newer one replaces an older one."""

    def __init__(self, text: str, done: int, total: int) -> None:
        self.text = text
        self.done = done
        self.total = total
        super().__init__()


class Loaded(Message):
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        super().__init__()


class TreeReady(Message):
    """The rows of the tree for (step, mode, filter, sort) generation `generation`."""

    def __init__(self, generation: int, cs: ChangeSet, rows: Rows, cursor_path: str | None):
        self.generation = generation
        self.cs = cs
        self.rows = rows
        self.cursor_path = cursor_path
        super().__init__()


class ContentCompared(Message):
    """A batch of content answers went into `cs` (already settled: redraw); `ended` on the
    last message of a comparison, finished or cancelled (progress.finished tells)."""

    def __init__(
        self,
        cs: ChangeSet,
        progress: ContentProgress,
        ended: bool = False,
        generation: int = 0,
        error: str | None = None,
    ) -> None:
        self.cs = cs
        self.progress = progress
        self.ended = ended
        # which comparison sent it: a stopped one's last messages can arrive after a newer
        # one for the same change set started, and must not end that one's progress line
        self.generation = generation
        self.error = error  # the comparison failed: why (one line, cleaned)
        super().__init__()


class PreviewReady(Message):
    def __init__(self, generation: int, preview: Preview) -> None:
        self.generation = generation
        self.preview = preview
        super().__init__()


class DiffLoaded(Message):
    """Both images are read and compared."""

    def __init__(self, diff: ImageDiff, cs: ChangeSet) -> None:
        self.diff = diff
        self.cs = cs
        super().__init__()


class Analyzed(Message):
    """An analysis report: of the image (`step` None) or of stage `step`. A pending one
    (the metadata-only part) comes first; the complete one follows."""

    def __init__(self, report: Report, step: int | None = None) -> None:
        self.report = report
        self.step = step
        super().__init__()


class AnalysisProgress(Message):
    """How far an analysis' content read is (bytes of the files it reads)."""

    def __init__(self, step: int | None, done: int, total: int) -> None:
        self.step = step
        self.done = done
        self.total = total
        super().__init__()


class PortabilityReady(Message):
    """The portability panel's text for step `step`."""

    def __init__(self, step: int, text: Text) -> None:
        self.step = step
        self.text = text
        super().__init__()


class GrowthReady(Message):
    """The "what made it big" panel's text for step `step`."""

    def __init__(self, step: int, text: Text) -> None:
        self.step = step
        self.text = text
        super().__init__()


class GrowthCounted(Message):
    """Every layer's growth is counted (Step.growth): the layers table can show it."""
