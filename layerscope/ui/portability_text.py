"""The portability panel's text (no Textual here): the report of one step, from
present.portability, and what changed since the step before, from
present.portability_diff, so the panel, `inspect --portability` and `diff --portability`
never disagree."""

from __future__ import annotations

from rich.text import Text

from layerscope.model.portability.changes import Change
from layerscope.model.portability.report import PortabilityReport
from layerscope.present.doc import Doc, image
from layerscope.present.portability import portability_doc
from layerscope.present.portability_diff import changes_doc
from layerscope.ui.richdoc import to_text

TOP = 15  # files per section; `inspect --portability --json` lists them all


def portability_text(
    name: str,
    report: PortabilityReport,
    changes: list[Change] | None = None,
    before: str | None = None,
) -> Text:
    """`name` ("stage 3", "layer 2") is our label; the image's reference is cleaned."""
    doc = Doc()
    doc.line((f"{name}: ", "name"), image(report.ref, "dim"))
    doc.extend(portability_doc(report, None, TOP))
    if changes is not None and before is not None:
        doc.title(f"Changes since {before}")
        doc.extend(changes_doc(changes, name))
    return to_text(doc)
