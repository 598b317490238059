"""The stack view model (no UI): steps, per-step changes in both modes, filters, the LRU.

Changes are checked against sqfsdiff's reports in fixtures/expected (*.changes.json), sizes
and counts against unsquashfs / tar listings made by the fixture build."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from layerscope.engine.browse.build import clone_tree
from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import CHANGE_CACHE, TREE_CACHE, Mode, Stack, open_stack
from layerscope.errors import Cancelled
from layerscope.model.layers import apply_layer
from layerscope.model.tree import FileTree
from tests.conftest import EXPECTED, FIXTURES
from tests.reference import unique_inode_bytes

OCI = "oci:" + str(FIXTURES / "oci" / "app-layout") + ":1.0"
SIF = FIXTURES / "sif"


def expected(name: str) -> dict[str, Any]:
    with open(EXPECTED / name) as f:
        data: dict[str, Any] = json.load(f)
    return data


def paths(cs: ChangeSet, status: Status) -> set[str]:
    group = {
        Status.ADDED: cs.added,
        Status.REMOVED: cs.removed,
        Status.MODIFIED: cs.modified.keys(),
    }[status]
    return {cs.path(d) for d in group}


def assert_matches(cs: ChangeSet, report: dict[str, Any]) -> None:
    assert paths(cs, Status.ADDED) == {e["path"] for e in report["added"]}
    assert paths(cs, Status.REMOVED) == {e["path"] for e in report["removed"]}
    assert paths(cs, Status.MODIFIED) == {e["path"] for e in report["modified"]}


@pytest.fixture(scope="module")
def oci() -> Stack:
    return open_stack([OCI])


@pytest.mark.parametrize("layer", range(5))
def test_oci_layer_changes_match_sqfsdiff(oci: Stack, layer: int) -> None:
    cs = oci.change_set(layer, Mode.LAYER)
    assert_matches(cs, expected(f"oci/app-1.0.layer{layer + 1}.changes.json"))


def test_oci_steps_sizes_and_commands(oci: Stack) -> None:
    manifest = expected("oci/app-1.0.manifest.json")
    config = expected("oci/app-1.0.config.json")
    history = [h for h in config["history"] if not h.get("empty_layer")]
    assert [s.stored_size for s in oci.steps] == [x["size"] for x in manifest["layers"]]
    assert [s.ident for s in oci.steps] == [x["digest"] for x in manifest["layers"]]
    assert [s.created_by for s in oci.steps] == [h["created_by"].strip() for h in history]
    for step in oci.steps:
        listing = (EXPECTED / f"oci/app-1.0.layer{step.index + 1}.tv.txt").read_text()
        assert step.entries == len(listing.splitlines())


def test_oci_removed_entries_hang_under_live_dirs(oci: Stack) -> None:
    cs = oci.change_set(2, Mode.LAYER)
    ssh = cs.lookup("/root/.ssh")
    assert ssh is not None and ssh < 0 and cs.status(ssh) == Status.REMOVED
    root = cs.lookup("/root")
    assert root is not None and ssh in cs.children(root)
    assert {cs.name(k) for k in cs.children(ssh)} == {"id_rsa", "known_hosts"}
    assert cs.parent(ssh) == root
    assert cs.counts[Status.REMOVED] == 15
    removed = expected("oci/app-1.0.layer3.changes.json")["removed"]
    assert cs.bytes[Status.REMOVED] == sum(e["size"] for e in removed if e["type"] == "file")


def test_sif_single_step_counts_like_unsquashfs(tmp_path: Path) -> None:
    stack = open_stack([str(SIF / "alpine-like-base.sif")])
    try:
        counts = expected("sif/alpine-like-base.counts.json")
        [step] = stack.steps
        assert step.entries == counts["total"]
        # hard-linked content once: less than the per-name sum unsquashfs -lln gives
        assert step.size == unique_inode_bytes(SIF / "alpine-like-base.sif", tmp_path)
        assert step.size < counts["file_bytes"]
        cs = stack.change_set(0)
        assert cs.counts[Status.ADDED] == counts["total"]
        assert not cs.removed and not cs.modified
        assert stack.meta.definition == (SIF / "defs" / "alpine-like-base.def").read_text()
    finally:
        stack.close()


def test_stages_are_differences_between_images() -> None:
    refs = [str(SIF / n) for n in ("stage1.sif", "stage2.sif", "final.sif")]
    stack = open_stack(refs)
    try:
        assert stack.stages
        assert [s.label for s in stack.steps] == ["stage1.sif", "stage2.sif", "final.sif"]
        for step, name in zip(stack.steps, ("stage1", "stage2", "final"), strict=True):
            assert step.entries == expected(f"sif/{name}.counts.json")["total"]
            assert step.stored_size == (SIF / f"{name}.sif").stat().st_size
        first = stack.change_set(0)
        assert first.counts[Status.ADDED] == expected("sif/stage1.counts.json")["total"]
        assert_matches(stack.change_set(1), expected("sif/stage1__stage2.changes.json"))
        assert_matches(stack.change_set(2), expected("sif/stage2__final.changes.json"))
    finally:
        stack.close()


def test_aggregated_mode_compares_with_the_first_step() -> None:
    refs = [str(SIF / n) for n in ("alpine-like-base.sif", "stage1.sif", "final.sif")]
    stack = open_stack(refs)
    try:
        assert_matches(
            stack.change_set(1, Mode.LAYER), expected("sif/alpine-like-base__stage1.changes.json")
        )
        assert_matches(
            stack.change_set(2, Mode.AGGREGATED),
            expected("sif/alpine-like-base__final.changes.json"),
        )
        # the first step has nothing before it: both modes agree
        assert stack.change_set(0, Mode.AGGREGATED).mode == Mode.LAYER.value
    finally:
        stack.close()


def test_visible_hides_statuses_and_keeps_parents(oci: Stack) -> None:
    cs = oci.change_set(2, Mode.LAYER)
    assert cs.visible(frozenset(), None) is None
    only_changes = cs.visible(frozenset({Status.UNCHANGED}), None)
    assert only_changes is not None
    shown = {cs.path(d) for d in only_changes if d != 0}
    changed = paths(cs, Status.ADDED) | paths(cs, Status.REMOVED)
    parents = {p for path in changed for p in _ancestors(path)}
    assert shown == changed | parents
    no_removed = cs.visible(frozenset({Status.UNCHANGED, Status.REMOVED}), None)
    assert no_removed is not None
    assert {cs.path(d) for d in no_removed if d != 0} == {
        "/app",
        "/app/static",
        "/app/static/bundle.min.js",
        "/app/static/site.min.css",
    }


def test_visible_regex_on_full_path(oci: Stack) -> None:
    cs = oci.change_set(4, Mode.AGGREGATED)
    keep = cs.visible(frozenset(), re.compile(r"\.ya?ml$"))
    assert keep is not None
    shown = {cs.path(d) for d in keep if d != 0}
    assert shown == {"/etc", "/etc/app", "/etc/app/config.yml"}
    assert cs.status(cs.lookup("/etc/app/config.yml") or 0) == Status.ADDED


def test_caches_stay_small() -> None:
    stack = open_stack([OCI])
    try:
        for mode in (Mode.LAYER, Mode.AGGREGATED):
            for i in range(len(stack.steps)):
                stack.change_set(i, mode)
        assert len(stack._trees) <= TREE_CACHE + 1  # + the pinned first step
        assert len(stack._changes) <= CHANGE_CACHE
        # walking back still gives the right answer from rebuilt trees
        assert_matches(stack.change_set(1), expected("oci/app-1.0.layer2.changes.json"))
    finally:
        stack.close()


def test_cancel_stops_opening() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        open_stack([OCI], cancel=cancel)


def test_progress_is_reported() -> None:
    seen: list[tuple[str, int, int]] = []
    open_stack([OCI], progress=lambda t, d, n: seen.append((t, d, n))).close()
    assert any(t.startswith("reading layer") for t, _, _ in seen)
    assert all(n >= 1 for _, _, n in seen)


def test_clone_is_independent(oci: Stack) -> None:
    src = oci.sources[0]
    tree = FileTree()
    apply_layer(tree, 0, src.reader.iter_entries(0))
    before = sorted(tree.path(n) for n in tree.walk())
    copy = clone_tree(tree)
    apply_layer(copy, 1, src.reader.iter_entries(1))
    assert sorted(tree.path(n) for n in tree.walk()) == before
    assert copy.lookup("/app/app.py") is not None and tree.lookup("/app/app.py") is None


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
