"""A stack: the steps an image was made in, as the TUI browses them (no UI here).

A stack is built from one image (a step per OCI layer or SIF partition) or from several
images given in build order (a step per image: what it changed over the previous one). For
each step it answers, in two modes, which entries the step added, modified, removed or left
unchanged: "layer" compares the image as of the step with the image as of the step before;
"aggregated" compares it with the first step (dive's two modes).

Loading goes through layerscope.engine.loading.load_image (index cache, parallel layer reads,
its whiteout rules): a stack opens as fast as `ls` does, instantly when cached.
Memory: a step's changes need two trees (before and after). Trees live in a small LRU; a
missing one is built by cloning the nearest cached earlier state and applying only the
layers in between (from the layer index cache when it has them), so walking the layers in
order reads each layer once and at most a few trees are alive. Change sets are cached in a
small LRU as well. Everything here is meant to run in a worker thread; one lock serialises
tree building.
"""

from __future__ import annotations

import enum
import os
import threading
from collections import OrderedDict
from collections.abc import Callable

from layerscope.engine.browse.build import Progress, Reporter, Source, Step, clone_tree, live_nodes
from layerscope.engine.browse.changes import Cancel, ChangeSet, Status
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.engine.loading import load_image, with_index_fallback
from layerscope.engine.pending import ContentProgress, Result, compare_pending, quick_diff
from layerscope.errors import Cancelled
from layerscope.model.diff import DEFAULT_COMPARE, TreeDiff
from layerscope.model.growth import Growth, layer_growths, tree_growth
from layerscope.model.image import ImageMeta
from layerscope.model.sizes import tree_tally
from layerscope.model.tree import FileTree
from layerscope.readers import OpenOptions

__all__ = ["Cancel", "ChangeSet", "Mode", "Stack", "Status", "Step", "count_growth", "open_stack"]

TREE_CACHE = 3  # trees kept besides the first step's (the aggregated baseline)
CHANGE_CACHE = 3


class Mode(str, enum.Enum):
    LAYER = "layer"
    AGGREGATED = "aggregated"


