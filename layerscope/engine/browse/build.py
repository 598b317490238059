"""How a stack's trees are built (no UI here; see engine.browse.stack): one image's
sources, its layers applied again from the index cache or the reader, and tree copies.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from layerscope.engine.browse.changes import Cancel
from layerscope.engine.image import Image
from layerscope.engine.loading import layer_entries, with_index_fallback
from layerscope.errors import Cancelled, EncryptedError
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.growth import Growth
from layerscope.model.layers import apply_layer
from layerscope.model.sizes import LayerTally
from layerscope.model.tree import ROOT, FileTree

Progress = Callable[[str, int, int], None]
CANCEL_EVERY = 2048  # entries between two looks at the cancel flag
PROGRESS_EVERY = 0.1  # seconds between two progress reports


@dataclass(slots=True)
class Step:
    """One row of the layers pane.

    size/entries: for a layer, the regular-file bytes and entries its own blob holds (as
    `inspect` counts them); for an image of a stage stack, the whole image's. None until the
    step has been read (or when it cannot be: an encrypted partition).
    growth: what the step added, removed and changed over the step before (metadata only,
    hard links once: model.growth); None until known."""

    index: int
    label: str
    ident: str
    media_type: str
    created_by: str
    stored_size: int | None
    size: int | None = None
    entries: int | None = None
    encrypted: bool = False
    ref: str = ""
    growth: Growth | None = None


class Reporter:
    """Rate-limits progress callbacks and checks the cancel flag."""

    def __init__(self, progress: Progress | None, cancel: Cancel | None) -> None:
        self.progress = progress
        self.cancel = cancel
        self._last = 0.0

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    def report(self, text: str, done: int, total: int, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            self.progress(text, done, total)


def clone_tree(tree: FileTree) -> FileTree:
    """A copy of `tree` that later apply_layer calls can change without touching the
    original. Node ids stay the same, which makes "same node in both states" a free
    equality test. Copies every attribute generically so new FileTree columns are kept."""
    new = FileTree.__new__(FileTree)
    for key, value in vars(tree).items():
        if isinstance(value, (array, bytearray, list)):
            value = value[:]
        elif isinstance(value, dict):
            value = {
                k: (dict(v) if isinstance(v, dict) else v[:] if isinstance(v, list) else v)
                for k, v in value.items()
            }
        setattr(new, key, value)
    return new


def _counted(
    entries: Iterator[Entry], tally: LayerTally, rep: Reporter, what: str, done: int, total: int
) -> Iterator[Entry]:
    """Pass entries through, counting them into `tally`, and looking at the cancel flag and
    reporting progress every CANCEL_EVERY entries."""
    add = tally.add
    for n, e in enumerate(entries, 1):
        add(e)
        if n % CANCEL_EVERY == 0:
            rep.check()
            rep.report(f"{what}: {n:,} entries", done, total)
        yield e


class Source:
    """One image as load_image opened it: its reader, metadata and index cache, from which
    trees as of any of its layers can be built again."""

    def __init__(self, img: Image) -> None:
        self.ref = img.ref
        self.reader = img.reader
        self.meta = img.meta
        self.keys = img.layer_keys
        self.cache = img.cache

    def image(self, tree: FileTree, upto: int) -> Image:
        return Image(self.ref, self.reader, self.meta, tree, upto, self.keys, self.cache)

    def entries(self, layer: int, use_index: bool) -> Iterator[Entry]:
        return layer_entries(self.image(FileTree(), -1), layer, use_index)

    def apply(
        self, tree: FileTree, layer: int, rep: Reporter, step: Step | None, use_index: bool
    ) -> None:
        info = self.meta.layers[layer]
        if info.encrypted:
            if step is not None:
                step.encrypted = True
            return
        tally = LayerTally()
        entries = _counted(self.entries(layer, use_index), tally, rep, f"reading layer {layer}",
                           layer, len(self.meta.layers))  # fmt: skip
        try:
            apply_layer(tree, info.index, entries, info.whiteouts)
        except EncryptedError:
            if step is not None:
                step.encrypted = True
            return
        if step is not None and step.entries is None:
            step.entries, step.size = tally.entries, tally.bytes

    def count(self, layer: int, rep: Reporter, step: Step) -> None:
        """A layer's own entries and regular-file bytes (what `inspect` reports)."""
        if self.meta.layers[layer].encrypted:
            step.encrypted = True
            return
        what, total = f"counting layer {layer}", len(self.meta.layers)

        def run(use_index: bool) -> LayerTally:
            tally = LayerTally()
            for _ in _counted(self.entries(layer, use_index), tally, rep, what, layer, total):
                pass
            return tally

        try:
            tally = with_index_fallback(run)
        except EncryptedError:
            step.encrypted = True
            return
        step.entries, step.size = tally.entries, tally.bytes


def live_nodes(tree: FileTree) -> list[int]:
    out: list[int] = []
    todo = [ROOT]
    while todo:
        kids = tree.child_ids(todo.pop())
        out.extend(kids)
        todo.extend(k for k in kids if tree.kind[k] == EntryKind.DIR)
    return out
