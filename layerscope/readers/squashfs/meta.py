"""Reading squashfs bytes: bounded preads and metadata blocks.

Metadata (inodes, directories, ids, fragments, xattrs) is a stream chopped into 8 KiB
blocks, each compressed separately and preceded by a u16 header (bit 15: stored
uncompressed). References are (block position relative to the table << 16 | offset into
the uncompressed block). A whole table is inflated once into one buffer plus a map
{block position: offset in that buffer}, so a reference resolves with one dict lookup.
"""

from __future__ import annotations

import mmap
import os
import struct

from layerscope import limits
from layerscope.errors import CorruptImageError, ReaderError, where
from layerscope.readers.squashfs.codecs import Buffer, DecompressError, Decompressor
from layerscope.readers.squashfs.format import METADATA_SIZE, METADATA_UNCOMPRESSED, Table

_U64 = struct.Struct("<Q")


class Source:
    """A squashfs image inside a file: `size` bytes starting at `base`, read with pread."""

    def __init__(self, fd: int, base: int, size: int, name: str, decompress: Decompressor):
        self.fd = fd
        self.base = base
        self.size = size
        self.name = name
        self.decompress = decompress

    def corrupt(self, offset: int | None, msg: str) -> CorruptImageError:
        """An error naming the absolute file offset of image offset `offset`."""
        return CorruptImageError(
            f"{where(self.name, None if offset is None else self.base + offset)}: {msg}"
        )

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def pread(self, offset: int, length: int) -> bytes:
        if self.fd < 0:  # never pread a closed descriptor: its number may be reused
            raise ReaderError(f"{self.name}: the squashfs reader is closed")
        if offset < 0 or length < 0 or offset + length > self.size:
            raise self.corrupt(offset, f"read of {length} bytes runs past the image end")
        try:
            data = os.pread(self.fd, length, self.base + offset)
        except OSError as e:
            raise self.corrupt(offset, f"cannot read: {e.strerror}") from e
        if len(data) != length:
            raise self.corrupt(offset, "file is truncated")
        return data

    def inflate(self, data: Buffer, limit: int, offset: int, what: str) -> bytes:
        try:
            return self.decompress(data, limit)
        except DecompressError as e:
            raise self.corrupt(offset, f"{what}: {e}") from e


def load_table(
    src: Source, start: int, end: int, what: str, held: int = 0
) -> tuple[Table, dict[int, int]]:
    """Inflate every metadata block in [start, end) into one table.

    Returns the table and {block position relative to start: offset in the table}.
    Memory is bounded before anything is inflated: a block inflates to at most 8 KiB, so
    the block headers bound the table's size, and a table that could take `held` + that
    past limits.max_metadata_bytes is refused at once (a 4 MB image declaring a 1 GiB
    table costs its 4 MB). The blocks are written in place into an anonymous mmap (no
    second copy, as joining them would make; returned to the system whole when dropped),
    then cut to the bytes they held.
    """
    raw = src.pread(start, end - start)
    blocks = _block_spans(src, raw, start, what)
    bound = len(blocks) * METADATA_SIZE
    limit = limits.get("max_metadata_bytes")
    if held + bound > limit:
        beside = f" beside {held} bytes of other tables" if held else ""
        raise limits.exceeded(
            f"{where(src.name, src.base + start)}: {what}: {len(blocks)} metadata blocks "
            f"inflate to up to {bound} bytes{beside}, more than {limit}",
            "max_metadata_bytes",
        )
    if not blocks:
        return b"", {}
    view = memoryview(raw)
    table = mmap.mmap(-1, bound)
    positions: dict[int, int] = {}
    for block in blocks:
        positions[block[0]] = table.tell()
        table.write(_inflate(src, view, block, start, what))
    return _cut(table, table.tell()), positions


def _cut(table: mmap.mmap, size: int) -> Table:
    """`table` cut to its first `size` bytes: the walk finds the table's end by where
    slicing and unpacking stop, so no zero tail may follow it."""
    if size == len(table):
        return table
    if size == 0:
        return b""
    try:
        table.resize(size)  # mremap where there is one: no copy
        return table
    except (OSError, SystemError, ValueError):  # macOS cannot resize an anonymous map
        cut = mmap.mmap(-1, size)
        with memoryview(table) as whole:
            cut.write(whole[:size])
        table.close()
        return cut


