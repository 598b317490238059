"""Answer first, refine after (layerscope.engine.pending, ChangeSet.settle, Stack's
settle=False): the metadata half of a step's changes reads no content and leaves the
same-size same-attribute files pending; settling them gives the full comparison's answer
and sqfsdiff's; shortcuts that are free settle pairs before they show as pending."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.browse.stack import Mode, Stack, open_stack
from layerscope.engine.compare import tree_diff
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.engine.loading import load_image
from layerscope.engine.pending import (
    ContentProgress,
    Result,
    apply_content,
    compare_pending,
    complete_diff,
    quick_diff,
)
from layerscope.errors import Cancelled
from layerscope.model.diff import DEFAULT_COMPARE
from layerscope.model.entry import EntryKind
from tests.conftest import FIXTURES
from tests.pending_stages import Stage, build_stages, sqfsdiff_differs

OCI = "oci:" + str(FIXTURES / "oci" / "app-layout") + ":1.0"


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> list[Stage]:
    return build_stages(tmp_path_factory.mktemp("pending-stages"))


@pytest.mark.parametrize("step", [1, 2])
def test_quick_then_settled_equals_full_compare_and_sqfsdiff(
    stages: list[Stage], step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = load_image(str(stages[step - 1].sif))
    b = load_image(str(stages[step].sif))
    with a, b:
        reads: list[int] = []
        real_iter = Image.iter_content

        def counting(img: Image, node: int) -> Iterator[bytes]:
            reads.append(node)
            return real_iter(img, node)

        monkeypatch.setattr(Image, "iter_content", counting)
        diff, pending = quick_diff(a, b, DEFAULT_COMPARE, ContentHasher())
        assert not reads, "the metadata half read content"
        monkeypatch.undo()
        # every pending pair is a same-size regular file with the same attributes, or
        # a pair modified already by its attributes (its content still to compare)
        assert len(pending) >= 60
        for na, nb in pending:
            assert a.tree.kind[na] == b.tree.kind[nb] == EntryKind.FILE
            assert a.tree.size[na] == b.tree.size[nb]
        full = tree_diff(a, b, DEFAULT_COMPARE, ContentHasher())
        assert full.modified != diff.modified  # content changes are not known yet
        results: list[Result] = []
        ends: list[ContentProgress] = []

        def batch(got: list[Result], p: ContentProgress) -> None:
            results.extend(got)
            ends.append(p)

        assert compare_pending(a, b, pending, ContentHasher(), batch, every=0.0)
        apply_content(diff, b.tree, results)
        assert diff.added == full.added and diff.removed == full.removed
        assert [(m.path, m.changes, m.old, m.new) for m in diff.modified] == [
            (m.path, m.changes, m.old, m.new) for m in full.modified
        ]
        last = ends[-1]
        assert last.finished and last.files_done == last.files_total == len(pending)
        assert last.bytes_done == last.bytes_total == sum(b.tree.size[nb] for _, nb in pending)
        assert [p.files_done for p in ends] == sorted(p.files_done for p in ends)
        # the chmod of a rewritten file: attributes first, content added in diff_trees' order
        chmod = next(m for m in diff.modified if m.path == f"/data/f{step - 1:03d}.bin")
        assert chmod.changes == ["mode", "content"]
        # sqfsdiff, on the squashfs partitions the SIFs hold
        ours = {m.path for m in diff.modified if "content" in m.changes}
        assert ours == sqfsdiff_differs(stages[step - 1].sqfs, stages[step].sqfs)


def test_complete_diff_reports_progress_and_cancels(stages: list[Stage]) -> None:
    a, b = load_image(str(stages[0].sif)), load_image(str(stages[1].sif))
    with a, b:
        cancel = threading.Event()
        cancel.set()
        with pytest.raises(Cancelled):
            complete_diff(a, b, DEFAULT_COMPARE, ContentHasher(), cancel=cancel)
        seen: list[ContentProgress] = []
        whole = complete_diff(a, b, DEFAULT_COMPARE, ContentHasher(), on_progress=seen.append)
        assert whole.modified == tree_diff(a, b, DEFAULT_COMPARE, ContentHasher()).modified
        assert seen and seen[-1].finished and seen[-1].files_total >= 60


def test_stack_change_set_pending_then_settled(stages: list[Stage]) -> None:
    refs = [str(s.sif) for s in stages]
    stack = open_stack(refs)
    full_stack = open_stack(refs)
    try:
        for step in (1, 2):
            cs = stack.change_set(step, Mode.LAYER, settle=False)
            full = full_stack.change_set(step, Mode.LAYER)
            assert full.settled and not full.counts[Status.PENDING]
            pending = cs.counts[Status.PENDING]
            assert pending >= 60 and not cs.settled
            rows = {cs.path(d): cs.status(d) for d, _ in cs.walk()}
            final = {full.path(d): full.status(d) for d, _ in full.walk()}
            # before settling: what is final agrees; the rest is pending, never wrong
            for path, status in rows.items():
                if status == Status.PENDING:
                    assert final[path] in (Status.MODIFIED, Status.UNCHANGED)
                else:
                    assert status == final[path], path
            assert sum(s == Status.PENDING for s in rows.values()) == pending
            # shown in the layer mode's filter (U hidden): pending rows are candidates
            shown = cs.visible(frozenset({Status.UNCHANGED}), None)
            assert shown is not None and all(d in shown for d in cs.pending)
            hidden = cs.visible(frozenset({Status.UNCHANGED, Status.MODIFIED}), None)
            assert hidden is not None and not any(d in hidden for d in cs.pending)
            # settled in batches, as the TUI's worker does
            progress: list[ContentProgress] = []
            assert stack.settle_contents(cs, progress.append)
            assert cs.settled and cs.counts[Status.PENDING] == 0
            assert {cs.path(d): cs.status(d) for d, _ in cs.walk()} == final
            assert cs.counts == full.counts and cs.bytes == full.bytes
            assert {d: m.changes for d, m in cs.modified.items()} == {
                d: m.changes for d, m in full.modified.items()
            }
            assert progress[-1].finished
        # settle=True (the default, what the report and other callers use) is complete
        again = open_stack(refs)
        try:
            assert again.change_set(2).settled
        finally:
            again.close()
    finally:
        stack.close()
        full_stack.close()


def test_cancelled_settling_keeps_the_rest_pending(stages: list[Stage]) -> None:
    stack = open_stack([str(s.sif) for s in stages])
    try:
        cs = stack.change_set(1, settle=False)
        before = cs.counts[Status.PENDING]
        cancel = threading.Event()

        def batch(results: list[Result], p: ContentProgress) -> None:
            cs.settle(results)
            cancel.set()  # after the first answer (batches every 0 s)

        pairs = cs.pending_pairs()
        assert not compare_pending(cs.before, cs.after, pairs, stack.hasher, batch, cancel, 0.0)
        assert 0 < cs.counts[Status.PENDING] < before
        assert not cs.settled
        # resumed later, it finishes the rest
        assert stack.settle_contents(cs)
        assert cs.settled
    finally:
        stack.close()


def _all_change_sets(stack: Stack) -> list[ChangeSet]:
    out = []
    for step in range(len(stack.steps)):
        for mode in (Mode.LAYER, Mode.AGGREGATED):
            out.append(stack.change_set(step, mode, settle=False))
    return out


def test_one_image_layers_show_no_spurious_pending() -> None:
    """States of one image share members: a file a later layer did not touch is the same
    member in both states and settles for free; only files a layer wrote again with the
    same size and attributes are left to compare."""
    stack = open_stack([OCI])
    try:
        for cs in _all_change_sets(stack):
            bt, at = cs.before.tree, cs.after.tree
            for nb, na in cs.pending.items():
                assert (bt.source_layer(na), bt.loc[na]) != (at.source_layer(nb), at.loc[nb])
                assert at.source_layer(nb) > 0 or cs.mode == Mode.LAYER.value
    finally:
        stack.close()


def test_sif_stage_files_seen_again_are_settled_from_the_digests(stages: list[Stage]) -> None:
    """Digests known already (memoised, or in the index cache) settle a pair without
    making it pending: the second stack over the same stages has nothing pending."""
    refs = [str(s.sif) for s in stages]
    first = open_stack(refs)
    try:
        first.change_set(1)  # compares, persists the digests
        first.hasher.flush()
    finally:
        first.close()
    second = open_stack(refs)
    try:
        cs = second.change_set(1, settle=False)
        assert cs.settled and cs.counts[Status.MODIFIED] >= 31
    finally:
        second.close()


def test_tar_layers_settle_through_prefetch(tmp_path: Path) -> None:
    """Streamed layers (tar) are hashed one pass per layer by the settling, as tree_diff
    does: the answer equals the full comparison's."""
    img_stack = open_stack([OCI])
    full = open_stack([OCI])
    try:
        for step in range(len(img_stack.steps)):
            cs = img_stack.change_set(step, Mode.AGGREGATED, settle=False)
            img_stack.settle_contents(cs)
            ref = full.change_set(step, Mode.AGGREGATED)
            assert {d: cs.status(d) for d, _ in cs.walk()} == {
                d: ref.status(d) for d, _ in ref.walk()
            }
    finally:
        img_stack.close()
        full.close()


