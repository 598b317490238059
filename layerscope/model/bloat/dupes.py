"""Duplicate content in the final tree: the same bytes under different paths.

Candidates are grouped by size first; only sizes shared by two or more distinct inodes are
hashed (the digest is a caller-supplied function: hashing is I/O). Hard links are one
inode, never duplicates of each other. Biggest sizes are hashed first, so a caller that
stops hashing (a read budget) loses the smallest savings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from layerscope.model.bloat.waste import content_key
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree

Digest = Callable[[int], "bytes | None"]


@dataclass(slots=True, frozen=True)
class DuplicateSet:
    size: int  # bytes of one copy
    paths: list[str]  # one path per copy, sorted
    layers: list[int]  # layer holding each copy's bytes, in `paths` order
    savings: int  # what keeping one copy (hard links or one file) would save


@dataclass(slots=True)
class DuplicateReport:
    sets: list[DuplicateSet] = field(default_factory=list)  # biggest savings first
    total_savings: int = 0
    complete: bool = True  # False when the digest gave up on some candidates


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
) -> DuplicateReport:
    report = DuplicateReport()
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
            report.sets.append(
                DuplicateSet(
                    size=size,
                    paths=[p for p, _ in pairs],
                    layers=[layer for _, layer in pairs],
                    savings=size * (len(nodes) - 1),
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
