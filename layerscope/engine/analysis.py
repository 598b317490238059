"""analyze(img) -> Report: every bloat and leak analysis of a loaded image, in one place.

The model's analyses are pure; this module feeds them: it re-reads each layer's raw
entries for dive's numbers, reads the image's package databases (engine.owners), and
reads file contents once for everything content-based (engine.content_pass: digests for
reclaimable bytes and duplicates, the secret scan of every text file of every layer).
`check`, `inspect --json` and the TUI all call `analyze`, so they agree.

`analyze(..., first=callback)` hands the metadata-only part first (dive's numbers,
reclaimable bytes, caches, largest entries: from the listings, no layer read again; the
package databases read only where that is cheap), a Report with `pending` set, then reads
contents for the rest: a viewer shows the numbers at once whatever the image's size.

The scan is complete by default: no read budget, every text file up to `scan_max_bytes`.
What a limit or an unreadable file leaves unscanned is counted (`Report.secrets_complete`,
`not_scanned`), so `check` fails its secret rule as incomplete instead of passing it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerscope.engine.analysis_reads import BudgetedReads
from layerscope.engine.analysis_scan import read_contents, shipped
from layerscope.engine.image import Image
from layerscope.engine.loading import cancellable, layer_entries, with_index_fallback
from layerscope.engine.metrics import Metrics
from layerscope.engine.owners import FileOwners, owners
from layerscope.errors import Cancelled, LayerscopeError
from layerscope.model.bloat.dive import DiveResult, dive_efficiency, dive_one_layer
from layerscope.model.bloat.dupes import DuplicateReport, duplicate_candidates, find_duplicates
from layerscope.model.bloat.junk import (
    CACHE,
    DEFAULT_CLASSES,
    JUNK,
    SLIMMING,
    JunkFinding,
    classify,
    find_junk,
)
from layerscope.model.bloat.largest import Largest, largest
from layerscope.model.bloat.secrets import SecretFinding, find_file_secrets, find_meta_secrets
from layerscope.model.bloat.waste import (
    Provenance,
    WasteReport,
    content_key,
    reclaimable,
)
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.tree import FileTree
from layerscope.readers.base import StoredExtents, StreamedContents

if TYPE_CHECKING:
    from layerscope.model.portability.report import PortabilityReport

Progress = Callable[[str, int, int], None]
First = Callable[["Report"], None]

STEPS = ("dive", "reclaimable", "caches", "duplicates", "secrets", "largest", "signatures")


@dataclass(slots=True)
class AnalysisOptions:
    dive: bool = True
    duplicates: bool = True
    secrets: bool = True
    junk_classes: frozenset[str] = DEFAULT_CLASSES
    deep_secrets: bool | None = None  # None (default): every text file, as True
    scan_max_bytes: int = 64 << 20  # a larger text file is not scanned: the scan is incomplete
    read_budget: int | None = None  # content bytes all analyses may read together; None: all
    package_secrets: bool = False  # count secrets in files a package installed unchanged
    min_duplicate_size: int = 1
    top: int = 20
    per_layer: int = 5
    portability: bool = False  # also the portability report (reads every ELF file)
    signatures: bool = True  # verify the image's signatures (a SIF's) against the keyrings


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
    not_scanned: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    packages: int = 0  # packages the image's databases list
    owned_bytes: int = 0  # final-tree file bytes a package database lists
    package_secrets: bool = False  # shipped secrets count for check (AnalysisOptions)
    # each SIF signature with its verification (status, signer, reason, signed objects)
    signatures: list[dict[str, Any]] = field(default_factory=list)
    # the metadata-only part (analyze's `first`): duplicates, secrets, packages and
    # signatures are not known yet, reclaimable reasons are provisional
    pending: bool = False
    # caches leave out byte-code (__pycache__) until the package databases tell whose
    pycache_pending: bool = False

    @property
    def secrets_complete(self) -> bool:
        """Every file the scan was to read was read (no limit, no unreadable file)."""
        return not self.not_scanned

    def category_bytes(self, category: str) -> int:
        return sum(j.bytes for j in self.junk if j.category == category)

    @property
    def valid_signatures(self) -> int:
        return sum(1 for s in self.signatures if s.get("status") == "valid")

    @property
    def cache_bytes(self) -> int:
        """Caches only (junk.CACHE): what `no-caches` counts."""
        return self.category_bytes(CACHE)

    @property
    def junk_bytes(self) -> int:
        return self.category_bytes(JUNK)

    @property
    def slimming_bytes(self) -> int:
        return self.category_bytes(SLIMMING)

    def counted_secrets(self) -> list[SecretFinding]:
        """The secrets `no-secrets` counts: all but those shipped unchanged by a package
        (unless package_secrets)."""
        if self.package_secrets:
            return list(self.secrets)
        return [s for s in self.secrets if s.shipped_by is None]


def analyze(
    img: Image,
    options: AnalysisOptions | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    first: First | None = None,
) -> Report:
    """The whole analysis. `first`, when given, is called with the metadata-only part
    (a Report with `pending` set) before any content is read."""
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
    if first is not None:
        first(_metadata_report(img, opts, dive, prov, notes))
    candidates = duplicate_candidates(tree, opts.min_duplicate_size) if opts.duplicates else []
    deep = opts.deep_secrets is not False
    scanned = read_contents(
        reads, prov, candidates, deep and opts.secrets, opts.scan_max_bytes,
        opts.read_budget, cancel, progress,
    )  # fmt: skip
    fo = scanned.owners
    if fo is not None:
        notes.extend(fo.problems)
    waste = reclaimable(tree, reads.same, prov)
    waste_classes = {w.path: c for w in waste.items if (c := classify(w.path)) is not None}
    step(2)
    owned = fo.owned if fo is not None else None
    junk = find_junk(tree, opts.junk_classes, lambda n: _is_core(reads, n), owned)
    step(3)
    dupes = DuplicateReport()
    if opts.duplicates:
        dupes = find_duplicates(
            tree, reads.digest, opts.min_duplicate_size, candidates, _stored_as(img, notes)
        )
    step(4)
    secrets: list[SecretFinding] = []
    if opts.secrets:
        secrets = find_meta_secrets(img.meta)
        found = find_file_secrets(tree, lambda n: None, prov, deep, scanned=scanned.matches)
        secrets += shipped(found, scanned)
    step(5)
    big = largest(tree, opts.top, opts.per_layer, prov.live)
    step(6)
    signatures = img.verify_signatures() if opts.signatures else img.meta.signatures
    final = tree.total_size()
    port = None
    if opts.portability:
        from layerscope.engine.portability import portability  # its parsers load on use

        port = portability(img, progress, cancel, fo)
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
        not_scanned=scanned.not_scanned if opts.secrets else [],
        packages=len(fo.packages) if fo is not None else 0,
        owned_bytes=_owned_bytes(tree, fo),
        package_secrets=opts.package_secrets,
        portability=port,
        signatures=[dict(s) for s in signatures],
    )


def _metadata_report(
    img: Image, opts: AnalysisOptions, dive: DiveResult | None, prov: Provenance, notes: list[str]
) -> Report:
    """What the listings alone tell: dive's numbers, reclaimable bytes (every total exact;
    a same-size rewrite counts as "shadowed" until contents are compared), caches and the
    largest entries. Caches need the package databases to tell a package's byte-code from
    a user's: they are read here where that is cheap (random access), else byte-code
    waits for the content pass."""
    tree = img.tree
    waste = reclaimable(tree, None, prov)
    fo: FileOwners | None = None
    classes = opts.junk_classes
    if not isinstance(img.reader, StreamedContents):
        try:
            fo = owners(img)
        except LayerscopeError:
            fo = None
    pycache_pending = fo is None and "pycache" in classes
    if pycache_pending:
        classes = classes - {"pycache"}
    junk = find_junk(tree, classes, None, fo.owned if fo is not None else None)
    final = tree.total_size()
    return Report(
        ref=img.ref,
        format=img.meta.format,
        layer_count=len(img.meta.layers),
        upto=img.upto,
        image_bytes=final + waste.total,
        final_bytes=final,
        dive=dive,
        waste=waste,
        waste_classes={w.path: c for w in waste.items if (c := classify(w.path)) is not None},
        duplicates=DuplicateReport(),
        junk=junk,
        secrets=[],
        largest=largest(tree, opts.top, opts.per_layer, prov.live),
        deep_secrets=opts.deep_secrets is not False,
        notes=list(notes),
        package_secrets=opts.package_secrets,
        pending=True,
        pycache_pending=pycache_pending,
    )


def _stored_as(img: Image, notes: list[str]) -> Callable[[int], Hashable | None] | None:
    """Where the format stores a file's bytes, for formats that can store copies once."""
    reader = img.reader
    if not isinstance(reader, StoredExtents):
        return None
    tree = img.tree

    def where(node: int) -> Hashable | None:
        layer = tree.source_layer(node)
        try:
            got = reader.content_extent(layer, tree.loc[node])
        except LayerscopeError as e:
            notes.append(f"{tree.path(node)}: storage not known: {e}")
            return None
        return None if got is None else (layer, got)

    return where


