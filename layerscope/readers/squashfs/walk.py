"""The listing loop: directory table + inode table -> LayerColumns.

This is the hot path of every squashfs/SIF load, so it is written for speed: one call per
directory, everything its loop touches bound to locals, one `unpack_from` per inode on the
fully inflated tables, each attribute appended straight to its column (no Entry, no full
path per entry: the parent is the row of the directory being listed); only inodes other
than a basic file (directories, links, devices...: a few percent of most images) cost a
call of their own. Directories are walked iteratively
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
from typing import NoReturn

from layerscope.errors import CorruptImageError
from layerscope.limits import PathCap, exceeded
from layerscope.model.columns import LayerColumns
from layerscope.model.entry import EntryKind
from layerscope.readers.base import Cancel
from layerscope.readers.squashfs.format import (
    DIR,
    DIR_HEADER,
    FILE,
    I_DIR,
    I_XDIR,
    MAX_DIR_COUNT,
    NO_INDEX,
    SYMLINK,
    U32,
    W_DIR,
    W_DIR_ENTRY,
    W_FILE,
    W_IPC,
    W_PAIR,
    W_XDEV,
    W_XDIR,
    W_XFILE,
    XDIR,
    XFILE,
    XSYMLINK,
    Table,
)

_MAX_SIZE = (1 << 63) - 1  # what the model's size column holds (a u64 on disk)

XattrLookup = Callable[[int], "dict[str, bytes] | None"]
# A directory still to list: (its row, its path, listing start, listing end in dtab)
Pending = tuple[int, str, int, int]
# What inode() decodes: mode, uid index, gid index, mtime, size, kind
Inode = tuple[int, int, int, int, int, EntryKind]
Handler = Callable[[int, int, str, str], Inode]  # (inode position, row, prefix, name)
DOTS = (b".", b"..")

_DEVICES = frozenset({4, 5, 11, 12})  # block, char; extended: + 7
_IPC = frozenset({6, 7, 13, 14})  # fifo, socket; extended: + 7
# indexed by inode type, basic (1-7) and extended (8-14); slot 0 is never used
_KIND_BY_TYPE: tuple[EntryKind, ...] = (
    EntryKind.FILE,
    *(EntryKind.DIR, EntryKind.FILE, EntryKind.SYMLINK, EntryKind.BLOCK, EntryKind.CHAR,
      EntryKind.FIFO, EntryKind.SOCKET) * 2,
)  # fmt: skip


class Tables:
    """The inflated tables the walk needs, plus what to call errors."""

    def __init__(
        self,
        itab: Table,
        imap: Mapping[int, int],
        dtab: Table,
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
        xi = NO_INDEX
        if rtype == DIR:
            _, mode, u, g, mtime, _, blk, _, size, off, _ = I_DIR.unpack_from(t.itab, root_pos)
        elif rtype == XDIR:
            _, mode, u, g, mtime, _, _, size, blk, _, _, off, xi = I_XDIR.unpack_from(
                t.itab, root_pos
            )
        else:
            raise CorruptImageError(f"{t.where}: root inode is not a directory (type {rtype})")
        start = t.dmap[blk] + off
        uid, gid = t.ids[u], t.ids[g]
    except (IndexError, KeyError, struct.error) as e:
        raise CorruptImageError(f"{t.where}: bad root inode reference ({e})") from e
    cols = LayerColumns()
    # The root's own attributes, as unsquashfs lists them (its first line) and the kernel
    # mounts them: row 0 is the root.
    cols.mode[0], cols.uid[0], cols.gid[0], cols.mtime[0] = mode & 0o7777, uid, gid, mtime
    if xi != NO_INDEX:
        found = t.xattrs(xi)
        if found:
            cols.xattrs[0] = found
    if size > 3:
        pending: list[Pending] = [(0, "", start, start + size - 3)]
        _Walk(t, cols, {root_pos}, max_entries, structural).run(pending, cancel)
    return cols


def _too_many(where: str, max_entries: int, structural: int) -> Exception:
    if max_entries <= structural:
        return exceeded(f"{where}: more than {max_entries} entries", "max_entries")
    return CorruptImageError(
        f"{where}: directory listings yield more than the {structural} entries "
        "the directory table can hold (listings shared or walked twice)"
    )


class _Walk:
    """One walk's state. list_dir() is the hot loop: one call per directory, the usual entry
    (a basic file inode) decoded inline; every other inode costs one call, to the handler
    its type selects in `by_type`."""

    __slots__ = ("by_type", "cap_count", "cols", "dmap", "itab", "max_entries", "paths",
                 "prefix", "structural", "subdirs", "t", "target_of", "visited",
                 "where")  # fmt: skip

    def __init__(
        self, t: Tables, cols: LayerColumns, visited: set[int], max_entries: int, structural: int
    ) -> None:
        self.t, self.cols, self.visited = t, cols, visited
        self.itab, self.dmap, self.where = t.itab, t.dmap, t.where
        self.max_entries, self.structural = max_entries, structural
        self.cap_count = min(max_entries, structural)
        self.paths = PathCap()
        # One decoded target per symlink inode, however many entries link to it (memory
        # would otherwise grow with entries x target length).
        self.target_of: dict[int, str] = {}
        self.subdirs: list[Pending] = []
        self.prefix = "/"
        # The type is a u16 whose high byte real images leave 0: indexed by its low byte.
        handlers: list[Handler] = [self._unknown] * 256
        for itype in (DIR, XDIR):
            handlers[itype] = self._dir
        for itype in (SYMLINK, XSYMLINK):
            handlers[itype] = self._symlink
        handlers[XFILE] = self._xfile
        for itype in _DEVICES:
            handlers[itype] = self._device
        for itype in _IPC:
            handlers[itype] = self._ipc
        self.by_type = tuple(handlers)

    def run(self, stack: list[Pending], cancel: Cancel | None) -> None:
        try:
            while stack:
                if cancel is not None and cancel():
                    return
                # Pending directories keep their parent's prefix (one shared string) and
                # their own name, not a full path each: 100,000 subdirectories of a directory
                # with a 60 KiB path would otherwise hold 6 GB of paths until walked.
                drow, dpath, p, end = stack.pop()
                self.prefix = f"{dpath}/"
                self.subdirs = []
                self.list_dir(drow, self.prefix, p, end)
                stack.extend(reversed(self.subdirs))
        except (IndexError, KeyError, struct.error) as e:
            raise CorruptImageError(f"{self.where}: bad reference near {self.prefix} ({e})") from e

    def list_dir(self, drow: int, prefix: str, p: int, end: int) -> None:
        """Append the entries of the listing at dtab[p:end] (directory row `drow`)."""
        t, cols = self.t, self.cols
        itab, imap, dtab, ids, by_type = t.itab, t.imap, t.dtab, t.ids, self.by_type
        hdr, dent, w_file = DIR_HEADER.unpack_from, W_DIR_ENTRY.unpack_from, W_FILE.unpack_from
        add_parent, add_name, add_kind = cols.parent.append, cols.name.append, cols.kind.append
        add_mode, add_uid, add_gid = cols.mode.append, cols.uid.append, cols.gid.append
        add_size, add_mtime, add_loc = cols.size.append, cols.mtime.append, cols.loc.append
        k_file, basic_file = EntryKind.FILE, FILE
        room = self.paths.quick - len(prefix)  # names longer than this need a path check
        row = first = len(cols.name)
        last = b""
        while p < end:
            n, iblock, _ = hdr(dtab, p)
            p += 12
            n = self._count(n + 1, row)
            ibase, refbase = imap[iblock], iblock << 16
            for _ in range(n):
                ioff, nlen = dent(dtab, p)
                q = p + 9 + nlen
                raw = dtab[p + 8 : q]
                p = q
                # Sorted (strcmp) and unique: a name not above the last is a duplicate or out
                # of order. 47 is "/" (an int test beats b"/" in raw); a name cut off at the
                # table's end is caught once, after the loop.
                if raw <= last or 47 in raw or (nlen < 2 and raw in DOTS):
                    _bad_name(t.where, prefix, raw, last)
                last = raw
                # Interned: images repeat names (a str is ~50 bytes). Strict decoding is the
                # cheaper call and fails only on the rare name that is not UTF-8.
                try:
                    name = intern(raw.decode())
                except UnicodeDecodeError:
                    name = intern(raw.decode("utf-8", "surrogateescape"))
                if nlen >= room:  # len(name) <= nlen + 1: a cheap, safe bound
                    self.paths.check(prefix + name, t.where)
                ipos = ibase + ioff
                itype = itab[ipos]
                if itype == basic_file:  # one link: no hard-link identity, no xattrs
                    mode, u, g, mtime, _, size = w_file(itab, ipos)
                    kind = k_file
                else:
                    mode, u, g, mtime, size, kind = by_type[itype](ipos, row, prefix, name)
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
            raise CorruptImageError(f"{t.where}: listing of {prefix} overruns its size")
        if p > len(dtab):  # p only grows: a name ran past the table's end
            raise CorruptImageError(f"{t.where}: listing of {prefix} is cut off")
        cols.spans.append((drow, first, row))

    def _count(self, n: int, row: int) -> int:
        """A directory header's entry count, checked against the format and the caps."""
        if n > MAX_DIR_COUNT:
            raise CorruptImageError(f"{self.where}: directory header with {n} entries")
        if row + n > self.cap_count:
            raise _too_many(self.where, self.max_entries, self.structural)
        return n

    # Handlers: (mode, uid index, gid index, mtime, size, kind) of one inode type; what
    # else the inode holds goes to its column (link targets, devices, identities, xattrs).

    def _dir(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        itab = self.itab
        if itab[ipos] == DIR:
            mode, u, g, mtime, _, blk, dsize, off = W_DIR.unpack_from(itab, ipos)
        else:
            mode, u, g, mtime, _, dsize, blk, off, xi = W_XDIR.unpack_from(itab, ipos)
            self._xattrs(xi, row)
        if ipos in self.visited:
            raise CorruptImageError(f"{self.where}: directory loop at {prefix}{name}")
        self.visited.add(ipos)
        if dsize > 3:
            start = self.dmap[blk] + off
            self.subdirs.append((row, prefix + name, start, start + dsize - 3))
        self.cols.dirs.append(row)
        return mode, u, g, mtime, 0, EntryKind.DIR

    def _symlink(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        itab, cols = self.itab, self.cols
        mode, u, g, mtime, ino, size = W_PAIR.unpack_from(itab, ipos)
        tpos = ipos + 24
        target = self.target_of.get(ipos)
        if target is None:
            traw = itab[tpos : tpos + size]
            if len(traw) != size:
                raise CorruptImageError(f"{self.where}: symlink target of {prefix}{name} cut off")
            target = self.target_of[ipos] = traw.decode("utf-8", "surrogateescape")
        cols.target[row] = target
        cols.ino[row] = ino
        if itab[ipos] == XSYMLINK:
            self._xattrs(U32.unpack_from(itab, tpos + size)[0], row)
        return mode, u, g, mtime, size, EntryKind.SYMLINK

    def _xfile(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        mode, u, g, mtime, ino, size, xi = W_XFILE.unpack_from(self.itab, ipos)
        if size > _MAX_SIZE:
            raise CorruptImageError(f"{self.where}: {prefix}{name}: file size {size}")
        self.cols.ino[row] = ino
        self._xattrs(xi, row)
        return mode, u, g, mtime, size, EntryKind.FILE

    def _device(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        itype = self.itab[ipos]
        if itype > XDIR:
            mode, u, g, mtime, ino, dev, xi = W_XDEV.unpack_from(self.itab, ipos)
            self._xattrs(xi, row)
        else:
            mode, u, g, mtime, ino, dev = W_PAIR.unpack_from(self.itab, ipos)
        self.cols.rdev[row] = ((dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00))
        self.cols.ino[row] = ino
        return mode, u, g, mtime, 0, _KIND_BY_TYPE[itype]

    def _ipc(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        itype = self.itab[ipos]
        mode, u, g, mtime, ino = W_IPC.unpack_from(self.itab, ipos)
        if itype > XDIR:
            self._xattrs(U32.unpack_from(self.itab, ipos + 20)[0], row)
        self.cols.ino[row] = ino
        return mode, u, g, mtime, 0, _KIND_BY_TYPE[itype]

    def _unknown(self, ipos: int, row: int, prefix: str, name: str) -> Inode:
        itype = self.itab[ipos]
        raise CorruptImageError(f"{self.where}: unknown inode type {itype} at {prefix}{name}")

    def _xattrs(self, index: int, row: int) -> None:
        if index != NO_INDEX:
            found = self.t.xattrs(index)
            if found:
                self.cols.xattrs[row] = found


def _bad_name(where: str, prefix: str, raw: bytes, last: bytes) -> NoReturn:
    if raw and last and raw <= last:
        # unsquashfs refuses such a listing too ("duplicate names or is unsorted"). Two
        # entries of one name (squashfs-tools-ng's pathtraversal image: a symlink
        # DIR -> /tmp beside a directory DIR) have no one right reading: the kernel's
        # lookup finds one of them, a tree holds one name once, and showing either alone
        # hides the other.
        what = "twice" if raw == last else f"after {_shown(last)} (names are sorted)"
        raise CorruptImageError(f"{where}: directory {prefix} lists {_shown(raw)} {what}")
    raise CorruptImageError(f"{where}: bad name {_shown(raw)} in {prefix}")


def _shown(raw: bytes) -> str:
    return repr(raw.decode("utf-8", "surrogateescape"))
