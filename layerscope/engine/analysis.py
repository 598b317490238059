"""analyze(img) -> Report: every bloat and leak analysis of a loaded image, in one place.

The model's analyses are pure; this module feeds them: it re-reads each layer's raw
entries for dive's numbers, and reads file contents lazily and within a budget (hashing
for duplicates and same-size rewrites, the heads of would-be core dumps, small text files
for secrets). `check`, `inspect --json` and the TUI all call `analyze`, so they agree.

Content reads cost little on random-access formats (squashfs, ext3, directories) but a
decompression from the start of the blob on tar layers, so the deep secret scan (every
small text file, not only candidate names) is on by default only for the former.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from layerscope.engine.analysis_reads import BudgetedReads
from layerscope.engine.image import Image
from layerscope.engine.loading import cancellable, layer_entries, with_index_fallback
from layerscope.engine.metrics import Metrics
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.model.bloat.dive import DiveResult, dive_efficiency
from layerscope.model.bloat.dupes import DuplicateReport, duplicate_candidates, find_duplicates
from layerscope.model.bloat.junk import DEFAULT_CLASSES, JunkFinding, classify, find_junk
from layerscope.model.bloat.largest import Largest, largest
from layerscope.model.bloat.secret_rules import is_candidate
from layerscope.model.bloat.secrets import SecretFinding, find_file_secrets, find_meta_secrets
from layerscope.model.bloat.waste import (
    PathCache,
    Provenance,
    WasteReport,
    reclaimable,
)
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.base import StreamedContents

if TYPE_CHECKING:
    from layerscope.model.portability.report import PortabilityReport

Progress = Callable[[str, int, int], None]

STEPS = ("dive", "reclaimable", "caches", "duplicates", "secrets", "largest")
SNIFF = 8192


@dataclass(slots=True)
class AnalysisOptions:
    dive: bool = True
    duplicates: bool = True
    secrets: bool = True
    junk_classes: frozenset[str] = DEFAULT_CLASSES
    deep_secrets: bool | None = None  # None: deep on random-access formats only
    secret_max_bytes: int = 1 << 20  # larger files are not scanned for secret content
    read_budget: int = 256 << 20  # content bytes all analyses may read together
    min_duplicate_size: int = 1
    top: int = 20
    per_layer: int = 5
    portability: bool = False  # also the portability report (reads every ELF file)


@dataclass(slots=True)
class Report:
    ref: str
    format: str
    layer_count: int
    upto: int
    image_bytes: int  # regular-file bytes stored in the layers, each copy once
    final_bytes: int  # regular-file bytes the final tree shows (hard links once)
    dive: DiveResult | None
    waste: WasteReport
    waste_classes: dict[str, str]  # path of a reclaimable item -> junk class
    duplicates: DuplicateReport
    junk: list[JunkFinding]
    secrets: list[SecretFinding]
    largest: Largest
    deep_secrets: bool
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)
    portability: PortabilityReport | None = None

    @property
    def cache_bytes(self) -> int:
        return sum(j.bytes for j in self.junk)


def analyze(
    img: Image,
    options: AnalysisOptions | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Report:
    opts = options or AnalysisOptions()
    tree = img.tree
    notes: list[str] = []
    reads = BudgetedReads(img, opts.read_budget, notes, cancel)

    def step(i: int) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        if progress is not None:
            progress(f"analysing: {STEPS[i]}", i, len(STEPS))

    step(0)
    dive = _dive(img, notes, cancel) if opts.dive else None
    step(1)
    prov = Provenance(tree)
    candidates = duplicate_candidates(tree, opts.min_duplicate_size) if opts.duplicates else []
    deep = opts.deep_secrets if opts.deep_secrets is not None else _random_access(img)
    order = _secret_order(img, deep) if opts.secrets else []
    if isinstance(img.reader, StreamedContents):
        _read_ahead(reads, prov, candidates, deep, order, opts.secret_max_bytes)
    waste = reclaimable(tree, reads.same, prov)
    waste_classes = {w.path: c for w in waste.items if (c := classify(w.path)) is not None}
    step(2)
    junk = find_junk(tree, opts.junk_classes, lambda n: _is_core(reads, n))
    step(3)
    dupes = DuplicateReport()
    if opts.duplicates:
        dupes = find_duplicates(tree, reads.digest, opts.min_duplicate_size, candidates)
    step(4)
    secrets: list[SecretFinding] = []
    if opts.secrets:
        secrets = find_meta_secrets(img.meta)
        secrets += find_file_secrets(
            tree, lambda n: _secret_read(reads, n, opts.secret_max_bytes), prov, deep, order
        )
    step(5)
    big = largest(tree, opts.top, opts.per_layer, prov.live)
    final = tree.total_size()
    port = None
    if opts.portability:
        from layerscope.engine.portability import portability  # its parsers load on use

        port = portability(img, progress, cancel)
    return Report(
        ref=img.ref,
        format=img.meta.format,
        layer_count=len(img.meta.layers),
        upto=img.upto,
        image_bytes=final + waste.total,
        final_bytes=final,
        dive=dive,
        waste=waste,
        waste_classes=waste_classes,
        duplicates=dupes,
        junk=junk,
        secrets=secrets,
        largest=big,
        deep_secrets=deep,
        bytes_read=reads.used,
        notes=notes,
        portability=port,
    )


def _dive(img: Image, notes: list[str], cancel: threading.Event | None) -> DiveResult | None:
    layers = img.meta.layers[: img.upto + 1]
    styles = [info.whiteouts for info in layers]

    def entries(index: int, use_index: bool) -> Iterator[Entry]:
        listed = layer_entries(img, index, use_index)
        return listed if cancel is None else cancellable(listed, cancel)

    def run(use_index: bool) -> DiveResult:
        return dive_efficiency((entries(i.index, use_index) for i in layers), styles)

    try:
        result = with_index_fallback(run)
    except LayerscopeError as e:
        notes.append(f"dive numbers not computed: {e}")
        return None
    notes.extend(result.notes)
    return result


def _read_ahead(
    reads: BudgetedReads,
    prov: Provenance,
    candidates: list[tuple[int, list[int]]],
    deep: bool,
    order: list[int],
    secret_max_bytes: int,
) -> None:
    """For an image of streamed layers: dry runs of the waste and secret analyses find what
    they will read, and everything is read in one pass per layer (BudgetedReads.prefetch),
    in the budget order of the real runs: waste pairs, then duplicate candidates."""
    tree = reads.img.tree
    pairs: list[tuple[int, int]] = []
    reclaimable(tree, reads.pairs_to_compare(pairs), prov)
    scanned: list[int] = []
    if order:
        find_file_secrets(tree, lambda n: scanned.append(n), prov, deep, order)
    reads.prefetch(
        [n for pair in pairs for n in pair] + [n for _, nodes in candidates for n in nodes],
        [n for n in scanned if tree.size[n] <= secret_max_bytes],
    )


def _random_access(img: Image) -> bool:
    return img.reader.traits.random_access


def _secret_order(img: Image, deep: bool) -> list[int]:
    """Candidate names first, so a budget running out costs the least likely files."""
    tree = img.tree
    files = [n for n in range(1, len(tree)) if tree.kind[n] == EntryKind.FILE]
    if not deep:
        return files
    path_of = PathCache(tree)
    first = [n for n in files if is_candidate(path_of(n))]
    chosen = set(first)
    return first + [n for n in files if n not in chosen]


def _secret_read(reads: BudgetedReads, node: int, max_bytes: int) -> bytes | None:
    size = reads.img.tree.size[node]
    if size > max_bytes:
        return None
    if size <= SNIFF:
        return reads.read(node, size)
    head = reads.read(node, SNIFF)
    if head is None or b"\0" in head:
        return None
    return reads.read(node, size)


def _is_core(reads: BudgetedReads, node: int) -> bool:
    head = reads.read(node, 18)
    if head is None or len(head) < 18 or head[:4] != b"\x7fELF":
        return False
    # e_type ET_CORE (4), in the byte order EI_DATA names
    return head[16:18] == (b"\x00\x04" if head[5] == 2 else b"\x04\x00")


def ci_metrics(r: Report) -> Metrics:
    """The numbers `check` rules are evaluated against."""
    metrics = Metrics(
        efficiency=None if r.dive is None else r.dive.efficiency,
        wasted_bytes=None if r.dive is None else r.dive.wasted_bytes,
        user_wasted_percent=None if r.dive is None else r.dive.user_wasted_percent,
        reclaimable_bytes=r.waste.total,
        image_bytes=r.image_bytes,
        secrets=len(r.secrets),
        cache_bytes=r.cache_bytes,
    )
    if r.portability is None:
        return metrics
    from layerscope.engine.portability import portability_metrics

    return dataclasses.replace(metrics, **portability_metrics(r.portability))
