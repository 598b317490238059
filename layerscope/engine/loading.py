"""load_image(ref) -> Image: the one entry point the CLI and the UI call.

Joins a reader (format I/O) with the model (one merged tree). Progress is reported through
a callback and cancellation through an Event, so a UI worker can drive it.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from layerscope.cache import IndexCache, index_threads
from layerscope.engine.image import Image
from layerscope.errors import (
    CacheCorruptError,
    Cancelled,
    LayerscopeError,
    UsageError,
)
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta
from layerscope.model.layers import WhiteoutStyle, apply_layer
from layerscope.model.sizes import LayerTally, tree_tally
from layerscope.model.tree import FileTree
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import ColumnLister, ImageReader, ListCheck

if TYPE_CHECKING:
    from layerscope.cache.prefetch import Prefetcher

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


def with_index_fallback(run: Callable[[bool], T]) -> T:
    """Run `run(use_index=True)`; when a layer index fails to decode part-way, run it again
    from the image itself. The one place CacheCorruptError is handled: every caller that
    reads layers through the index cache goes through here."""
    try:
        return run(True)
    except CacheCorruptError:
        return run(False)


def load_image(
    ref: str,
    options: OpenOptions | None = None,
    upto: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    tally: bool = False,
    index: IndexCache | None = None,
) -> Image:
    """Open `ref` and apply its layers 0..upto (all by default) into one tree.

    With the index cache (the default; OpenOptions.use_cache=False turns it off) a tree
    seen before is decoded from the cache without reading any layer, and each layer read
    is indexed on the way through for the next time. With `tally`, the layers read on the
    way are counted as they are applied (Image.tallies: what `inspect` shows per layer,
    without reading any layer a second time). `index`: an index cache to use instead of
    the user's, on or off (scratch_index)."""
    opts = options or OpenOptions()
    reader = open_image(ref, opts)
    try:
        meta = reader.describe()
        if isinstance(reader, ListCheck):
            reader.check_listable()  # a file holding no tree at all says so (exit 3)
        last = len(meta.layers) - 1
        if upto is not None:
            if not -len(meta.layers) <= upto <= last:
                raise UsageError(
                    f"--layer {upto}: {ref} has {len(meta.layers)} layer(s) (0..{last})"
                )
            last = upto % len(meta.layers)
        cache = index if index is not None else IndexCache() if opts.use_cache else None
        keys: list[str | None] = [None] * len(meta.layers)
        if cache is not None:
            keys = [reader.layer_identity(i) for i in range(len(meta.layers))]
        build = _Build(reader, meta, last, cache, keys, progress, cancel)
        build.tallies = {} if tally else None
        loaded = Image(ref, reader, meta, build.run(), last, keys, cache)
        loaded.tallies = build.tallies or {}
        if loaded.tree.lookup("/.singularity.d") is not None:
            _fill_singularity_meta(loaded)
        return loaded
    except BaseException:
        reader.close()
        raise


@contextlib.contextmanager
def scratch_index(opts: OpenOptions) -> Iterator[IndexCache | None]:
    """For a run without the user's cache (--no-cache) that reads layer listings more
    than once (an analysis: dive's numbers list every layer again after the tree is
    built): an index cache in a temporary directory, gone when the run ends, so each
    layer is listed once. None when the user's cache is on: it serves."""
    if opts.use_cache:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="layerscope-scratch-") as root:
        cache = IndexCache(Path(root))
        try:
            yield cache
        finally:
            # a content hasher may persist its digests when it is collected, after the
            # run: into a cache that takes no more writes, not a directory made again
            cache.max_bytes = cache.store.max_bytes = 0


CANCEL_CHECK_EVERY = 4096


def first_layer_tree(
    reader: ImageReader, index: int, style: WhiteoutStyle, cancel: threading.Event | None
) -> FileTree | None:
    """The tree of layer `index` alone, listed column-wise when the reader can (squashfs):
    no Entry per entry and no path lookups, a third of the cost of apply_layer. Only for a
    layer with nothing below it and no whiteouts to interpret; None otherwise."""
    if style != "none" or not isinstance(reader, ColumnLister):
        return None
    cols = reader.layer_columns(index, None if cancel is None else cancel.is_set)
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    return None if cols is None else FileTree.adopt(cols, index)


