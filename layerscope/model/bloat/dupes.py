"""Duplicate content in the final tree: the same bytes under different paths.

Candidates are grouped by size first; only sizes shared by two or more distinct inodes are
hashed (the digest is a caller-supplied function: hashing is I/O). Hard links are one
inode, never duplicates of each other. Biggest sizes are hashed first, so a caller that
stops hashing (a read budget) loses the smallest savings.

Some formats store identical files once whatever the tree says (mksquashfs deduplicates
by default: `/usr/bin/git` and `/usr/lib/git-core/git` share one run of data blocks). A
caller that can tell where each file's bytes are stored (`stored_as`) gets, per set, how
many copies the image really stores, and `stored_savings`: what it stores twice.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from layerscope.model.bloat.waste import content_key
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree

Digest = Callable[[int], "bytes | None"]
StoredAs = Callable[[int], "Hashable | None"]  # node -> where its bytes are stored


@dataclass(slots=True, frozen=True)
class DuplicateSet:
    size: int  # bytes of one copy
    paths: list[str]  # one path per copy, sorted
    layers: list[int]  # layer holding each copy's bytes, in `paths` order
    savings: int  # what keeping one copy (hard links or one file) would save
    stored: int = 0  # copies the image stores (0: unknown; `len(paths)` for most formats)

    @property
    def stored_savings(self) -> int:
        """Bytes the image stores more than once (savings when `stored` is unknown)."""
        return self.savings if self.stored == 0 else self.size * (self.stored - 1)


@dataclass(slots=True)
class DuplicateReport:
    sets: list[DuplicateSet] = field(default_factory=list)  # biggest savings first
    total_savings: int = 0
    complete: bool = True  # False when the digest gave up on some candidates
    stored_known: bool = False  # the format told where copies are stored (`stored`)

    @property
    def stored_savings(self) -> int:
        """What the image stores twice: total_savings less what the format deduplicated."""
        return sum(s.stored_savings for s in self.sets)


def duplicate_candidates(tree: FileTree, min_size: int = 1) -> list[tuple[int, list[int]]]:
    """(size, nodes) for every size that two or more contents share, biggest first: the
    files find_duplicates hashes, one node per inode, in the order it hashes them."""
    # size -> content key -> first node seen (one representative per inode)
    by_size: dict[int, dict[tuple[int, int], int]] = {}
    for node in tree.walk():
        if tree.kind[node] != EntryKind.FILE:
            continue
        size = tree.size[node]
        if size < max(min_size, 1):
            continue
        by_size.setdefault(size, {}).setdefault(_inode(tree, node), node)
    return [
        (size, list(by_size[size].values()))
        for size in sorted(by_size, reverse=True)
        if len(by_size[size]) >= 2
    ]


def find_duplicates(
    tree: FileTree,
    digest: Digest,
    min_size: int = 1,
    candidates: list[tuple[int, list[int]]] | None = None,
    stored_as: StoredAs | None = None,
) -> DuplicateReport:
    report = DuplicateReport(stored_known=stored_as is not None)
    if candidates is None:
        candidates = duplicate_candidates(tree, min_size)
    for size, reps in candidates:
        groups: dict[bytes, list[int]] = {}
        for node in reps:
            d = digest(node)
            if d is None:
                report.complete = False
                continue
            groups.setdefault(d, []).append(node)
        for nodes in groups.values():
            if len(nodes) < 2:
                continue
            pairs = sorted((tree.path(n), tree.source_layer(n)) for n in nodes)
            stored = 0
            if stored_as is not None:
                places = [stored_as(n) for n in nodes]
                stored = len({p for p in places if p is not None}) + places.count(None)
            report.sets.append(
                DuplicateSet(
                    size=size,
                    paths=[p for p, _ in pairs],
                    layers=[layer for _, layer in pairs],
                    savings=size * (len(nodes) - 1),
                    stored=stored,
                )
            )
    report.sets.sort(key=lambda s: (-s.savings, s.paths[0]))
    report.total_savings = sum(s.savings for s in report.sets)
    return report


def _inode(tree: FileTree, node: int) -> tuple[int, int]:
    group = tree.link_group.get(node)
    if group is not None:
        return (-3, group)
    return content_key(tree, node)
