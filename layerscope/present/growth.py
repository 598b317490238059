"""Growth per step: what each layer (of one image) or each stage (of several images) added,
modified and removed, and how big the tree was after it.

Built from the stack's change sets (engine.browse), the same ones the TUI's layer details
show, so the report, the TUI and any later text output agree. Bytes are regular-file bytes
with hard-linked content once (model.sizes.file_bytes); "modified" bytes are the net size
change of the files whose content changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import Step
from layerscope.present import units
from layerscope.present.doc import Doc, image

__all__ = ["StepGrowth", "growth_doc", "growth_json", "step_growth"]


@dataclass(slots=True)
class StepGrowth:
    index: int
    label: str
    created_by: str
    stored_size: int | None  # what the step takes on disk (a layer blob, a stage's file)
    size: int | None  # regular-file bytes the step holds (a layer's own, a stage's tree)
    entries: int | None
    added: int
    modified: int
    removed: int
    bytes_added: int
    bytes_modified: int  # net size change of the modified files
    bytes_removed: int
    tree_bytes: int  # the merged tree's regular-file bytes after this step
    net: int  # tree_bytes minus the tree before this step

    @property
    def encrypted(self) -> bool:
        return self.size is None and self.entries is None


def step_growth(step: Step, cs: ChangeSet, before_bytes: int) -> StepGrowth:
    """One step's growth from its change set (mode "layer": the step against the one before)."""
    after = cs.after.tree.total_size()
    return StepGrowth(
        index=step.index,
        label=step.label,
        created_by=" ".join(step.created_by.split()),
        stored_size=step.stored_size,
        size=step.size,
        entries=step.entries,
        added=cs.counts[Status.ADDED],
        modified=cs.counts[Status.MODIFIED],
        removed=cs.counts[Status.REMOVED],
        bytes_added=cs.bytes[Status.ADDED],
        bytes_modified=cs.bytes[Status.MODIFIED],
        bytes_removed=cs.bytes[Status.REMOVED],
        tree_bytes=after,
        net=after - before_bytes,
    )


def growth_json(steps: list[StepGrowth], stages: bool) -> dict[str, Any]:
    """Integer bytes, 0-based step indexes; `unit` says what a step is."""
    return {"unit": "stage" if stages else "layer", "steps": [asdict(s) for s in steps]}


def growth_doc(steps: list[StepGrowth], stages: bool) -> Doc:
    """One line per step: its label, what it added and removed, and the tree after it."""
    what = "Stage" if stages else "Layer"
    doc = Doc()
    doc.title(f"Growth per {what.lower()}")
    for s in steps:
        doc.line(
            (f"  {what} {s.index} ", "name"),
            image(s.label if stages else s.created_by[:60]),
            "  ",
            (f"+{units.count(s.added)} {units.signed_size(s.bytes_added)}", "added"),
            "  ",
            (f"~{units.count(s.modified)} {units.signed_size(s.bytes_modified)}", "modified"),
            "  ",
            (f"-{units.count(s.removed)} {units.signed_size(-s.bytes_removed)}", "removed"),
            (f"  net {units.signed_size(s.net)}, tree {units.size(s.tree_bytes)}", "size"),
        )
    return doc
