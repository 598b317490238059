"""Growth per step (model.growth through open_stack): bytes added, removed and changed by
real stages (mksquashfs, three compressors, 150 hard links), against the numbers computed
from `unsquashfs -lln` listings and the inodes `unsquashfs` extracts; and per OCI layer,
against the change sets of states built layer by layer."""

from __future__ import annotations

import pytest

from layerscope.engine.browse.stack import Stack, count_growth, open_stack
from layerscope.model.growth import Growth, layer_growths
from layerscope.present.growth import change_growth
from tests.conftest import FIXTURES
from tests.growth_stages import (
    DOC,
    LINKS,
    Files,
    Stages,
    du_bytes,
    reference_growth,
)


@pytest.fixture(scope="module")
def stack(growth_stages: Stages) -> Stack:
    stack = open_stack([str(p) for p in growth_stages.images])
    assert all(step.growth is None for step in stack.steps)  # counted after opening
    count_growth(stack)
    return stack


def test_stage_growth_equals_the_listings(stack: Stack, growth_listings: list[Files]) -> None:
    before: Files = {}
    for step, files in zip(stack.steps, growth_listings, strict=True):
        added, removed, modified = reference_growth(before, files)
        assert step.growth == Growth(added, removed, modified), step.label
        # what the step grew the tree by is what `du` sees it grow by
        assert step.growth.net == du_bytes(files) - du_bytes(before)
        before = files


def test_removed_directory_is_a_removal(stack: Stack, growth_listings: list[Files]) -> None:
    g = stack.steps[1].growth
    assert g is not None
    doc = sum(
        size for path, (size, _) in growth_listings[0].items() if path.startswith("/usr/share/doc")
    )
    assert doc == sum(DOC.values())
    # /usr/share/doc is gone, and nothing else of stage 1 is
    assert g.removed == doc
    # /etc/app.conf (1,000 -> 1,500 bytes) and the dpkg database grew in place
    assert g.added > 0 and g.modified > 500


def test_hard_links_count_once(stack: Stack, growth_listings: list[Files]) -> None:
    names = sum(size for size, _ in growth_listings[0].values())
    once = du_bytes(growth_listings[0])
    assert names > once + (LINKS - 1) * 200_000  # counted per name it would be ~30 MB
    assert stack.steps[0].size == once
    assert stack.steps[0].growth == Growth(added=once)
    # stage 2 gives busybox one more name: no bytes; stage 3 rewrites it (+10 kB, once)
    # and gives one of its names content of its own (+5 kB; the inode keeps the others)
    g3 = stack.steps[2].growth
    assert g3 is not None and g3.modified == 10_000 + 5_000
    assert g3.removed == 100_000 and g3.added == 0


def test_change_sets_agree_with_the_metadata_growth(stack: Stack) -> None:
    # the change sets compare contents; growth needs none, and the bytes agree
    for step in stack.steps:
        assert change_growth(stack.change_set(step.index)) == step.growth, step.label


def test_single_image_with_hard_links(growth_stages: Stages, growth_listings: list[Files]) -> None:
    one = open_stack([str(growth_stages.images[2])])
    try:  # one layer: its growth is its tree, known at once
        assert one.steps[0].size == du_bytes(growth_listings[2])
        assert one.steps[0].growth == Growth(added=du_bytes(growth_listings[2]))
    finally:
        one.close()


@pytest.mark.parametrize(
    "ref",
    [
        str(FIXTURES / "docker" / "app-1.0.docker-archive.tar"),
        "oci:" + str(FIXTURES / "oci" / "app-layout") + ":1.1",
        str(FIXTURES / "sif" / "with-overlay.sif"),
    ],
)
def test_layer_growths_equal_layer_change_sets(ref: str) -> None:
    """From the final tree's history at open time, the same numbers as comparing the
    trees as of each layer (whiteouts, a rewritten file, a tar hard link to a rewritten
    file, an overlay partition)."""
    stack = open_stack([ref])
    try:
        assert stack.final is not None
        assert all(step.growth is None for step in stack.steps)  # counted after opening
        count_growth(stack)
        growths = layer_growths(stack.final.tree)
        assert len(growths) == len(stack.steps) > 1
        before = 0
        for step, grew in zip(stack.steps, growths, strict=True):
            assert step.growth == grew
            assert change_growth(stack.change_set(step.index)) == grew, step.label
            # net: the size of the tree as of the layer, less the one before (du-style)
            after = stack.state(step.index).tree.total_size()
            assert grew.net == after - before
            before = after
        assert sum(g.net for g in growths) == stack.final.tree.total_size()
        assert any(g.removed for g in growths) or "overlay" not in ref
    finally:
        stack.close()