@pytest.mark.parametrize(
    "fields",
    [
        DEFAULT_COMPARE | {"mtime"},  # no shortcut: every pair goes through _changes
        DEFAULT_COMPARE | {"xattrs", "mtime"},
        DEFAULT_COMPARE | {"links", "mtime"},
        DEFAULT_COMPARE | {"links"},
        DEFAULT_COMPARE - {"mode"},
        DEFAULT_COMPARE - {"content"},  # nothing to compare: nothing pending
    ],
    ids=["mtime", "xattrs-mtime", "links-mtime", "links", "no-mode", "no-content"],
)
def test_complete_diff_equals_tree_diff_for_other_fields(
    stages: list[Stage], fields: frozenset[str]
) -> None:
    """With mtime compared (the stages' files were written at different times), "content"
    must land before "mtime" in each entry's changes, as diff_trees puts it."""
    a, b = load_image(str(stages[1].sif)), load_image(str(stages[2].sif))
    with a, b:
        _, pending = quick_diff(a, b, fields, ContentHasher())
        assert bool(pending) == ("content" in fields)
        whole = complete_diff(a, b, fields, ContentHasher())
        full = tree_diff(a, b, fields, ContentHasher())
        assert whole.added == full.added and whole.removed == full.removed
        assert [(m.path, m.changes) for m in whole.modified] == [
            (m.path, m.changes) for m in full.modified
        ]
        if "mtime" in fields:
            assert any(m.changes[-2:] == ["content", "mtime"] for m in whole.modified)
        if "links" in fields:  # the rewritten file that gained a hard link
            assert any(m.changes[-1] == "links" and "content" in m.changes for m in whole.modified)


