"""Layer growth from the final tree's history (model.growth.layer_growths) equals comparing
the trees as of each layer (tree_growth), on random layers with whiteouts and opaque
directories: a file hidden by either and written again in the same layer is a rewrite, as
the two trees say (the tree keeps no `prev` link between the two nodes)."""

from __future__ import annotations

import random

import pytest

from layerscope.model.entry import Entry, EntryKind
from layerscope.model.growth import Growth, layer_growths, tree_growth
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree

F = EntryKind.FILE
PATHS = ["/x", "/y", "/z", "/d/x", "/d/y"]


def _layer(r: random.Random, loc: list[int]) -> list[Entry]:
    out: list[Entry] = []
    used: set[str] = set()
    for _ in range(r.randint(1, 4)):
        c, p = r.random(), r.choice(PATHS)
        if p in used:
            continue
        if c < 0.6:
            out.append(Entry(p, F, size=r.choice([1, 10, 100])))
        elif c < 0.85:
            parent, _, name = p.rpartition("/")
            out.append(Entry(f"{parent}/.wh.{name}", F))
        else:
            if any(u.startswith("/d/") for u in used):
                continue  # an opaque marker comes before the directory's entries
            out.insert(0, Entry("/d/.wh..wh..opq", F))
        used.add(p)
    for e in out:
        loc[0] += 512
        e.loc = loc[0]
    return out


def _check(layers: list[list[Entry]]) -> None:
    states = [FileTree()]
    for i in range(len(layers)):
        states.append(apply_layers([(es, "oci") for es in layers[: i + 1]]))
    want = [tree_growth(states[i], states[i + 1]) for i in range(len(layers))]
    assert layer_growths(states[-1]) == want


def test_opaque_directory_then_the_same_path_again_is_a_rewrite() -> None:
    layers = [
        [Entry("/d/x", F, size=1, loc=512)],
        [
            Entry("/d/.wh..wh..opq", F),
            Entry("/d/x", F, size=10, loc=1024),
            Entry("/x", F, size=1, loc=1536),
        ],
    ]
    _check(layers)
    got = layer_growths(apply_layers([(es, "oci") for es in layers]))
    assert got[1] == Growth(added=1, removed=0, modified=9)


@pytest.mark.parametrize("block", range(4))
def test_random_layers_equal_the_trees_as_of_each_layer(block: int) -> None:
    for seed in range(block * 1000, (block + 1) * 1000):
        r = random.Random(seed)
        loc = [0]
        _check([_layer(r, loc) for _ in range(r.randint(1, 4))])
