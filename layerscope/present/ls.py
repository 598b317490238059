"""`ls`: the merged tree as `unsquashfs -lln` lines (text) or entries (JSON, present.entries).

A listing names the path asked for first (`/etc` itself, or `/` for the whole image), then
everything under it in path order. Names and link targets are cleaned (present.text): a
name holding a newline or an escape sequence prints as a visible escape, on its own line.

Each line is laid out as `unsquashfs -lln` prints it: mode, `uid/gid`, the size (or
`major,minor` for a device) right-aligned so that the date starts in column 39, the
modification time in local time (`TZ`, as unsquashfs), the path, ` -> target` for a symlink.
One difference is kept on purpose: a directory's size is the regular-file bytes under it
(`du -s`), where unsquashfs prints the size of the directory's listing.

Lines are formatted column-wise, a batch of entries at a time: each column is looked up
for the whole batch with C-level `map` calls (modes, owners and dates repeat: each
distinct one is formatted once), then one `%` per line and one write per batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, repeat
from operator import floordiv, lshift, or_
from typing import Any, TextIO

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import ROOT, FileTree
from layerscope.present.text import clean

__all__ = ["listing", "listing_batches", "ls_line", "ls_lines", "write_listing"]

_LS_CHARS = [k.ls_char for k in EntryKind]
# plain ints: compared once per entry, and an IntEnum compares slower
_DIR, _SYMLINK = int(EntryKind.DIR), int(EntryKind.SYMLINK)
_DEVICES = (int(EntryKind.CHAR), int(EntryKind.BLOCK))
_BATCH = 8192
# unsquashfs: printf("%s %s/%s ", mode, uid, gid), then the size right-aligned in
# 25 - len(uid) - len(gid) columns (TOTALCHARS), the same for every owner
_TOTALCHARS = 25
_LINE = "%s %*s %s %s"


def listing(tree: FileTree, top: int) -> Iterator[tuple[int, str]]:
    """(node, path) of `top` and, for a directory, everything under it, in path order."""
    yield top, tree.path(top)
    if tree.is_dir(top):
        yield from tree.walk_paths(top)


def listing_batches(
    tree: FileTree, top: int, size: int = _BATCH
) -> Iterator[tuple[list[int], list[str]]]:
    """listing() as (nodes, paths) lists of about `size` entries each: a directory's
    children are sorted, named and pathed as whole lists (C-level calls), and only its
    subdirectories cost a step of their own."""
    nodes, paths = [top], [tree.path(top)]
    if tree.is_dir(top):
        stack = [_frame(tree, top, "" if top == ROOT else paths[0])]
        while stack:
            frame = stack[-1]
            ids, names, dirs, at, start = frame
            if at < len(dirs):
                pos = dirs[at] + 1
                nodes += ids[start:pos]
                paths += names[start:pos]
                frame[3], frame[4] = at + 1, pos
                stack.append(_frame(tree, ids[pos - 1], names[pos - 1]))
            else:
                nodes += ids[start:]
                paths += names[start:]
                stack.pop()
            if len(nodes) >= size:
                yield nodes, paths
                nodes, paths = [], []
    if nodes:
        yield nodes, paths


def _frame(tree: FileTree, directory: int, path: str) -> list[Any]:
    """[child ids, child paths, positions of the subdirectories, next subdirectory, next
    child to emit] of one directory, children in name order."""
    kids = tree.kids(directory)
    if not kids:
        return [[], [], [], 0, 0]
    names = sorted(kids)
    ids = list(map(kids.__getitem__, names))
    dirs = [i for i, k in enumerate(map(tree.kind.__getitem__, ids)) if k == _DIR]
    return [ids, list(map(f"{path}/".__add__, names)), dirs, 0, 0]


class _Stamps(dict[int, str]):
    """time // scale -> "YYYY-MM-DD HH:MM" in local time, each distinct key formatted once.
    By minute (scale 60: images hold many distinct mtimes in few minutes) while the zone's
    offsets are whole minutes; `whole_minutes` turns False at the first that is not (local
    mean time of old dates: Africa/Monrovia was -0:44:30 until 1972) or at a time the C
    library cannot show, and the caller then keys by second (scale 1)."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.whole_minutes = True

    def __missing__(self, key: int) -> str:
        mtime = key * self.scale
        try:
            t = time.localtime(mtime)
            if t.tm_gmtoff % 60:
                self.whole_minutes = False
            # unsquashfs: "%d-%02d-%02d %02d:%02d" (the year unpadded)
            text = f"{t.tm_year}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}"
        except (OverflowError, OSError, ValueError):
            # beyond what the C library can show: as stored (the second, not the minute's)
            self.whole_minutes = False
            text = str(mtime)
        self[key] = text
        return text


