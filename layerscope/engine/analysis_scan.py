"""The content side of an analysis: what to read (planned by dry runs of the analyses that
need bytes), the one read (engine.content_pass), and the package check of what the secret
scan found ("shipped by package X": a file its package installed and nobody changed)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field

from layerscope.engine.analysis_reads import BudgetedReads
from layerscope.engine.content_pass import Progress, content_pass
from layerscope.engine.owners import FileOwners, database_files, owners_from
from layerscope.model.bloat.secret_rules import Match, is_candidate, path_kind
from layerscope.model.bloat.secrets import BatchScan, SecretFinding
from layerscope.model.bloat.waste import PathCache, Provenance, content_key, reclaimable
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree


@dataclass(slots=True)
class Scanned:
    """What the read found: the secret scan's matches per content, what it could not
    scan and why, the image's package owners (its databases were read in the same pass),
    digests of the files the scan found something in, and the bytes read."""

    matches: dict[tuple[int, int], list[Match]] = field(default_factory=dict)
    not_scanned: list[tuple[str, str]] = field(default_factory=list)
    owners: FileOwners | None = None
    digests: dict[int, dict[str, bytes]] = field(default_factory=dict)  # node -> algo -> raw
    bytes_read: int = 0


VERIFY_ALGOS = ("md5", "sha1", "sha256")  # what dpkg, apk, rpm, RECORD and conda record


def _digests(data: bytes) -> dict[str, bytes]:
    return {algo: hashlib.new(algo, data).digest() for algo in VERIFY_ALGOS}


def read_contents(
    reads: BudgetedReads,
    prov: Provenance,
    candidates: list[tuple[int, list[int]]],
    deep: bool,
    scan_max: int,
    budget: int | None,
    cancel: threading.Event | None,
    progress: Progress | None = None,
) -> Scanned:
    """Read once everything the analyses will need: the pairs reclaimable() compares, the
    duplicate candidates, and the files the secret scan reads (every file when `deep`,
    else the candidate names). Within `budget` (None: no limit), in that order."""
    img = reads.img
    tree = img.tree
    pairs: list[tuple[int, int]] = []
    reclaimable(tree, reads.pairs_to_compare(pairs), prov)
    path_of = PathCache(tree)
    files = [n for n in range(1, len(tree)) if tree.kind[n] == EntryKind.FILE and tree.size[n]]
    scan = files if deep else [n for n in files if is_candidate(path_of(n))]
    hashes = [n for pair in pairs for n in pair] + [n for _, nodes in candidates for n in nodes]
    out = Scanned()
    db_paths, dists = database_files(tree)
    by_path = _bounded(tree, [n for n in files if path_kind(path_of(n)) is not None])
    keep = [*db_paths.values(), *by_path]
    if budget is not None:
        keep, hashes, scan = _within(tree, keep, hashes, scan, budget, out, path_of)
        reads.left = 0  # what the pass did not read is not read one by one later
        if out.not_scanned:
            reads.notes.append("content read budget exhausted: some files were not read")

    def scanned(node: int, data: bytes, got: list[Match]) -> None:
        out.matches[content_key(tree, node)] = got
        if got:
            out.digests[node] = _digests(data)

    batch = BatchScan(scanned)  # the prefilter searches many files at once

    def found(node: int, data: bytes) -> None:
        batch.add(node, path_of(node), data)

    result = content_pass(img, reads.hasher, hashes, scan, found, scan_max, cancel, keep, progress)
    batch.flush()
    out.owners = owners_from(img, db_paths, dists, result.kept)
    for node in by_path:
        if node in result.kept:
            out.digests[node] = _digests(result.kept[node])
    out.bytes_read += result.bytes_read
    reads.used += result.bytes_read
    reads.notes.extend(result.notes)
    out.not_scanned += [(path_of(n), why) for n, why in result.not_scanned]
    return out


KEEP_ONE, KEEP_ALL = 1 << 20, 64 << 20  # key files held whole to verify against packages


def _bounded(tree: FileTree, nodes: list[int]) -> list[int]:
    """Files secret by their path (keys, keystores) are held whole to be checked against
    their package's digest: small ones only, and a bounded total."""
    out, total = [], 0
    for n in nodes:
        size = tree.size[n]
        if size <= KEEP_ONE and total + size <= KEEP_ALL:
            total += size
            out.append(n)
    return out


def _within(
    tree: FileTree,
    keep: list[int],
    hashes: list[int],
    scan: list[int],
    budget: int,
    out: Scanned,
    path_of: PathCache,
) -> tuple[list[int], list[int], list[int]]:
    """The files to keep, hash and scan that fit in `budget` bytes, in that order (package
    databases first; waste pairs, duplicates biggest first; secret candidates first)."""
    sizes = tree.size
    left = budget
    kept_k: list[int] = []
    for n in keep:
        if sizes[n] <= left:
            left -= sizes[n]
            kept_k.append(n)
    kept_h: list[int] = []
    for n in dict.fromkeys(hashes):
        if sizes[n] <= left:
            left -= sizes[n]
            kept_h.append(n)
    kept_s: list[int] = []
    for n in sorted(scan, key=lambda n: not is_candidate(path_of(n))):
        if sizes[n] <= left:
            left -= sizes[n]
            kept_s.append(n)
        else:
            out.not_scanned.append((path_of(n), "read budget"))
    return kept_k, kept_h, kept_s


def shipped(found: list[SecretFinding], scanned: Scanned) -> list[SecretFinding]:
    """Findings in files a package installed and nobody changed, marked `shipped_by`: the
    file's digest (taken in the one read) equals the one its package recorded."""
    fo = scanned.owners
    if fo is None:
        return found
    out = []
    for f in found:
        rec = fo.record(f.location) if f.source == "file" else None
        have = scanned.digests.get(f.node) if f.node is not None else None
        if rec is not None and rec.algo and have is not None and have.get(rec.algo) == rec.digest:
            pkg = rec.package
            f = dataclasses.replace(f, shipped_by=f"{pkg.name} {pkg.version} ({pkg.manager})")
        out.append(f)
    return out