def tallied(entries: Iterable[Entry], tally: LayerTally) -> Iterator[Entry]:
    """Pass entries through, counting them into `tally` (what the layer stores)."""
    add = tally.add
    for e in entries:
        add(e)
        yield e


def cancellable(entries: Iterable[Entry], cancel: threading.Event) -> Iterator[Entry]:
    """Stop a long layer part-way when the caller cancels (a UI quitting mid-load)."""
    for i, e in enumerate(entries):
        if not i % CANCEL_CHECK_EVERY and cancel.is_set():
            raise Cancelled("cancelled")
        yield e


class _Build:
    """Layers 0..last into one tree: from the tree cache, else layer by layer (each from
    its cached index or from the reader, indexed on the way)."""

    def __init__(
        self,
        reader: ImageReader,
        meta: ImageMeta,
        last: int,
        cache: IndexCache | None,
        keys: list[str | None],
        progress: Progress | None,
        cancel: threading.Event | None,
    ) -> None:
        self.reader, self.meta, self.last = reader, meta, last
        self.cache, self.keys = cache, keys
        self.progress, self.cancel = progress, cancel
        self.styles: list[WhiteoutStyle] = [info.whiteouts for info in meta.layers[: last + 1]]
        self.tallies: dict[int, LayerTally] | None = None

    def run(self) -> FileTree:
        cache = self.cache
        tree_key = None
        if cache is not None:
            tree_key = cache.tree_key(self.keys[: self.last + 1], self.styles)
        if cache is not None and tree_key is not None:
            self._report("reading the index cache", 0)
            tree = cache.load_tree(tree_key)
            if tree is not None:
                return tree
        warned = len(self.meta.warnings)
        tree = with_index_fallback(self._apply_all)
        # A listing that warned (a name normalised, a directory unreadable) is not cached:
        # reopening from the cache would show the same tree without saying why.
        if cache is not None and tree_key is not None and len(self.meta.warnings) == warned:
            tree.pack_children()
            cache.save_tree(tree_key, tree)
        return tree

    def _apply_all(self, use_index: bool) -> FileTree:
        tree = FileTree()
        if self.tallies is not None:
            self.tallies.clear()  # a run again after a corrupt index counts from zero
        ahead = self._prefetcher(use_index)
        try:
            for info in self.meta.layers[: self.last + 1]:
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled("cancelled")
                self._report(f"reading layer {info.index}", info.index)
                if len(tree) == 1:
                    first = first_layer_tree(
                        self.reader, info.index, self.styles[info.index], self.cancel
                    )
                    if first is not None:
                        tree = first
                        if self.tallies is not None:
                            self.tallies[info.index] = tree_tally(tree)
                        continue
                entries = self._entries(info.index, use_index, ahead)
                if self.cancel is not None:
                    entries = cancellable(entries, self.cancel)
                if self.tallies is not None:
                    entries = tallied(entries, self.tallies.setdefault(info.index, LayerTally()))
                apply_layer(tree, info.index, entries, self.styles[info.index])
        finally:
            if ahead is not None:
                ahead.close()
        return tree

    def _prefetcher(self, use_index: bool) -> Prefetcher | None:
        """Workers for the layers above 0 that must be read, when there are any and the
        reader may be read from several threads (local OCI stores: separate files or
        pread; not the registry, whose pulls share one HTTP session)."""
        workers = index_threads()
        if workers <= 0 or not self.reader.traits.parallel_layers:
            return None
        cache = self.cache
        todo = [
            i
            for i in range(1, self.last + 1)
            if not (use_index and cache is not None and self._has_index(i))
        ]
        if not todo:
            return None
        from layerscope.cache.prefetch import Prefetcher

        return Prefetcher(self.reader.iter_entries, todo, workers)

    def _has_index(self, index: int) -> bool:
        key = self.keys[index]
        return key is not None and self.cache is not None and self.cache.has_layer(key)

    def _entries(self, index: int, use_index: bool, ahead: Prefetcher | None) -> Iterator[Entry]:
        key = self.keys[index]
        cache = self.cache
        if ahead is not None and index in ahead:
            chunks = ahead.take(index)
            if chunks is not None:
                if cache is not None and key is not None:
                    cache.save_layer_chunks(key, chunks)
                from layerscope.cache.prefetch import iter_index

                return iter_index(chunks)
            # a field the index cannot hold: read the layer directly below
        if cache is None or key is None:
            return self.reader.iter_entries(index)
        if use_index:
            cached = cache.layer_entries(key)
            if cached is not None:
                return cached
        entries = self.reader.iter_entries(index)
        # A layer index pays when the layer can recur without this exact tree: a blob
        # shared by other images, or a lower layer of a stack (--layer N, diff --layer).
        # A single-layer SIF or squashfs has only its tree cached: indexing it too would
        # add ~25% to its first open for nothing.
        if key.startswith("blob|") or len(self.meta.layers) > 1:
            warned = len(self.meta.warnings)
            return cache.record_layer(key, entries, lambda: len(self.meta.warnings) == warned)
        return entries

    def _report(self, what: str, index: int) -> None:
        if self.progress is not None:
            self.progress(what, index, len(self.meta.layers))


