"""The report's documents, gathered from what the engine computed: the analysis (as
`check --json` has it), the growth per step, the treemap, the findings and metadata Docs,
and per pair of stages the diff (as `diff --json` has it) with its metadata and text diffs.
Nothing here computes a second answer: every number comes from a document another output
prints too (present.analysis, present.check, present.diff, present.growth)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layerscope.engine.analysis import Report
from layerscope.engine.browse.changes import ChangeSet
from layerscope.engine.browse.stack import Mode, Stack
from layerscope.engine.compare import ImageDiff, compare_images
from layerscope.engine.image import Image
from layerscope.model.diff import DEFAULT_COMPARE
from layerscope.present import units
from layerscope.present.analysis import findings_doc, headline, report_json
from layerscope.present.diff import diff_json, metadata_doc, side_name
from layerscope.present.doc import Doc
from layerscope.present.growth import StepGrowth, step_growth
from layerscope.present.inspect import meta_doc, platform
from layerscope.present.text import clean
from layerscope.present.textdiff import FileDiff, text_diffs
from layerscope.present.treemap import Treemap, build_treemap

__all__ = ["ChangeRow", "DiffSection", "ReportPage", "Side", "build_page", "collect"]

ROWS_PER_STATUS = 400  # changed entries listed per status and pair; the rest summarised
FINDINGS_TOP = 25


@dataclass(slots=True)
class Side:
    name: str  # cleaned
    format: str
    platform: str | None
    layers: int
    stored_bytes: int | None
    final_bytes: int


@dataclass(slots=True)
class ChangeRow:
    status: str  # added, removed, modified
    path: str  # cleaned
    type: str
    old: int | None
    new: int | None
    delta: int
    changes: str


@dataclass(slots=True)
class DiffSection:
    step: int
    a: str
    b: str
    summary: dict[str, int]  # diff --json's "summary"
    shared_layers: int
    rows: list[ChangeRow]
    unlisted: dict[str, tuple[int, int]]  # status -> (entries, regular-file bytes)
    metadata: Doc
    files: list[FileDiff]
    same_metadata: bool


@dataclass(slots=True)
class ReportPage:
    title: str
    stages: bool
    sides: list[Side]
    analysis: dict[str, Any]  # report_json: what check --json has under "analysis"
    headline: list[tuple[str, str]]
    findings: Doc
    growth: list[StepGrowth]
    treemap: Treemap
    owners: list[str]  # label per layer or stage, for the legend
    meta: Doc
    check: dict[str, Any] | None = None  # check_json, when a config was given
    diffs: list[DiffSection] = field(default_factory=list)
    # issue 18 (portability): the section appears when its document is given
    portability: Doc | None = None
    warnings: list[str] = field(default_factory=list)


def side(img: Image) -> Side:
    meta = img.meta
    return Side(
        side_name(img),
        meta.format,
        platform(meta),
        len(meta.layers),
        meta.stored_bytes,
        img.tree.total_size(),
    )


def change_rows(doc: dict[str, Any]) -> tuple[list[ChangeRow], dict[str, tuple[int, int]]]:
    """The largest changes of a diff --json document, ROWS_PER_STATUS per status, and what
    the rest holds (entries and regular-file bytes), to say in a note."""
    rows: list[ChangeRow] = []
    unlisted: dict[str, tuple[int, int]] = {}
    groups: dict[str, list[ChangeRow]] = {"added": [], "removed": [], "modified": []}
    for e in doc["added"]:
        groups["added"].append(ChangeRow("added", clean(e.path), e.type, None, e.size, e.size, ""))
    for e in doc["removed"]:
        groups["removed"].append(
            ChangeRow("removed", clean(e.path), e.type, e.size, None, -e.size, "")
        )
    for m in doc["modified"]:
        old, new = m["old"], m["new"]
        groups["modified"].append(
            ChangeRow(
                "modified",
                clean(m["path"]),
                new.type,
                old.size,
                new.size,
                new.size - old.size,
                ",".join(m["changes"]),
            )
        )
    for status, group in groups.items():
        group.sort(key=lambda r: (-abs(r.delta), r.path))
        rows.extend(group[:ROWS_PER_STATUS])
        rest = group[ROWS_PER_STATUS:]
        if rest:
            files = sum(abs(r.delta) for r in rest if r.type == "file")
            unlisted[status] = (len(rest), files)
    return rows, unlisted


def diff_section(step: int, d: ImageDiff) -> DiffSection:
    doc = diff_json(d)
    rows, unlisted = change_rows(doc)
    labels = (side_name(d.a), side_name(d.b))
    return DiffSection(
        step=step,
        a=labels[0],
        b=labels[1],
        summary=doc["summary"],
        shared_layers=len(d.shared_layers),
        rows=rows,
        unlisted=unlisted,
        metadata=metadata_doc(d),
        files=text_diffs(d, labels),
        same_metadata=not d.meta and not d.packages,
    )


def owner_labels(stack: Stack) -> list[str]:
    if stack.stages:
        return [clean(s.label) for s in stack.steps]
    return [f"layer {s.index}: {clean(' '.join(s.created_by.split()))}" for s in stack.steps]


def collect(stack: Stack) -> tuple[list[StepGrowth], list[DiffSection], dict[str, int], list[Side]]:
    """Each step's growth; for stages also each pair's diff section (stage i - 1 against
    stage i, compared once: its tree diff is also the step's change set), which stage last
    wrote each path, and the images' sides. One pair at a time: the diffs are not kept."""
    growth: list[StepGrowth] = []
    sections: list[DiffSection] = []
    owners: dict[str, int] = {}
    sides: list[Side] = []
    before_bytes = 0
    for step in stack.steps:
        i = step.index
        if stack.stages and i > 0:
            before, after = stack.state(i - 1), stack.state(i)
            d = compare_images(before, after, DEFAULT_COMPARE, stack.hasher)
            cs = ChangeSet(i, Mode.LAYER.value, before, after, d.tree)
            sections.append(diff_section(i, d))
            for path, _ in d.tree.added:
                owners[path] = i
            for m in d.tree.modified:
                owners[m.path] = i
            if i == 1:
                sides.append(side(before))
            sides.append(side(after))
        else:
            cs = stack.change_set(i)
        growth.append(step_growth(step, cs, before_bytes))
        before_bytes = growth[-1].tree_bytes
    return growth, sections, owners, sides


def build_page(
    stack: Stack,
    report: Report,
    check: dict[str, Any] | None = None,
    portability: Doc | None = None,
) -> ReportPage:
    """Every document of the report on `stack` (one image's layers, or stages); `report`
    is the analysis of its final image, `check` the check --json document if rules were
    given."""
    final = stack.final
    assert final is not None
    growth, sections, owners, sides = collect(stack)
    tree = final.tree
    if stack.stages:
        by_node = {n: i for p, i in owners.items() if (n := tree.lookup(p)) is not None}
        treemap = build_treemap(tree, lambda node: by_node.get(node, 0))
    else:
        layer = tree.layer
        treemap = build_treemap(tree, lambda node: int(layer[node]))
    sides = sides or [side(final)]
    what = " → ".join(s.name for s in sides)
    return ReportPage(
        title=f"layerscope report: {what}",
        stages=stack.stages,
        sides=sides,
        analysis=report_json(report),
        headline=[("Final tree", units.size_exact(report.final_bytes)), *headline(report)],
        findings=findings_doc(report, FINDINGS_TOP),
        growth=growth,
        treemap=treemap,
        owners=owner_labels(stack),
        meta=meta_doc(final.meta),
        check=check,
        diffs=sections,
        portability=portability,
        warnings=list(dict.fromkeys(final.meta.warnings)),
    )
