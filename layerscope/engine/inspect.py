"""What `inspect` reports: an image's metadata, what each layer stores, and optionally the
analysis, reading each layer at most once.

Metadata comes from describe() (cheap). Per-layer counts come from the layers read while
the tree is loaded (when the tree is needed: Apptainer metadata kept inside it, or the
analysis), else from each layer's cached index, else from the layer itself. A layer that
cannot be read gets its error and the rest is still reported (siftool lists a SIF whose
partition is broken; so do we).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from layerscope.cache import IndexCache
from layerscope.engine.image import Image, verify_signatures
from layerscope.engine.loading import (
    cached_entries,
    load_image,
    scratch_index,
    with_index_fallback,
)
from layerscope.errors import EncryptedError, ReaderError
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.model.sizes import LayerTally
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import ImageReader

if TYPE_CHECKING:
    from layerscope.engine.analysis import Report

__all__ = ["Inspection", "LayerStats", "inspect"]


@dataclass(slots=True)
class LayerStats:
    """One layer and what it stores: `entries` (whiteouts included) and `bytes` (regular
    files, hard-linked content once); None when it could not be counted."""

    info: LayerInfo
    entries: int | None = None
    bytes: int | None = None
    error: str | None = None


@dataclass(slots=True)
class Inspection:
    ref: str
    meta: ImageMeta
    layers: list[LayerStats]
    errors: list[ReaderError] = field(default_factory=list)
    final_bytes: int | None = None  # regular-file bytes of the merged tree, when loaded
    analysis: Report | None = None


def inspect(ref: str, options: OpenOptions | None = None, analyze: bool = False) -> Inspection:
    opts = options or OpenOptions()
    reader = open_image(ref, opts)
    try:
        meta = reader.describe()
        readable = bool(meta.layers) and not any(info.encrypted for info in meta.layers)
        if not (analyze or (readable and reader.traits.inner_metadata)):
            stats = _count_layers(reader, meta, opts, {})
            verify_signatures(reader, meta)
            return Inspection(ref, meta, stats, _errors(stats))
    finally:
        reader.close()
    with scratch_index(opts) as index:  # --no-cache: layers listed once all the same
        return _loaded(ref, opts, meta, analyze, index)


def _loaded(
    ref: str, opts: OpenOptions, meta: ImageMeta, analyze: bool, index: IndexCache | None
) -> Inspection:
    try:
        img = load_image(ref, opts, tally=True, index=index)
    except ReaderError as e:
        # The tree cannot be built: say so per layer, as far as each can be counted.
        fresh = open_image(ref, opts)
        try:
            stats = _count_layers(fresh, fresh.describe(), opts, {})
            verify_signatures(fresh, meta)
        finally:
            fresh.close()
        return Inspection(ref, meta, stats, [e, *_errors(stats)])
    with img:
        stats = _count_layers(img.reader, img.meta, opts, img.tallies, img)
        img.verify_signatures()
        found = Inspection(ref, img.meta, stats, _errors(stats), img.tree.total_size())
        if analyze:
            from layerscope.engine.analysis import AnalysisOptions
            from layerscope.engine.analysis import analyze as run_analysis

            found.analysis = run_analysis(img, AnalysisOptions(portability=True))
        return found


def _errors(stats: list[LayerStats]) -> list[ReaderError]:
    return [ReaderError(s.error) for s in stats if s.error is not None]


def _count_layers(
    reader: ImageReader,
    meta: ImageMeta,
    opts: OpenOptions,
    tallies: dict[int, LayerTally],
    img: Image | None = None,
) -> list[LayerStats]:
    cache = IndexCache() if opts.use_cache else None
    out = []
    for info in meta.layers:
        stats = LayerStats(info)
        tally = tallies.get(info.index)
        try:
            if tally is None:
                key = img.layer_keys[info.index] if img is not None else None
                if img is None and cache is not None:
                    key = reader.layer_identity(info.index)
                tally = with_index_fallback(partial(_tally, reader, info.index, cache, key))
            stats.entries, stats.bytes = tally.entries, tally.bytes
        except EncryptedError:
            pass  # shown as encrypted, which is what the user needs to know
        except ReaderError as e:
            stats.error = str(e)
        out.append(stats)
    return out


def _tally(
    reader: ImageReader, index: int, cache: IndexCache | None, key: str | None, use_index: bool
) -> LayerTally:
    tally = LayerTally()
    for e in cached_entries(reader, index, cache, key, use_index):
        tally.add(e)
    return tally
