"""`g` (engine.contributors): a hard link the step adds to a file an earlier step wrote
brings no bytes, as model.growth counts it; a new file and its new links bring theirs once."""

from __future__ import annotations

from layerscope.engine.contributors import contributors
from layerscope.engine.image import Image
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree

F = EntryKind.FILE


def _link(path: str, target: str) -> Entry:
    e = Entry(path, F)
    e.hardlink = target
    return e


def _state(layers: list[list[Entry]]) -> Image:
    tree: FileTree = apply_layers([(es, "oci") for es in layers])
    infos = [
        LayerInfo(index=i, id=f"l{i}", media_type="tar", stored_size=0) for i in range(len(layers))
    ]
    meta = ImageMeta(format="oci", source="test", layers=infos)
    return Image("test", None, meta, tree, len(layers) - 1)  # type: ignore[arg-type]


def test_a_new_link_to_an_old_file_brings_nothing() -> None:
    base = [Entry("/opt/big", F, size=1000, loc=512)]
    step = [_link("/usr/lib/big-link", "/opt/big"), Entry("/usr/lib/new", F, size=10, loc=1024)]
    got = contributors(_state([base]), _state([base, step]))
    assert got.growth.added == 10  # model.growth: the link adds nothing
    assert got.no_package is not None and got.no_package.bytes == 10


def test_a_new_file_and_its_new_link_bring_it_once() -> None:
    base = [Entry("/etc/x", F, size=1, loc=512)]
    step = [Entry("/opt/a", F, size=500, loc=1024), _link("/opt/b", "/opt/a")]
    got = contributors(_state([base]), _state([base, step]))
    assert got.growth.added == 500
    assert got.no_package is not None and got.no_package.bytes == 500
