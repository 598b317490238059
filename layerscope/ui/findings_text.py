"""The findings texts (no Textual here): what makes the image big or leaky, from the
analysis Report through present.analysis, so the panel, `check` and `inspect --analyze`
never disagree.

Two views: a few headline rows for the image-details pane (dive's "image efficiency
score" and "potential wasted space", plus ours), and the full panel `f` opens."""

from __future__ import annotations

from rich.text import Text

from layerscope.engine.analysis import Report
from layerscope.present import units
from layerscope.present.analysis import PENDING, findings_doc, headline
from layerscope.present.doc import Doc
from layerscope.present.text import clean
from layerscope.ui.richdoc import to_text

# Rows per section of the panel; the JSON (`check --json`) has them all.
TOP = 15


def headline_rows(
    report: Report | None, running: bool, progress: tuple[int, int] | None = None
) -> list[tuple[str, str]]:
    """(name, value) rows for the image-details pane. A pending report (the metadata-only
    part) says how far the content read is: `progress` is (bytes done, bytes in all)."""
    if report is None:
        return [("Findings", "analysing…")] if running else []
    rows = headline(report)
    if report.pending and progress is not None:
        done, total = progress
        pct = f"{done * 100 // total} %, " if total else ""
        where = f"reading contents: {pct}{units.size(done)} of {units.size(total)}"
        rows = [(name, where if value == PENDING else value) for name, value in rows]
    return rows


def findings(report: Report) -> Text:
    doc = Doc()
    doc.line((clean(report.ref), "name"))
    doc.extend(findings_doc(report, TOP))
    return to_text(doc)
