"""What made a step big: the largest contributors to what it added, by directory and by
package, and the caches and secrets among the files it added (no UI here).

    doc = contributors(before, after)     # two states of one image, or two stages

Everything but two things is metadata: the comparison of the trees is by type, size,
mode, owner (model.growth's), directories are ranked by how much their rolled-up size
(hard links once, as `du` counts) changed, caches are matched by path (model.bloat.junk's
directory rules) and secrets by file name (model.bloat.secret_rules.path_kind). The two
reads are small: the package databases of the `after` tree (engine.owners, to say which
package owns each new file) and, for secrets by content, the added files whose names make
them worth reading (`is_candidate`: .npmrc, *.pem, .env...), at most CONTENT_FILES files of
at most CONTENT_BYTES each.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from layerscope.engine.image import Image
from layerscope.engine.owners import owners, read_files
from layerscope.errors import Cancelled
from layerscope.model.bloat.junk import CATEGORY, classify
from layerscope.model.bloat.secret_rules import is_candidate, path_kind
from layerscope.model.bloat.secrets import scan_file
from layerscope.model.diff import diff_trees
from layerscope.model.entry import EntryKind
from layerscope.model.growth import METADATA_COMPARE, Growth, diff_growth
from layerscope.model.tree import FileTree

__all__ = ["Contributors", "DirGrowth", "PackageGrowth", "contributors"]

TOP = 12  # rows per list
PASS_THROUGH = 0.9  # a directory whose one subdirectory holds this much of its growth
CONTENT_FILES = 500  # added files read for secrets by content, at most
CONTENT_BYTES = 1 << 20  # and each at most this big
CANCEL_EVERY = 4096


@dataclass(slots=True, frozen=True)
class DirGrowth:
    path: str
    net: int  # its rolled-up size after minus before (hard links once)


@dataclass(slots=True, frozen=True)
class PackageGrowth:
    manager: str  # dpkg, apk, rpm, python, conda; "" for files no database lists
    name: str
    version: str
    env: str
    bytes: int  # added files' bytes plus modified files' size changes, an inode once
    files: int


@dataclass(slots=True, frozen=True)
class CacheAdded:
    cls: str
    category: str  # cache, junk or slimming (model.bloat.junk)
    path: str  # the cache directory (or file) as its rule names it
    bytes: int
    files: int


@dataclass(slots=True, frozen=True)
class SecretAdded:
    path: str
    kind: str
    how: str  # "name" (the path says it) or "content" (a pattern in its bytes)
    detail: str = ""  # redacted (model.bloat.secret_rules)
    line: int = 0


@dataclass(slots=True)
class Contributors:
    growth: Growth
    added_files: int
    grew: list[DirGrowth] = field(default_factory=list)
    shrank: list[DirGrowth] = field(default_factory=list)
    packages: list[PackageGrowth] = field(default_factory=list)
    package_count: int = 0  # packages with a share (the list is the top ones)
    no_package: PackageGrowth | None = None
    package_problems: list[str] = field(default_factory=list)
    caches: list[CacheAdded] = field(default_factory=list)
    secrets: list[SecretAdded] = field(default_factory=list)
    content_read: int = 0  # files read for secrets by content
    content_skipped: int = 0  # candidates left unread (over the limits)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def contributors(
    before: Image, after: Image, cancel: threading.Event | None = None
) -> Contributors:
    """The contributors to what `after` changed over `before` (an empty tree: everything)."""
    bt, at = before.tree, after.tree
    if len(bt) == 1:
        added = list(_live_paths(at))
        removed: list[tuple[str, int]] = []
        pairs: list[tuple[str, int, int]] = []
    else:
        d = diff_trees(bt, at, METADATA_COMPARE)
        added, removed = d.added, d.removed
        pairs = [(m.path, m.old, m.new) for m in d.modified]
    _check(cancel)
    growth = diff_growth(bt, at, (n for _, n in added), (n for _, n in removed),
                         ((o, n) for _, o, n in pairs))  # fmt: skip
    # files that bring bytes: new ones, and rewritten ones (their size change)
    grown: list[tuple[str, int, int]] = []  # (path, node in `after`, bytes it brings)
    seen: set[int] = set()
    kinds, sizes, groups = at.kind, at.size, at.link_group
    file_kind = EntryKind.FILE
    # rewrites first: a new name of a rewritten inode brings nothing more
    for path, old, node in pairs:
        if kinds[node] != file_kind or not _first(groups, node, seen):
            continue
        was = bt.size[old] if bt.kind[old] == file_kind else 0
        if sizes[node] != was:
            grown.append((path, node, sizes[node] - was))
    new = {n for _, n in added}
    kept = _kept_elsewhere(at, new)
    for path, node in added:
        if kinds[node] == file_kind and node not in kept and _first(groups, node, seen):
            grown.append((path, node, sizes[node]))
    out = Contributors(growth, added_files=sum(1 for _, n in added if kinds[n] == file_kind))
    _check(cancel)
    out.grew, out.shrank = _directories(bt, at, added, removed, pairs)
    _check(cancel)
    _packages(after, grown, out)
    _check(cancel)
    out.caches = _caches(at, [(p, n) for p, n, _ in grown if n in new])
    _secrets(after, grown, out, cancel)
    return out


def _live_paths(tree: FileTree) -> Iterator[tuple[str, int]]:
    for node, path in tree.walk_paths():
        yield path, node


def _kept_elsewhere(tree: FileTree, new: set[int]) -> set[int]:
    """New names of contents that a name the step did not add still holds (a hard link
    to a file of an earlier layer): they bring no bytes, as model.growth counts them."""
    groups = tree.link_group
    if not groups:
        return set()
    members: dict[int, list[int]] = {}
    for n, g in groups.items():
        members.setdefault(g, []).append(n)
    out: set[int] = set()
    for node in new:
        group = groups.get(node)
        if group is not None and any(
            m not in new and tree.is_live(m) for m in members.get(group, ())
        ):
            out.add(node)
    return out


def _first(groups: dict[int, int], node: int, seen: set[int]) -> bool:
    """Whether this is the first name of its inode met (hard links count once)."""
    group = groups.get(node) if groups else None
    if group is None:
        return True
    if group in seen:
        return False
    seen.add(group)
    return True


# -- directories -------------------------------------------------------------------------


def _directories(
    bt: FileTree,
    at: FileTree,
    added: list[tuple[str, int]],
    removed: list[tuple[str, int]],
    pairs: list[tuple[str, int, int]],
) -> tuple[list[DirGrowth], list[DirGrowth]]:
    """Directories ranked by growth (and by shrinkage), each one's net from the rolled-up
    sizes of both trees. A directory whose growth is nearly all one subdirectory's is left
    out for that subdirectory (so /usr does not hide /usr/lib/python3)."""
    dirs: set[str] = set()
    for path, _ in added:
        dirs.add(path.rpartition("/")[0])
    for path, _ in removed:
        dirs.add(path.rpartition("/")[0])
    for path, _, _ in pairs:
        dirs.add(path.rpartition("/")[0])
    for path, node in added:
        if at.kind[node] == EntryKind.DIR:
            dirs.add(path)
    for path, node in removed:
        if bt.kind[node] == EntryKind.DIR:
            dirs.add(path)
    # every ancestor too (a parent is reached from its deepest changed child)
    for d in list(dirs):
        while d:
            d = d.rpartition("/")[0]
            if d in dirs:
                break
            dirs.add(d)
    dirs.discard("")
    net: dict[str, int] = {}
    for d in dirs:
        a, b = at.lookup(d), bt.lookup(d)
        grew = at.rolled_size(a) if a is not None and at.is_dir(a) else 0
        had = bt.rolled_size(b) if b is not None and bt.is_dir(b) else 0
        if grew != had:
            net[d] = grew - had
    # the biggest share a subdirectory has, per sign
    best_child: dict[str, int] = {}
    for d, n in net.items():
        parent = d.rpartition("/")[0]
        same_sign = parent in net and (net[parent] > 0) == (n > 0)
        if same_sign and abs(n) > abs(best_child.get(parent, 0)):
            best_child[parent] = n
    kept = [
        DirGrowth(d, n) for d, n in net.items() if abs(best_child.get(d, 0)) < PASS_THROUGH * abs(n)
    ]
    grew_most = sorted((g for g in kept if g.net > 0), key=lambda g: (-g.net, g.path))[:TOP]
    shrank_most = sorted((g for g in kept if g.net < 0), key=lambda g: (g.net, g.path))[:TOP]
    return grew_most, shrank_most


# -- packages ----------------------------------------------------------------------------


def _packages(after: Image, grown: list[tuple[str, int, int]], out: Contributors) -> None:
    fo = owners(after)
    out.package_problems = list(fo.problems)
    shares: dict[tuple[str, str, str, str], list[int]] = {}
    for path, _, size in grown:
        rec = fo.record(path)
        if rec is None:
            key = ("", "", "", "")
        else:
            p = rec.package
            key = (p.manager, p.name, p.version, p.env)
        share = shares.setdefault(key, [0, 0])
        share[0] += size
        share[1] += 1
    rows = [PackageGrowth(m, n, v, e, b, f) for (m, n, v, e), (b, f) in shares.items()]
    out.no_package = next((r for r in rows if not r.manager), None)
    owned = sorted((r for r in rows if r.manager), key=lambda r: (-r.bytes, r.name))
    out.package_count = len(owned)
    out.packages = owned[:TOP]


# -- caches and secrets ------------------------------------------------------------------


def _caches(at: FileTree, files: list[tuple[str, int]]) -> list[CacheAdded]:
    """The added files that sit in a cache (junk, slimming) directory, per directory."""
    top_of: dict[str, tuple[str, str] | None] = {"": None}

    def top(d: str) -> tuple[str, str] | None:
        # the outermost directory a rule names, memoised per directory
        got = top_of.get(d, ())
        if got != ():
            return got  # type: ignore[return-value]
        parent = d.rpartition("/")[0]
        above = top(parent)
        if above is None:
            cls = classify(d)
            above = (cls, d) if cls is not None else None
        top_of[d] = above
        return above

    found: dict[tuple[str, str], list[int]] = {}
    for path, node in files:
        got = top(path.rpartition("/")[0])
        if got is None:
            cls = classify(path)  # a file by its own name (core dumps)
            if cls is None:
                continue
            got = (cls, path)
        share = found.setdefault(got, [0, 0])
        share[0] += at.size[node]
        share[1] += 1
    rows = [CacheAdded(c, CATEGORY.get(c, "cache"), p, b, f) for (c, p), (b, f) in found.items()]
    rows.sort(key=lambda r: (-r.bytes, r.path))
    return rows


def _secrets(
    after: Image,
    grown: list[tuple[str, int, int]],
    out: Contributors,
    cancel: threading.Event | None,
) -> None:
    """Secrets by name in every added or rewritten file; by content in the few whose
    names make them candidates."""
    candidates: list[tuple[str, int]] = []
    for path, node, _ in grown:
        kind = path_kind(path)
        if kind is not None:
            out.secrets.append(SecretAdded(path, kind, "name"))
        elif is_candidate(path):
            candidates.append((path, node))
    tree = after.tree
    readable = [(p, n) for p, n in candidates if tree.size[n] <= CONTENT_BYTES]
    out.content_skipped = len(candidates) - min(len(readable), CONTENT_FILES)
    readable = readable[:CONTENT_FILES]
    _check(cancel)
    data = read_files(after, [n for _, n in readable], CONTENT_BYTES)
    out.content_read = len(data)
    for path, node in readable:
        got = data.get(node)
        if got is None:
            continue
        for m in scan_file(path, got):
            out.secrets.append(SecretAdded(path, m.kind, "content", m.detail, m.line))
    out.secrets.sort(key=lambda s: (s.path, s.line))
