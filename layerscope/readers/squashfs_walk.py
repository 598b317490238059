"""The listing loop: directory table + inode table -> Entry stream.

This is the hot path of every squashfs/SIF load, so it is written for speed: one function,
everything it touches bound to locals, one `unpack_from` per inode on the fully inflated
tables, the Entry built directly. Directories are walked iteratively (a stack, not
recursion); each directory's children are yielded before any grandchild, so parents always
come before children.

Hostile input is bounded: a directory inode is entered at most once (a reference back into
an ancestor is reported as a loop), every table offset is checked by the slicing/unpacking
that uses it (IndexError, KeyError and struct.error become CorruptImageError at the
boundary), and the number of entries and the length and depth of paths are capped
(layerscope.limits).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping

from layerscope.errors import CorruptImageError
from layerscope.limits import PathCap, exceeded
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.squashfs_format import (
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


def walk(t: Tables, root_ref: int, max_entries: int, structural: int) -> Iterator[Entry]:
    """Yield every entry below the root directory, parents before children.

    More than `max_entries` (limits.max_entries) is a LimitExceededError; more than
    `structural` (what the directory table can hold) means listings are walked twice."""
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
    if size > 3:
        stack = [("", "", start, start + size - 3)]
        yield from _walk(t, stack, {root_pos}, max_entries, structural)


def _too_many(where: str, max_entries: int, structural: int) -> Exception:
    if max_entries <= structural:
        return exceeded(f"{where}: more than {max_entries} entries", "max_entries")
    return CorruptImageError(
        f"{where}: directory listings yield more than the {structural} entries "
        "the directory table can hold (listings shared or walked twice)"
    )


def _walk(
    t: Tables,
    stack: list[tuple[str, str, int, int]],
    visited: set[int],
    max_entries: int,
    structural: int,
) -> Iterator[Entry]:
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
    # Calling Entry(...) with 13 arguments costs 2-3x more than storing its slots here
    # (measured: ~170 ns of a ~900 ns entry). _SLOTS_SET, checked at import, keeps this in
    # step with Entry, and a test checks every slot is set.
    new, cls = object.__new__, Entry
    count = 0
    cap_count = min(max_entries, structural)
    paths = PathCap()
    quick = paths.quick
    targets: dict[int, str] = {}
    path = ""
    try:
        while stack:
            # Pending directories keep their parent's prefix (one shared string) and their
            # own name, not a full path each: 100,000 subdirectories of a directory with a
            # 60 KiB path would otherwise hold 6 GB of paths until they are walked.
            parent, dname, p, end = stack.pop()
            prefix = f"{parent}{dname}/"
            subdirs: list[tuple[str, str, int, int]] = []
            while p < end:
                n, iblock, _ = hdr(dtab, p)
                p += 12
                n += 1
                if n > MAX_DIR_COUNT:
                    raise CorruptImageError(f"{where}: directory header with {n} entries")
                count += n
                if count > cap_count:
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
                    name = raw.decode("utf-8", "surrogateescape")
                    path = prefix + name
                    if len(path) > quick:
                        paths.check(path, where)
                    ipos = ibase + ioff
                    itype = itab[ipos]
                    target = rdev = xa = None
                    if itype == 2:
                        mode, u, g, mtime, ino, size = w_file(itab, ipos)
                        # A basic file inode has exactly one link: no hard-link identity, so
                        # the model need not track it.
                        ino = 0
                        kind = k_file
                    elif itype == 1 or itype == 8:
                        if itype == 1:
                            mode, u, g, mtime, ino, blk, dsize, off = w_dir(itab, ipos)
                        else:
                            mode, u, g, mtime, ino, dsize, blk, off, xi = w_xdir(itab, ipos)
                            xa = xattrs(xi) if xi != none else None
                        if ipos in visited:
                            raise CorruptImageError(f"{where}: directory loop at {path}")
                        visited.add(ipos)
                        if dsize > 3:
                            start = dmap[blk] + off
                            subdirs.append((prefix, name, start, start + dsize - 3))
                        kind = k_dir
                        size = 0
                    elif itype == 3 or itype == 10:
                        mode, u, g, mtime, ino, size = w_pair(itab, ipos)
                        tpos = ipos + 24
                        # One decoded target per inode, however many entries link to it
                        # (memory would otherwise grow with entries x target length).
                        target = targets.get(ipos)
                        if target is None:
                            traw = itab[tpos : tpos + size]
                            if len(traw) != size:
                                raise CorruptImageError(
                                    f"{where}: symlink target of {path} cut off"
                                )
                            target = targets[ipos] = traw.decode("utf-8", "surrogateescape")
                        if itype == 10:
                            (xi,) = u32(itab, tpos + size)
                            xa = xattrs(xi) if xi != none else None
                        kind = k_link
                    elif itype == 9:
                        mode, u, g, mtime, ino, size, xi = w_xfile(itab, ipos)
                        if size > _MAX_SIZE:
                            raise CorruptImageError(f"{where}: {path}: file size {size}")
                        xa = xattrs(xi) if xi != none else None
                        kind = k_file
                    elif itype == 4 or itype == 5 or itype == 11 or itype == 12:
                        if itype > 7:
                            mode, u, g, mtime, ino, dev, xi = w_xdev(itab, ipos)
                            xa = xattrs(xi) if xi != none else None
                            kind = kinds[itype - 7]
                        else:
                            mode, u, g, mtime, ino, dev = w_pair(itab, ipos)
                            kind = kinds[itype]
                        rdev = ((dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00))
                        size = 0
                    elif itype == 6 or itype == 7 or itype == 13 or itype == 14:
                        mode, u, g, mtime, ino = w_ipc(itab, ipos)
                        if itype > 7:
                            (xi,) = u32(itab, ipos + 20)
                            xa = xattrs(xi) if xi != none else None
                            kind = kinds[itype - 7]
                        else:
                            kind = kinds[itype]
                        size = 0
                    else:
                        raise CorruptImageError(f"{where}: unknown inode type {itype} at {path}")
                    ent = new(cls)
                    ent.path = path
                    ent.kind = kind
                    ent.mode = mode & 0o7777
                    ent.uid = ids[u]
                    ent.gid = ids[g]
                    ent.size = size
                    ent.mtime = mtime
                    ent.target = target
                    ent.rdev = rdev
                    ent.xattrs = xa
                    ent.ino = ino
                    ent.hardlink = None
                    ent.loc = refbase | ioff
                    yield ent
            if p != end:
                raise CorruptImageError(f"{where}: listing of {prefix} overruns its size")
            stack.extend(reversed(subdirs))
    except (IndexError, KeyError, struct.error) as e:
        raise CorruptImageError(f"{where}: bad reference near {path or '/'} ({e})") from e


# The slots _walk stores; importing fails loudly if Entry grows a field this module misses.
_SLOTS_SET = frozenset(
    ("path", "kind", "mode", "uid", "gid", "size", "mtime", "target", "rdev", "xattrs", "ino",
     "hardlink", "loc")
)  # fmt: skip
if frozenset(Entry.__slots__) != _SLOTS_SET:  # pragma: no cover
    raise ImportError("squashfs_walk is out of step with model.entry.Entry's slots")