def _owned_bytes(tree: FileTree, fo: FileOwners | None) -> int:
    """Final-tree regular-file bytes some package database lists (hard links once)."""
    if fo is None or len(fo) == 0:
        return 0
    seen: set[tuple[int, int]] = set()
    total = 0
    for node, path in tree.walk_paths():
        if tree.kind[node] == EntryKind.FILE and fo.owned(path):
            key = content_key(tree, node)
            if key not in seen:
                seen.add(key)
                total += tree.size[node]
    return total


def _dive(img: Image, notes: list[str], cancel: threading.Event | None) -> DiveResult | None:
    layers = img.meta.layers[: img.upto + 1]
    styles = [info.whiteouts for info in layers]

    def entries(index: int, use_index: bool) -> Iterator[Entry]:
        listed = layer_entries(img, index, use_index)
        return listed if cancel is None else cancellable(listed, cancel)

    def run(use_index: bool) -> DiveResult:
        if len(layers) == 1:
            one = dive_one_layer(entries(layers[0].index, use_index), styles[0])
            if one is not None:
                return one
        return dive_efficiency((entries(i.index, use_index) for i in layers), styles)

    try:
        result = with_index_fallback(run)
    except LayerscopeError as e:
        notes.append(f"dive numbers not computed: {e}")
        return None
    notes.extend(result.notes)
    return result


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
        secrets=len(r.counted_secrets()),
        cache_bytes=r.cache_bytes,
        secrets_incomplete=_incomplete(r),
        valid_signatures=r.valid_signatures,
    )
    if r.portability is None:
        return metrics
    from layerscope.engine.portability import portability_metrics

    return dataclasses.replace(metrics, **portability_metrics(r.portability))


def _incomplete(r: Report) -> str | None:
    """Why the secret scan is incomplete (None: it is complete)."""
    if r.secrets_complete:
        return None
    path, why = r.not_scanned[0]
    more = f" and {len(r.not_scanned) - 1} more" if len(r.not_scanned) > 1 else ""
    return f"{len(r.not_scanned)} file(s) not scanned ({path}: {why}{more})"
