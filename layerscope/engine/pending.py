"""Answer first, refine after: a diff's metadata half at once, its content half in batches.

`quick_diff` walks two trees as layerscope.engine.compare.tree_diff does, but settles a
same-size, same-metadata file pair only where that is free (the same member of one image,
the same layer digest and locator, digests already memoised or cached); every other pair
is "pending": counted unchanged by the diff for now and returned beside it. `compare_pending`
then compares those pairs through ContentHasher.settle (the comparison tree_diff uses:
stored forms first, both images read at once), in chunks with progress, cancellable;
`apply_content` folds
the answers into the diff, which then equals tree_diff's (same entries, same changes, same
order). `complete_diff` does all three, for callers that want the whole answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.errors import Cancelled
from layerscope.model.diff import ContentEqual, Modified, TreeDiff, diff_trees
from layerscope.model.tree import FileTree
from layerscope.readers.base import StreamedContents

Pair = tuple[int, int]  # (node in a, node in b)
Result = tuple[int, int, bool]  # (node in a, node in b, contents equal)
SAMPLE = 256  # pending pairs looked up in the persisted digests before trying them all
# Each call of the hasher's many-pairs comparison sets up its readers and reads whole
# fragment blocks: chunks of ~0.2 s made it 2.6x slower than one call on 280,000 pairs
# (22 s against 8.5 s), chunks of ~1 s as fast (7.1 s)
CHUNK_SECONDS = 1.0
FIRST_CHUNK = 64  # pairs in the first chunk (its answers come soon), and in any chunk


@dataclass(slots=True)
class ContentProgress:
    """How far a content comparison is: files and bytes (of `b`'s side) done of total."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    seconds: float
    finished: bool = False  # every pair compared (False at the end too when cancelled)


OnBatch = Callable[[list[Result], ContentProgress], None]


def quick_diff(
    a: Image,
    b: Image,
    compare: frozenset[str] | set[str],
    hasher: ContentHasher,
    same_member: ContentEqual | None = None,
) -> tuple[TreeDiff, list[Pair]]:
    """The diff without reading any content, and the pairs whose content it did not
    compare. `same_member` may settle a pair before any digest is looked at."""
    if "content" not in compare:
        return diff_trees(a.tree, b.tree, compare), []
    # First every same-size same-attribute pair is collected, then the free shortcuts
    # settle what they can. Without a same-member test the collector is a dict's
    # setdefault: called (na, nb) it records the pair and returns nb, a node id >= 1, so
    # diff_trees reads "equal", with no Python frame for each of ~all the tree's files.
    pairs: dict[int, int] = {}
    if same_member is None:
        equal = cast(ContentEqual, pairs.setdefault)
    else:
        same, record = same_member, pairs.setdefault

        def equal(na: int, nb: int) -> bool:
            if not same(na, nb):
                record(na, nb)
            return True

    diff = diff_trees(a.tree, b.tree, compare, equal)
    pending = _settle_shared(a, b, list(pairs.items()))
    return diff, _settle_known(a, b, diff, pending, hasher)


def _layer_digests(img: Image) -> list[str | None]:
    """Each layer's content digest (diff_id, else a sha256 blob digest; None for
    partitions and directories), as ContentHasher keys layers."""
    out: list[str | None] = []
    for info in img.meta.layers:
        out.append(info.diff_id or (info.id if info.id.startswith("sha256:") else None))
    return out


def _settle_shared(a: Image, b: Image, pairs: list[Pair]) -> list[Pair]:
    """Drop the pairs whose content is one member of a layer both images hold (the same
    digest, the same locator): the same bytes, which the diff already calls equal."""
    ids_a, ids_b = _layer_digests(a), _layer_digests(b)
    if not {i for i in ids_a if i} & {i for i in ids_b if i}:
        return pairs
    ta, tb = a.tree, b.tree
    loc_a, loc_b = ta.loc, tb.loc
    rest: list[Pair] = []
    for na, nb in pairs:
        ident = ids_a[ta.source_layer(na)]
        if ident is None or ident != ids_b[tb.source_layer(nb)] or loc_a[na] != loc_b[nb]:
            rest.append((na, nb))
    return rest


def _settle_known(
    a: Image, b: Image, diff: TreeDiff, pending: list[Pair], hasher: ContentHasher
) -> list[Pair]:
    """Settle the pairs whose content digests are known on both sides (memoised in this
    process, or persisted in the index cache by an earlier run). A layer's digests are
    computed and persisted together, so when none of the first pairs has both the rest is
    not looked at (a pair missed here is settled by the worker's first chunk, from the
    memo, at once)."""
    cached_a, cached_b = hasher.cached, hasher.cached
    if not any(
        cached_a(a, na) is not None and cached_b(b, nb) is not None for na, nb in pending[:SAMPLE]
    ):
        return pending
    known: list[Result] = []
    rest: list[Pair] = []
    for na, nb in pending:
        da, db = cached_a(a, na), cached_b(b, nb)
        if da is not None and db is not None:
            known.append((na, nb, da == db))
        else:
            rest.append((na, nb))
    apply_content(diff, b.tree, known)
    return rest


def compare_pending(
    a: Image,
    b: Image,
    pairs: Iterable[Pair],
    hasher: ContentHasher,
    on_batch: OnBatch,
    cancel: threading.Event | None = None,
    every: float | None = None,
) -> bool:
    """Compare the contents of `pairs` through ContentHasher.settle (stored forms first,
    both images read at once), in chunks sized to take about `every` seconds each (default
    CHUNK_SECONDS): the answers of each chunk go to `on_batch` with the progress, the last
    with finished set. A cancel is seen between chunks and within one (that chunk's
    answers are dropped; its digests stay memoised). Tar layers go in one chunk: each
    chunk reads every layer it touches. Returns False when cancelled."""
    seconds = CHUNK_SECONDS if every is None else every
    todo = list(pairs)
    size_b = b.tree.size
    total = sum(size_b[nb] for _, nb in todo)
    start = time.monotonic()
    files = done_bytes = 0

    def progress(finished: bool = False) -> ContentProgress:
        took = time.monotonic() - start
        return ContentProgress(files, len(todo), done_bytes, total, took, finished)

    def stopped() -> bool:
        return cancel is not None and cancel.is_set()

    chunk = len(todo) if _streamed(a, b) else FIRST_CHUNK
    try:
        while files < len(todo):
            if stopped():
                on_batch([], progress())
                return False
            part = todo[files : files + chunk]
            t0 = time.monotonic()
            unequal = hasher.settle(a, b, part, stopped)
            if unequal is None or stopped():
                on_batch([], progress())
                return False
            files += len(part)
            done_bytes += sum(size_b[nb] for _, nb in part)
            results = [(na, nb, (na, nb) not in unequal) for na, nb in part]
            on_batch(results, progress(finished=files == len(todo)))
            took = max(time.monotonic() - t0, 1e-3)
            chunk = min(max(int(chunk * seconds / took), FIRST_CHUNK), 1 << 16)
        if not todo:
            on_batch([], progress(finished=True))
        return True
    finally:
        hasher.flush()  # what was hashed stays known, cancelled or not


def apply_content(diff: TreeDiff, b: FileTree, results: Iterable[Result]) -> None:
    """Fold content answers into a quick diff, as diff_trees would have put them: a pair
    already modified gains "content" (in diff_trees' order); another becomes
    modified with ["content"]. The modified list is sorted again."""
    by_new = {m.new: m for m in diff.modified}
    grew = False
    for na, nb, same in results:
        if same:
            continue
        mod = by_new.get(nb)
        if mod is None:
            mod = by_new[nb] = Modified(b.path(nb), ["content"], na, nb)
            diff.modified.append(mod)
            grew = True
        else:
            add_content(mod.changes)
    if grew:
        # a new sorted list, swapped in: list.sort() empties the list while it sorts, and
        # the UI thread may read it meanwhile
        diff.modified = sorted(diff.modified, key=lambda m: m.path.split("/"))


# what diff_trees lists after "content" in an entry's changes, in its order
AFTER_CONTENT = ("size", "mtime", "links")


def add_content(changes: list[str]) -> None:
    """Put "content" where diff_trees lists it: after the attributes, before what
    AFTER_CONTENT names."""
    if "content" in changes:
        return
    at = next((i for i, c in enumerate(changes) if c in AFTER_CONTENT), len(changes))
    changes.insert(at, "content")


def complete_diff(
    a: Image,
    b: Image,
    compare: frozenset[str] | set[str],
    hasher: ContentHasher,
    same_member: ContentEqual | None = None,
    on_progress: Callable[[ContentProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> TreeDiff:
    """The whole diff (tree_diff's answer), contents compared in batches with progress."""
    diff, pending = quick_diff(a, b, compare, hasher, same_member)
    results: list[Result] = []

    def batch(got: list[Result], progress: ContentProgress) -> None:
        results.extend(got)
        if on_progress is not None:
            on_progress(progress)

    if pending:
        if not compare_pending(a, b, pending, hasher, batch, cancel):
            raise Cancelled("cancelled")
        apply_content(diff, b.tree, results)
    return diff


def _streamed(a: Image, b: Image) -> bool:
    return isinstance(a.reader, StreamedContents) or isinstance(b.reader, StreamedContents)