class Stack:
    """Steps plus the trees and change sets behind them. Build with `open_stack`."""

    def __init__(
        self,
        sources: list[Source],
        steps: list[Step],
        stages: bool,
        options: OpenOptions | None = None,
    ) -> None:
        self.sources = sources
        self.options = options
        self.steps = steps
        self.stages = stages
        self.hasher = ContentHasher()
        self._lock = threading.RLock()
        self._trees: OrderedDict[int, Image] = OrderedDict()
        self._changes: OrderedDict[tuple[int, Mode], ChangeSet] = OrderedDict()
        self.final: Image | None = None  # the whole image (image stacks)

    @property
    def meta(self) -> ImageMeta:
        """The metadata of the image (the last image of a stage stack)."""
        return self.sources[-1].meta

    def meta_of(self, step: int) -> ImageMeta:
        return self.sources[step].meta if self.stages else self.sources[0].meta

    def ref_of(self, step: int) -> str:
        return self.sources[step].ref if self.stages else self.sources[0].ref

    def close(self) -> None:
        for src in self.sources:
            src.reader.close()

    # -- trees --------------------------------------------------------------------------

    def _remember(self, index: int, img: Image) -> None:
        self._trees[index] = img
        self._trees.move_to_end(index)
        while len([k for k in self._trees if k != 0]) > TREE_CACHE:
            oldest = next(k for k in self._trees if k != 0)
            del self._trees[oldest]

    def state(self, index: int, rep: Reporter | None = None) -> Image:
        """The image as of step `index` (-1: an empty image)."""
        rep = rep or Reporter(None, None)
        with self._lock:
            got = self._trees.get(index)
            if got is not None:
                self._trees.move_to_end(index)
                return got
            if index < 0:
                return self.sources[0].image(FileTree(), -1)
            img = self._stage_state(index, rep) if self.stages else self._layer_state(index, rep)
            img.tree.roll_up()  # roll sizes up here, in the worker
            self._remember(index, img)
            return img

    def _layer_state(self, index: int, rep: Reporter) -> Image:
        return with_index_fallback(lambda use_index: self._build(index, rep, use_index))

    def _build(self, index: int, rep: Reporter, use_index: bool) -> Image:
        src = self.sources[0]
        base = max((k for k in self._trees if k < index), default=-1)
        tree = clone_tree(self._trees[base].tree) if base >= 0 else FileTree()
        for layer in range(base + 1, index + 1):
            rep.check()
            rep.report(f"reading layer {layer}", layer - base - 1, index - base, force=True)
            src.apply(tree, layer, rep, self.steps[layer], use_index)
        return src.image(tree, index)

    def _stage_state(self, index: int, rep: Reporter) -> Image:
        """A stage image again (from the tree cache when it has it); its content is read
        through the reader the stack opened first."""
        src = self.sources[index]
        img = load_image(src.ref, self.options, progress=rep.progress, cancel=rep.cancel)
        img.close()
        return src.image(img.tree, img.upto)

    # -- change sets ------------------------------------------------------------------

    def change_set(
        self,
        index: int,
        mode: Mode = Mode.LAYER,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        settle: bool = True,
    ) -> ChangeSet:
        """What step `index` changed (mode LAYER) or what changed from the first step up to
        it (mode AGGREGATED); cached.

        The metadata half comes first, from the listings; same-size files with the same
        attributes are compared by content only where that is free (the same member of
        one image, the same layer digest, digests known). With `settle` the rest is
        compared before returning; without, the change set keeps them PENDING for the
        caller to settle (the TUI: `settle_contents` in a worker, showing the rows
        first)."""
        if index == 0:
            mode = Mode.LAYER  # both modes agree on the first step
        key = (index, mode)
        rep = Reporter(progress, cancel)
        with self._lock:
            cs = self._changes.get(key)
            if cs is not None:
                self._changes.move_to_end(key)
            else:
                cs = self._compute(index, mode, rep)
        # contents are compared outside the lock: another step's trees may be built
        # meanwhile
        if settle and not cs.settled:
            self._settle_all(cs, cancel)
        return cs

    def _compute(self, index: int, mode: Mode, rep: Reporter) -> ChangeSet:
        """The metadata half of a change set (its pending pairs left to compare); cached."""
        key = (index, mode)
        with self._lock:
            before_index = index - 1 if mode == Mode.LAYER else 0
            before = self.state(before_index, rep)
            after = self.state(index, rep)
            rep.check()
            rep.report("comparing the listings", 0, 1, force=True)
            pending: list[tuple[int, int]] = []
            if len(before.tree) == 1:
                # nothing before: everything is added (no paths needed, no walk in order)
                diff = TreeDiff(added=[("", n) for n in live_nodes(after.tree)])
            else:
                same = self._same_member(before, after)
                diff, pending = quick_diff(before, after, DEFAULT_COMPARE, self.hasher, same)
            cs = ChangeSet(index, mode.value, before, after, diff, pending)
            self._changes[key] = cs
            while len(self._changes) > CHANGE_CACHE:
                self._changes.popitem(last=False)
            return cs

    def _settle_all(self, cs: ChangeSet, cancel: Cancel | None) -> None:
        if not self.settle_contents(cs, cancel=cancel):
            raise Cancelled("cancelled")

    def settle_contents(
        self,
        cs: ChangeSet,
        on_progress: Callable[[ContentProgress], None] | None = None,
        cancel: Cancel | None = None,
    ) -> bool:
        """Compare the contents `cs` still has pending, settling it batch by batch (its
        readers see each batch at once). False when cancelled (the rest stays pending)."""

        def batch(results: list[Result], progress: ContentProgress) -> None:
            cs.settle(results)
            if on_progress is not None:
                on_progress(progress)

        pairs = cs.pending_pairs()
        return compare_pending(cs.before, cs.after, pairs, self.hasher, batch, cancel)

    def _same_member(self, a: Image, b: Image) -> Callable[[int, int], bool] | None:
        if a.reader is not b.reader:
            return None
        ta, tb = a.tree, b.tree

        def same(na: int, nb: int) -> bool:
            # States of one image share node ids and blobs: the same member is the same bytes.
            return ta.source_layer(na) == tb.source_layer(nb) and ta.loc[na] == tb.loc[nb]

        return same