def layer_entries(img: Image, index: int, use_index: bool = True) -> Iterator[Entry]:
    """Layer `index`'s raw entries, through the index cache (see cached_entries)."""
    key = img.layer_keys[index] if index < len(img.layer_keys) else None
    return cached_entries(img.reader, index, img.cache, key, use_index)


def cached_entries(
    reader: ImageReader,
    index: int,
    cache: IndexCache | None,
    key: str | None,
    use_index: bool = True,
) -> Iterator[Entry]:
    """Layer `index`'s raw entries: from its cached index when there is one (a layer blob is
    then not decompressed again), else from the reader, indexed on the way when the layer
    is a blob (shared by images, read again by every analysis). The index is verified
    before its first entry; CacheCorruptError after that means: call with use_index=False."""
    if cache is not None and key is not None:
        if use_index:
            cached = cache.layer_entries(key)
            if cached is not None:
                return cached
        if key.startswith("blob|"):
            return cache.record_layer(key, reader.iter_entries(index))
    return reader.iter_entries(index)


SINGULARITY_FILES = {
    "runscript": "/.singularity.d/runscript",
    "help": "/.singularity.d/runscript.help",
    "environment": "/.singularity.d/env/90-environment.sh",
    "definition": "/.singularity.d/Singularity",
    "test": "/.singularity.d/test",
    "startscript": "/.singularity.d/startscript",
}
BOOTSTRAP_HISTORY = "/.singularity.d/bootstrap_history"
MAX_META_BYTES = 1 << 20
MAX_HISTORY_FILES = 64  # each build on a SIF base adds one: a crafted image cannot add 10^6


def _fill_singularity_meta(img: Image) -> None:
    """Apptainer keeps runscript, help, environment and labels inside the image: use them
    where the SIF descriptors do not carry them."""
    meta = img.meta
    for attr, path in SINGULARITY_FILES.items():
        if getattr(meta, attr):
            continue
        text = _read_text(img, path)
        if text is not None:
            setattr(meta, attr, text)
    history = img.tree.lookup(BOOTSTRAP_HISTORY)
    kids = img.tree.kids(history) if history is not None else None
    if kids and not meta.bootstrap_history:
        names = sorted(kids, key=_natural)
        for name in names[:MAX_HISTORY_FILES]:
            text = _read_text(img, f"{BOOTSTRAP_HISTORY}/{name}")
            if text is not None:
                meta.bootstrap_history[name] = text
        if len(names) > MAX_HISTORY_FILES:
            meta.warnings.append(
                f"{BOOTSTRAP_HISTORY} holds {len(names)} files: the first "
                f"{MAX_HISTORY_FILES} are shown"
            )
    if not meta.labels:
        text = _read_text(img, "/.singularity.d/labels.json")
        if text:
            try:
                labels = json.loads(text)
            except (ValueError, RecursionError):
                meta.warnings.append("/.singularity.d/labels.json is not valid JSON")
            else:
                if isinstance(labels, dict):
                    meta.labels = {str(k): str(v) for k, v in labels.items()}


def _natural(name: str) -> tuple[str, int, str]:
    """Singularity2 before Singularity10 (apptainer numbers them as it builds): the
    trailing number compared by its length, then its digits (no int() of a hostile name)."""
    stem = name.rstrip("0123456789")
    return (stem, len(name) - len(stem), name)


def _read_text(img: Image, path: str) -> str | None:
    node = img.tree.lookup(path)
    if node is None or img.tree.kind[node] != EntryKind.FILE:
        return None
    try:
        return img.read(node, MAX_META_BYTES).decode("utf-8", "replace")
    except LayerscopeError:
        return None
