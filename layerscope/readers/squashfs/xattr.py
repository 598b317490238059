"""Squashfs extended attributes: id table -> key/value sets, out-of-line values resolved.

Inodes store an index into the xattr id table; each id entry points to a run of key/value
pairs in the key/value metadata table. Identical values may be stored once and referenced
("out of line"). Loaded on first use: most images carry no xattrs at all.
"""

from __future__ import annotations

import struct

from layerscope.limits import XattrBudget, xattr_cost
from layerscope.readers.squashfs.format import (
    U32,
    XATTR_ID_TABLE,
    XATTR_KEY,
    XATTR_LOOKUP,
    XATTR_OUT_OF_LINE,
    XATTR_PREFIXES,
    Table,
)
from layerscope.readers.squashfs.meta import Source, first_block, load_table, read_lookup_table

_U64 = struct.Struct("<Q")


class XattrTable:
    def __init__(self, src: Source, table_pos: int | None):
        self._src = src
        self._pos = table_pos
        self._loaded = False
        self._count = 0
        self._ids = b""
        self._kv: Table = b""
        self._kmap: dict[int, int] = {}
        self._cache: dict[int, tuple[dict[str, bytes], int]] = {}
        # Many inodes may share one set: what they are handed out counts, per walk.
        self.budget: XattrBudget | None = None

    def _load(self) -> None:
        src, pos = self._src, self._pos
        if pos is None:
            raise src.corrupt(None, "an inode has xattrs but the image has no xattr table")
        kv_start, count, _ = XATTR_ID_TABLE.unpack(src.pread(pos, XATTR_ID_TABLE.size))
        if count:
            index_pos = pos + XATTR_ID_TABLE.size
            self._ids = read_lookup_table(src, index_pos, count, XATTR_LOOKUP.size, "xattr ids")
            kv_end = first_block(src, index_pos)
            if not kv_start <= kv_end <= src.size:
                raise src.corrupt(pos, "xattr key/value table out of order")
            self._kv, self._kmap = load_table(src, kv_start, kv_end, "xattr table")
        self._count = count
        self._loaded = True

    def get(self, index: int) -> dict[str, bytes] | None:
        """The attributes of xattr id `index` (a fresh dict the caller may keep)."""
        hit = self._cache.get(index)
        if hit is None:
            if not self._loaded:
                self._load()
            if index >= self._count:
                raise self._src.corrupt(self._pos, f"xattr index {index} >= {self._count}")
            attrs = self._parse(index)
            hit = self._cache[index] = (attrs, xattr_cost(attrs))
        if self.budget is not None:
            self.budget.spend(hit[0], hit[1])
        return dict(hit[0])

    def _parse(self, index: int) -> dict[str, bytes]:
        kv, kmap = self._kv, self._kmap
        ref, count, _ = XATTR_LOOKUP.unpack_from(self._ids, index * XATTR_LOOKUP.size)
        pos = kmap[ref >> 16] + (ref & 0xFFFF)
        if count * 8 > len(kv):
            raise self._src.corrupt(self._pos, f"xattr set {index} claims {count} pairs")
        out: dict[str, bytes] = {}
        for _ in range(count):
            kind, nsize = XATTR_KEY.unpack_from(kv, pos)
            pos += 4
            name = kv[pos : pos + nsize]
            pos += nsize
            (vsize,) = U32.unpack_from(kv, pos)
            pos += 4
            if kind & XATTR_OUT_OF_LINE:
                (vref,) = _U64.unpack_from(kv, pos)
                vpos = kmap[vref >> 16] + (vref & 0xFFFF)
                (vsize,) = U32.unpack_from(kv, vpos)
                value = kv[vpos + 4 : vpos + 4 + vsize]
                pos += 8
            else:
                value = kv[pos : pos + vsize]
                pos += vsize
            if len(name) != nsize or len(value) != vsize:
                raise self._src.corrupt(self._pos, f"xattr set {index} runs past its table")
            prefix = XATTR_PREFIXES.get(kind & 0xFF)
            if prefix is None:
                continue  # unknown namespace: skipped, as unsquashfs does
            out[prefix + name.decode("utf-8", "surrogateescape")] = value
        return out
