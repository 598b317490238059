"""The listing loop: directory table + inode table -> LayerColumns.

This is the hot path of every squashfs/SIF load, so it is written for speed: one function,
everything it touches bound to locals, one `unpack_from` per inode on the fully inflated
tables, each attribute appended straight to its column (no Entry, no full path per entry:
the parent is the row of the directory being listed). Directories are walked iteratively
(a stack, not recursion); each directory's children get consecutive rows before any
grandchild, so parents always come before children and FileTree.adopt can index a
directory's children by one slice.

Hostile input is bounded: a directory inode is entered at most once (a reference back into
an ancestor is reported as a loop), every table offset is checked by the slicing/unpacking
that uses it (IndexError, KeyError and struct.error become CorruptImageError at the
boundary), and the number of entries and the length and depth of paths are capped
(layerscope.limits).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from sys import intern

from layerscope.errors import CorruptImageError
from layerscope.limits import PathCap, exceeded
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import EntryKind
from layerscope.readers.base import Cancel
from layerscope.readers.squashfs.format import (
    DIR_HEADER,
    I_DIR,
    I_XDIR,
    MAX_DIR_COUNT,
    NO_INDEX,
    U32,
    W_DIR,
    W_DIR_ENTRY,
    W_FILE,
    W_IPC,
    W_PAIR,
    W_XDEV,
    W_XDIR,
    W_XFILE,
)

_MAX_SIZE = (1 << 63) - 1  # what the model's size column holds (a u64 on disk)

XattrLookup = Callable[[int], "dict[str, bytes] | None"]

# indexed by basic inode type; slot 0 is never used (type 0 is rejected)
_KIND_BY_TYPE: tuple[EntryKind, ...] = (
    EntryKind.FILE,
    EntryKind.DIR,
    EntryKind.FILE,
    EntryKind.SYMLINK,
    EntryKind.BLOCK,
    EntryKind.CHAR,
    EntryKind.FIFO,
    EntryKind.SOCKET,
)


class Tables:
    """The inflated tables the walk needs, plus what to call errors."""

    def __init__(
        self,
        itab: bytes,
        imap: Mapping[int, int],
        dtab: bytes,
        dmap: Mapping[int, int],
        ids: tuple[int, ...],
        xattrs: XattrLookup,
        where: str,
    ):
        self.itab = itab
        self.imap = imap
        self.dtab = dtab
        self.dmap = dmap
        self.ids = ids
        self.xattrs = xattrs
        self.where = where


def walk(
    t: Tables, root_ref: int, max_entries: int, structural: int, cancel: Cancel | None = None
) -> LayerColumns:
    """Every entry below the root directory, as columns (row 0 is the root).

    More than `max_entries` (limits.max_entries) is a LimitExceededError; more than
    `structural` (what the directory table can hold) means listings are walked twice.
    `cancel` is polled between directories; when it returns True the walk stops early
    and returns what it has (the caller raises its own cancellation)."""
    try:
        root_pos = t.imap[root_ref >> 16] + (root_ref & 0xFFFF)
        rtype = t.itab[root_pos]
        if rtype == 1:
            _, _, _, _, _, _, blk, _, size, off, _ = I_DIR.unpack_from(t.itab, root_pos)
        elif rtype == 8:
            _, _, _, _, _, _, _, size, blk, _, _, off, _ = I_XDIR.unpack_from(t.itab, root_pos)
        else:
            raise CorruptImageError(f"{t.where}: root inode is not a directory (type {rtype})")
        start = t.dmap[blk] + off
    except (IndexError, KeyError, struct.error) as e:
        raise CorruptImageError(f"{t.where}: bad root inode reference ({e})") from e
    cols = LayerColumns()
    if size > 3:
        _walk(t, cols, [(0, "", start, start + size - 3)], {root_pos}, max_entries, structural,
              cancel)  # fmt: skip
    return cols


def _too_many(where: str, max_entries: int, structural: int) -> Exception:
    if max_entries <= structural:
        return exceeded(f"{where}: more than {max_entries} entries", "max_entries")
    return CorruptImageError(
        f"{where}: directory listings yield more than the {structural} entries "
        "the directory table can hold (listings shared or walked twice)"
    )


def _walk(
    t: Tables,
    cols: LayerColumns,
    stack: list[tuple[int, str, int, int]],
    visited: set[int],
    max_entries: int,
    structural: int,
    cancel: Cancel | None,
) -> None:
    itab, imap, dtab, dmap, ids, xattrs = t.itab, t.imap, t.dtab, t.dmap, t.ids, t.xattrs
    hdr, dent = DIR_HEADER.unpack_from, W_DIR_ENTRY.unpack_from
    w_file, w_xfile, w_dir, w_xdir = (
        W_FILE.unpack_from,
        W_XFILE.unpack_from,
        W_DIR.unpack_from,
        W_XDIR.unpack_from,
    )
    w_pair, w_xdev, w_ipc = W_PAIR.unpack_from, W_XDEV.unpack_from, W_IPC.unpack_from
    u32 = U32.unpack_from
    k_file, k_dir, k_link = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK
    kinds = _KIND_BY_TYPE
    where = t.where
    none = NO_INDEX
    add_parent, add_name, add_kind = cols.parent.append, cols.name.append, cols.kind.append
    add_mode, add_uid, add_gid = cols.mode.append, cols.uid.append, cols.gid.append
    add_size, add_mtime, add_loc = cols.size.append, cols.mtime.append, cols.loc.append
    add_dir, add_span = cols.dirs.append, cols.spans.append
    targets, rdevs, xattr_rows, inos = cols.target, cols.rdev, cols.xattrs, cols.ino
    row = len(cols.name)
    cap_count = min(max_entries, structural)
    paths = PathCap()
    quick = paths.quick
    # One decoded target per symlink inode, however many entries link to it (memory would
    # otherwise grow with entries x target length).
    target_of: dict[int, str] = {}
    prefix = "/"
    try:
        while stack:
            if cancel is not None and cancel():
                return
            # Pending directories keep their parent's prefix (one shared string) and their
            # own name, not a full path each: 100,000 subdirectories of a directory with a
            # 60 KiB path would otherwise hold 6 GB of paths until they are walked.
            drow, dpath, p, end = stack.pop()
            prefix = f"{dpath}/"
            plen = len(prefix)
            first = row
            subdirs: list[tuple[int, str, int, int]] = []
            while p < end:
                n, iblock, _ = hdr(dtab, p)
                p += 12
                n += 1
                if n > MAX_DIR_COUNT:
                    raise CorruptImageError(f"{where}: directory header with {n} entries")
                if row + n > cap_count:
                    raise _too_many(where, max_entries, structural)
                ibase = imap[iblock]
                refbase = iblock << 16
                for _ in range(n):
                    ioff, nlen = dent(dtab, p)
                    q = p + 9 + nlen
                    raw = dtab[p + 8 : q]
                    p = q
                    # 47 is "/"; an int membership test is far cheaper than b"/" in raw
                    if 47 in raw or len(raw) <= nlen or (nlen < 2 and raw in (b".", b"..")):
                        raise CorruptImageError(f"{where}: bad name {raw!r} in {prefix}")
                    # One str per distinct name, shared by every node that bears it: images
                    # repeat names (__init__.py, LC_MESSAGES...) and a str costs ~50 bytes.
                    name = intern(raw.decode("utf-8", "surrogateescape"))
                    if plen + len(name) > quick:
                        paths.check(prefix + name, where)
                    ipos = ibase + ioff
                    itype = itab[ipos]
                    if itype == 2:
                        # A basic file inode has exactly one link: no hard-link identity.
                        mode, u, g, mtime, _, size = w_file(itab, ipos)
                        kind = k_file
                    elif itype == 1 or itype == 8:
                        if itype == 1:
                            mode, u, g, mtime, _, blk, dsize, off = w_dir(itab, ipos)
                        else:
                            mode, u, g, mtime, _, dsize, blk, off, xi = w_xdir(itab, ipos)
                            if xi != none:
                                _xattrs(xattrs, xi, xattr_rows, row)
                        if ipos in visited:
                            raise CorruptImageError(f"{where}: directory loop at {prefix}{name}")
                        visited.add(ipos)
                        if dsize > 3:
                            start = dmap[blk] + off
                            subdirs.append((row, prefix + name, start, start + dsize - 3))
                        add_dir(row)
                        kind = k_dir
                        size = 0
                    elif itype == 3 or itype == 10:
                        mode, u, g, mtime, ino, size = w_pair(itab, ipos)
                        tpos = ipos + 24
                        target = target_of.get(ipos)
                        if target is None:
                            traw = itab[tpos : tpos + size]
                            if len(traw) != size:
                                raise CorruptImageError(
                                    f"{where}: symlink target of {prefix}{name} cut off"
                                )
                            target = target_of[ipos] = traw.decode("utf-8", "surrogateescape")
                        targets[row] = target
                        inos[row] = ino
                        if itype == 10:
                            (xi,) = u32(itab, tpos + size)
                            if xi != none:
                                _xattrs(xattrs, xi, xattr_rows, row)
                        kind = k_link
                    elif itype == 9:
                        mode, u, g, mtime, ino, size, xi = w_xfile(itab, ipos)
                        if size > _MAX_SIZE:
                            raise CorruptImageError(f"{where}: {prefix}{name}: file size {size}")
                        inos[row] = ino
                        if xi != none:
                            _xattrs(xattrs, xi, xattr_rows, row)
                        kind = k_file
                    elif itype == 4 or itype == 5 or itype == 11 or itype == 12:
                        if itype > 7:
                            mode, u, g, mtime, ino, dev, xi = w_xdev(itab, ipos)
                            if xi != none:
                                _xattrs(xattrs, xi, xattr_rows, row)
                            kind = kinds[itype - 7]
                        else:
                            mode, u, g, mtime, ino, dev = w_pair(itab, ipos)
                            kind = kinds[itype]
                        rdevs[row] = ((dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00))
                        inos[row] = ino
                        size = 0
                    elif itype == 6 or itype == 7 or itype == 13 or itype == 14:
                        mode, u, g, mtime, ino = w_ipc(itab, ipos)
                        if itype > 7:
                            (xi,) = u32(itab, ipos + 20)
                            if xi != none:
                                _xattrs(xattrs, xi, xattr_rows, row)
                            kind = kinds[itype - 7]
                        else:
                            kind = kinds[itype]
                        inos[row] = ino
                        size = 0
                    else:
                        raise CorruptImageError(
                            f"{where}: unknown inode type {itype} at {prefix}{name}"
                        )
                    add_parent(drow)
                    add_name(name)
                    add_kind(kind)
                    add_mode(mode & 0o7777)
                    add_uid(ids[u])
                    add_gid(ids[g])
                    add_size(size)
                    add_mtime(mtime)
                    add_loc(refbase | ioff)
                    row += 1
            if p != end:
                raise CorruptImageError(f"{where}: listing of {prefix} overruns its size")
            add_span((drow, first, row))
            stack.extend(reversed(subdirs))
    except (IndexError, KeyError, struct.error) as e:
        raise CorruptImageError(f"{where}: bad reference near {prefix} ({e})") from e


def _xattrs(lookup: XattrLookup, index: int, rows: dict[int, dict[str, bytes]], row: int) -> None:
    found = lookup(index)
    if found:
        rows[row] = found