def _layer_steps(ref: str, meta: ImageMeta) -> list[Step]:
    steps = []
    for info in meta.layers:
        created = (info.created_by or info.comment or "").strip()
        if not created:
            created = info.extra.get("partition_type") or info.media_type
        steps.append(
            Step(
                index=info.index,
                label=str(info.index),
                ident=info.id,
                media_type=info.media_type,
                created_by=str(created),
                stored_size=info.stored_size,
                encrypted=info.encrypted,
                ref=ref,
            )
        )
    return steps


def _stage_step(index: int, ref: str, meta: ImageMeta) -> Step:
    stored = meta.stored_bytes
    if stored is None:  # not one file (a layout, a registry): what its layers store
        stored = sum(info.stored_size for info in meta.layers)
    created = ""
    if meta.layers:
        created = (meta.layers[-1].created_by or "").strip()
    if not created and meta.definition:
        created = " ".join(meta.definition.split("\n", 2)[:2])
    return Step(
        index=index,
        label=os.path.basename(ref.rstrip("/")) or ref,
        ident=ref,
        media_type=meta.format,
        created_by=created or meta.format,
        stored_size=stored,
        encrypted=any(info.encrypted for info in meta.layers),
        ref=ref,
    )


def open_stack(
    refs: list[str],
    options: OpenOptions | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Stack:
    """Open one image as a stack of its layers, or several as a stack of build stages.

    Every step's sizes are known when this returns; the trees kept are the ones the first
    screen needs (the whole image; for stages, the first and the last)."""
    rep = Reporter(progress, cancel)
    sources: list[Source] = []
    try:
        if len(refs) == 1:
            final = load_image(refs[0], options, progress=progress, cancel=cancel)
            sources.append(Source(final))
            stack = Stack(sources, _layer_steps(refs[0], final.meta), False, options)
            _count_layers(stack, final, rep)
            stack.final = final
        else:
            steps, keep = [], {}
            for i, ref in enumerate(refs):
                rep.report(f"reading {ref}", i, len(refs), force=True)
                img = load_image(ref, options, progress=None, cancel=cancel)
                sources.append(Source(img))
                steps.append(_stage_step(i, ref, img.meta))
                steps[-1].entries = img.tree.count()
                steps[-1].size = img.tree.total_size()
                if i in (0, len(refs) - 1):
                    keep[i] = img  # the others are read again when chosen
            stack = Stack(sources, steps, True, options)
            for i, img in keep.items():
                stack._remember(i, img)
            stack.final = keep[len(refs) - 1]
        for img in stack._trees.values():
            img.tree.roll_up()  # directory sizes for the tree pane, while opening
        stack.final.tree.roll_up()
        stack._remember(len(stack.steps) - 1, stack.final)
        return stack
    except BaseException:
        for src in sources:
            src.reader.close()
        raise


def _count_layers(stack: Stack, final: Image, rep: Reporter) -> None:
    """Each layer's own entries and bytes. One layer: from the tree (the nodes it made);
    more: from each layer's index (cached by loading) or its blob."""
    src = stack.sources[0]
    if len(stack.steps) == 1:
        stack.steps[0].growth = Growth(added=final.tree.total_size())
        tree = final.tree
        step = stack.steps[0]
        tally = tree_tally(tree)  # one layer: its tree is its listing
        step.entries, step.size = tally.entries, tally.bytes
        return
    for step in stack.steps:
        rep.check()
        rep.report(f"counting layer {step.index}", step.index, len(stack.steps), force=True)
        src.count(step.index, rep, step)


def count_growth(stack: Stack, cancel: Cancel | None = None) -> None:
    """Each step's growth (Step.growth): what it added, removed and changed, from
    metadata alone. Layers: from the history the final tree keeps (a second or two on
    300,000 entries); stages: a metadata comparison of each image with the one before
    (~0.5 s a pair of 300,000 entries). A caller runs it in a worker once the stack is
    shown; the change sets' content comparison is not needed for byte counts."""
    rep = Reporter(None, cancel)
    if stack.stages:
        before = FileTree()
        for step in stack.steps:
            rep.check()
            after = stack.state(step.index, rep).tree
            if step.growth is None:
                step.growth = tree_growth(before, after)
            before = after
        return
    final = stack.final
    if final is None or all(s.growth is not None for s in stack.steps):
        return
    growths = layer_growths(final.tree)
    for step, grew in zip(stack.steps, growths, strict=False):
        if not step.encrypted and step.index <= final.upto:
            step.growth = grew