class _Heads(dict[int, str]):
    """uid << 52 | gid << 20 | kind << 16 | mode -> "drwxr-xr-x 0/0" (one int key: built
    by C-level maps, hashed faster than a tuple); `widths` the size column's width after
    that owner."""

    def __init__(self) -> None:
        super().__init__()
        self.widths: dict[int, int] = {}

    def __missing__(self, key: int) -> str:
        u, g = str(key >> 52), str((key >> 20) & 0xFFFFFFFF)
        self.widths[key] = max(_TOTALCHARS - len(u) - len(g), 0)
        mode = f"{_LS_CHARS[(key >> 16) & 0xF]}{perm_string(key & 0xFFFF)}"
        text = self[key] = f"{mode} {u}/{g}"
        return text


class _Formatter:
    """One listing's lookups (dates depend on TZ as it is when the listing starts)."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.stamps = _Stamps(60)
        self.exact_stamps = _Stamps(1)
        self.heads = _Heads()
        self.dir_sizes: dict[int, int] | None = None
        # Every path is made of the tree's names: when all of them are plain, no path
        # needs cleaning (one check of the names, not one of every batch's paths).
        names = "".join(tree.name)
        self.plain_names = names.isascii() and names.isprintable()

    def lines(self, nodes: Sequence[int], paths: Sequence[str]) -> list[str]:
        """The lines of one batch, without newlines."""
        tree = self.tree
        kinds = list(map(tree.kind.__getitem__, nodes))
        keys = list(map(tree.mode.__getitem__, nodes))
        special = [i for i, k in enumerate(kinds) if k]  # not a regular file (EntryKind.FILE is 0)
        for i in special:
            keys[i] |= kinds[i] << 16
        if len(special) > 64 and self.dir_sizes is None:
            self.dir_sizes = tree.dir_sizes()  # at once, not directory by directory
        owners = map(
            or_,
            map(lshift, map(tree.uid.__getitem__, nodes), repeat(52)),
            map(lshift, map(tree.gid.__getitem__, nodes), repeat(20)),
        )
        keys = list(map(or_, owners, keys))
        heads = map(self.heads.__getitem__, keys)
        widths = map(self.heads.widths.__getitem__, keys)
        mtimes = list(map(tree.mtime.__getitem__, nodes))
        stamps: Iterable[str] = ()
        if self.stamps.whole_minutes:
            stamps = list(map(self.stamps.__getitem__, map(floordiv, mtimes, repeat(60))))
        if not self.stamps.whole_minutes:  # this batch met an offset of seconds: again
            stamps = map(self.exact_stamps.__getitem__, mtimes)
        sizes: list[int | str] = list(map(tree.size.__getitem__, nodes))
        if self.plain_names:
            shown = list(paths)
        else:
            joined = "".join(paths)
            plain = joined.isascii() and joined.isprintable()
            shown = list(paths) if plain else list(map(clean, paths))
        dir_size = tree.rolled_size if self.dir_sizes is None else self.dir_sizes.get
        for i in special:
            k, node = kinds[i], nodes[i]
            if k == _DIR:
                sizes[i] = dir_size(node) or 0
            elif k == _SYMLINK:
                target = tree.target.get(node)
                if target is not None:
                    shown[i] = f"{shown[i]} -> {clean(target)}"
            elif k in _DEVICES:
                rdev = tree.rdev.get(node)
                if rdev is not None:
                    # unsquashfs: "%*s%3d,%3d" with width - 7 and " ": at least one space
                    owner = len(str(tree.uid[node])) + len(str(tree.gid[node]))
                    width = _TOTALCHARS - owner
                    sizes[i] = " " * max(width - 7, 1) + f"{rdev[0]:3d},{rdev[1]:3d}"
        return list(map(_LINE.__mod__, zip(heads, widths, sizes, stamps, shown, strict=True)))


def write_listing(tree: FileTree, top: int, out: TextIO) -> None:
    """Write the listing of `top` to `out`, one write per batch of entries; stops early
    once `out`'s reader has gone (present.output.closed)."""
    from layerscope.present.output import closed

    fmt = _Formatter(tree)
    for ids, paths in listing_batches(tree, top):
        lines = fmt.lines(ids, paths)
        lines.append("")
        out.write("\n".join(lines))
        if closed():
            return


def ls_lines(tree: FileTree, nodes: Iterable[tuple[int, str]]) -> Iterator[str]:
    """The listing's lines, one at a time (without newlines)."""
    fmt = _Formatter(tree)
    it = iter(nodes)
    while batch := list(islice(it, _BATCH)):
        ids, paths = zip(*batch, strict=True)
        yield from fmt.lines(ids, paths)


def ls_line(tree: FileTree, node: int, path: str) -> str:
    return _Formatter(tree).lines([node], [path])[0]