def _block_spans(src: Source, raw: bytes, start: int, what: str) -> list[tuple[int, int, bool]]:
    """(offset, stored size, compressed) of each metadata block in `raw`, from their u16
    headers (bit 15 set: stored uncompressed)."""
    spans: list[tuple[int, int, bool]] = []
    limit = len(raw)
    p = 0
    while p < limit:
        if p + 2 > limit:
            raise src.corrupt(start + p, f"{what}: metadata header cut off")
        header = raw[p] | (raw[p + 1] << 8)
        csize = header & 0x7FFF
        if csize == 0 or csize > METADATA_SIZE or p + 2 + csize > limit:
            raise src.corrupt(start + p, f"{what}: bad metadata block size {csize}")
        spans.append((p, csize, not header & METADATA_UNCOMPRESSED))
        p += 2 + csize
    return spans


def _inflate(
    src: Source, view: memoryview, block: tuple[int, int, bool], start: int, what: str
) -> bytes:
    p, csize, compressed = block
    data = view[p + 2 : p + 2 + csize]
    if not compressed:
        return data.tobytes()
    try:
        return src.decompress(data, METADATA_SIZE)
    except DecompressError as e:
        raise src.corrupt(start + p, f"{what}: {e}") from e


def read_block(src: Source, pos: int, what: str) -> tuple[bytes, int]:
    """Read the metadata block at image offset `pos`; return it and the next block's offset."""
    head = src.pread(pos, 2)
    header = head[0] | (head[1] << 8)
    csize = header & 0x7FFF
    if csize == 0 or csize > METADATA_SIZE:
        raise src.corrupt(pos, f"{what}: bad metadata block size {csize}")
    data = src.pread(pos + 2, csize)
    if not header & METADATA_UNCOMPRESSED:
        data = src.inflate(data, METADATA_SIZE, pos, what)
    return data, pos + 2 + csize


def read_lookup_table(src: Source, index_pos: int, count: int, entry_size: int, what: str) -> bytes:
    """Read a lookup table (ids, fragments, xattr ids) of `count` fixed-size entries.

    `index_pos` points to the uncompressed list of u64 block positions.
    """
    need = count * entry_size
    nblocks = -(-need // METADATA_SIZE)
    index = src.pread(index_pos, nblocks * 8)
    parts = []
    for i in range(nblocks):
        (pos,) = _U64.unpack_from(index, i * 8)
        block, _ = read_block(src, pos, what)
        if i < nblocks - 1 and len(block) != METADATA_SIZE:
            raise src.corrupt(pos, f"{what}: short metadata block in a lookup table")
        parts.append(block)
    table = b"".join(parts)
    if len(table) < need:
        raise src.corrupt(index_pos, f"{what}: {len(table)} bytes for {count} entries")
    return table


def first_block(src: Source, index_pos: int) -> int:
    """The position of a lookup table's first metadata block (where the table begins)."""
    (pos,) = _U64.unpack_from(src.pread(index_pos, 8))
    return int(pos)


class MetaReader:
    """Random access to a metadata table whose blocks were not all inflated up front.

    Used by read_content on a reader that never listed: it inflates only the blocks that
    hold the requested inode, keeping a few recent ones.
    """

    _CACHE_BLOCKS = 32

    def __init__(self, src: Source, start: int, end: int, what: str):
        self.src = src
        self.start = start
        self.end = end
        self.what = what
        self._cache: dict[int, tuple[bytes, int]] = {}

    def _block(self, rel: int) -> tuple[bytes, int]:
        hit = self._cache.get(rel)
        if hit is None:
            if not 0 <= rel < self.end - self.start:
                raise self.src.corrupt(self.start, f"{self.what}: reference {rel} outside table")
            data, nxt = read_block(self.src, self.start + rel, self.what)
            if len(self._cache) >= self._CACHE_BLOCKS:
                self._cache.clear()
            hit = self._cache[rel] = (data, nxt - self.start)
        return hit

    def read(self, rel: int, offset: int, length: int) -> bytes:
        """`length` bytes from offset `offset` of the block at `rel`, crossing blocks
        (fewer if the table ends first: the caller checks)."""
        data, nxt = self._block(rel)
        if offset + length <= len(data):  # within one block: most reads
            return data[offset : offset + length]
        if offset > len(data):
            raise self.src.corrupt(self.start + rel, f"{self.what}: offset {offset} past block")
        parts = []
        chunk = data[offset : offset + length]
        parts.append(chunk)
        have = len(chunk)
        while have < length and nxt < self.end - self.start:
            data, nxt2 = self._block(nxt)
            chunk = data[: length - have]
            parts.append(chunk)
            have += len(chunk)
            nxt = nxt2
        return b"".join(parts)