def test_one_image_layers_pending_only_what_a_layer_rewrote(tmp_path: Path) -> None:
    """An OCI image (umoci) whose layer 1 rewrites 10 files with other bytes of the same
    size and one with the same bytes, and whose layer 2 only adds: in both modes only
    those 11 rewrites are pending (the 50 files no layer touched again settle for free),
    and settling them makes the 10 modified, the identical one unchanged."""
    from tests.portability_support import layer_tar, make_oci

    base = {f"/srv/f{i:02d}": bytes([65 + i % 26]) * (100 + i) for i in range(50)}
    rewrite = {f"/srv/f{i:02d}": bytes([97 + i % 26]) * (100 + i) for i in range(10)}
    rewrite["/srv/f10"] = base["/srv/f10"]  # rewritten, same bytes
    ref = make_oci(
        tmp_path / "layout",
        [layer_tar(base), layer_tar(rewrite), layer_tar({"/srv/new": b"added\n"})],
    )
    stack = open_stack([ref])
    try:
        sets = [
            stack.change_set(step, mode, settle=False)
            for step, mode in ((1, Mode.LAYER), (1, Mode.AGGREGATED), (2, Mode.AGGREGATED))
        ]
        for cs in sets:  # before any content is read (then digests settle them too)
            assert sorted(cs.path(d) for d in cs.pending) == sorted(rewrite), cs.mode
        for cs in sets:
            stack.settle_contents(cs)
            assert cs.settled
            modified = {cs.path(d) for d in cs.modified if not cs.is_dir(d)}
            assert modified == set(rewrite) - {"/srv/f10"}
            f10 = cs.lookup("/srv/f10")
            assert f10 is not None and cs.status(f10) == Status.UNCHANGED
        cs = stack.change_set(2, Mode.LAYER, settle=False)
        assert not cs.pending and cs.counts[Status.ADDED] == 1
    finally:
        stack.close()


def test_many_pairs_at_once_in_chunks(stages: list[Stage], monkeypatch: pytest.MonkeyPatch) -> None:
    """The pending pairs go to ContentHasher.settle in chunks (64 pairs first, then sized
    by time): the same answers as the full comparison, a batch and a progress line per
    chunk, a cancel between chunks."""
    calls: list[int] = []
    real = ContentHasher.settle

    def settle(
        hasher: ContentHasher,
        a: Image,
        b: Image,
        pairs: list[tuple[int, int]],
        cancel: Callable[[], bool] | None = None,
    ) -> set[tuple[int, int]] | None:
        calls.append(len(pairs))
        return real(hasher, a, b, pairs, cancel)

    monkeypatch.setattr(ContentHasher, "settle", settle)
    a, b = load_image(str(stages[0].sif)), load_image(str(stages[1].sif))
    with a, b:
        _, pending = quick_diff(a, b, DEFAULT_COMPARE, ContentHasher())
        assert len(pending) > 64
        cancel = threading.Event()
        seen: list[ContentProgress] = []

        def stop(results: list[Result], p: ContentProgress) -> None:
            seen.append(p)
            cancel.set()

        assert not compare_pending(a, b, pending, ContentHasher(), stop, cancel)
        assert calls == [64] and seen[0].files_done == 64 and not seen[-1].finished
        calls.clear()
        results: list[Result] = []
        ends: list[ContentProgress] = []

        def keep(got: list[Result], p: ContentProgress) -> None:
            results.extend(got)
            ends.append(p)

        assert compare_pending(a, b, pending, ContentHasher(), keep)
        assert sum(calls) == len(pending) and len(ends) == len(calls)
        assert ends[-1].finished and ends[-1].bytes_done == ends[-1].bytes_total
        full = tree_diff(a, b, DEFAULT_COMPARE, ContentHasher())
        unequal = {(na, nb) for na, nb, same in results if not same}
        same_size = {m.new for m in full.modified if "content" in m.changes}
        same_size -= {m.new for m in full.modified if "size" in m.changes}
        assert same_size == {nb for _, nb in unequal} and same_size
