"""Growth per step: what each layer (of one image) or each stage (of several images) added,
modified and removed, and how big the tree was after it.

Built from the stack's change sets (engine.browse), the same ones the TUI's layer details
show, so the report, the TUI and any later text output agree. Bytes are regular-file bytes
with hard-linked content once (model.growth); "modified" bytes are the net size change of
the files that stayed files.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import Step
from layerscope.model.growth import Growth, diff_growth

__all__ = ["StepGrowth", "change_growth", "step_growth"]


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
    encrypted: bool = False  # its size could not be counted


def step_growth(step: Step, cs: ChangeSet, before_bytes: int) -> StepGrowth:
    """One step's growth from its change set (mode "layer": the step against the one before)."""
    after = cs.after.tree.total_size()
    grew = change_growth(cs)
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
        bytes_added=grew.added,
        bytes_modified=grew.modified,
        bytes_removed=grew.removed,
        tree_bytes=after,
        net=after - before_bytes,
        encrypted=step.encrypted,
    )


def change_growth(cs: ChangeSet) -> Growth:
    """The bytes a change set added, removed and changed, an inode once (model.growth)."""
    return diff_growth(
        cs.before.tree,
        cs.after.tree,
        cs.added,
        (-1 - d for d in cs.removed),
        ((m.old, m.new) for m in cs.modified.values()),
    )
