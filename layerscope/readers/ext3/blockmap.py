"""Logical -> physical block mapping: ext2/3 block maps (direct, indirect, double, triple)
and ext4 extent trees, both produced lazily as runs in logical order.

A run is (logical_block, physical_block, count, uninitialized). Holes are simply absent.
Walking is bounded: block maps have three levels, extent trees at most five, and both stop
at the file's last block, so a hostile tree can neither loop nor be expanded beyond the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from layerscope.readers.ext3.superblock import ExtBad

Run = tuple[int, int, int, bool]
ReadBlock = Callable[[int], bytes]

N_DIRECT = 12
EXTENT_MAGIC = 0xF30A
EXTENT_MAX_DEPTH = 5
EXT_INIT_MAX_LEN = 1 << 15


def blockmap_runs(
    i_block: bytes, nblocks: int, block_size: int, blocks_count: int, read_block: ReadBlock
) -> Iterator[Run]:
    """Runs of an indirect-mapped inode, contiguous pointers merged."""
    per = block_size // 4
    ptrs = struct.unpack("<15I", i_block)
    seen: set[int] = set()  # a map block met twice is a loop or a shared subtree: corrupt

    def check(ptr: int, lblk: int) -> int:
        if ptr >= blocks_count:
            raise ExtBad(f"block pointer {ptr} (file block {lblk}) past the end")
        return ptr

    def walk(ptr: int, level: int, base: int) -> Iterator[tuple[int, int]]:
        if level == 0:
            yield base, check(ptr, base)
            return
        if ptr in seen:
            raise ExtBad(f"indirect block {ptr} appears twice in one block map")
        seen.add(ptr)
        table = struct.unpack(f"<{per}I", read_block(check(ptr, base)))
        span = per ** (level - 1)
        for i, child in enumerate(table):
            lblk = base + i * span
            if lblk >= nblocks:
                return
            if child:
                yield from walk(child, level - 1, lblk)

    def pairs() -> Iterator[tuple[int, int]]:
        for i in range(min(N_DIRECT, nblocks)):
            if ptrs[i]:
                yield i, check(ptrs[i], i)
        base = N_DIRECT
        for level in (1, 2, 3):
            if base >= nblocks:
                return
            if ptrs[N_DIRECT + level - 1]:
                yield from walk(ptrs[N_DIRECT + level - 1], level, base)
            base += per**level

    yield from _merge(pairs())


def _merge(pairs: Iterator[tuple[int, int]]) -> Iterator[Run]:
    cur: list[int] | None = None
    for lblk, pblk in pairs:
        if cur is not None and lblk == cur[0] + cur[2] and pblk == cur[1] + cur[2]:
            cur[2] += 1
            continue
        if cur is not None:
            yield cur[0], cur[1], cur[2], False
        cur = [lblk, pblk, 1]
    if cur is not None:
        yield cur[0], cur[1], cur[2], False


def extent_runs(
    i_block: bytes, nblocks: int, blocks_count: int, read_block: ReadBlock, ino: int
) -> Iterator[Run]:
    """Runs of an extent-mapped inode, in logical order, stopping past `nblocks`."""
    depth = _header(i_block, ino, None)[1]
    yield from _walk_node(i_block, depth, nblocks, blocks_count, read_block, ino, set())


def _header(node: bytes, ino: int, want_depth: int | None) -> tuple[int, int]:
    if len(node) < 12:
        raise ExtBad(f"inode {ino}: extent node too small")
    magic, entries, max_entries, depth = struct.unpack_from("<4H", node, 0)
    if magic != EXTENT_MAGIC:
        raise ExtBad(f"inode {ino}: bad extent header magic {magic:#06x}")
    if entries > max_entries or 12 + 12 * max_entries > len(node):
        raise ExtBad(f"inode {ino}: extent node claims {entries}/{max_entries} entries")
    if depth > EXTENT_MAX_DEPTH or (want_depth is not None and depth != want_depth):
        raise ExtBad(f"inode {ino}: extent tree depth {depth} invalid")
    return entries, depth


def _walk_node(
    node: bytes,
    depth: int,
    nblocks: int,
    blocks_count: int,
    read_block: ReadBlock,
    ino: int,
    seen: set[int],
) -> Iterator[Run]:
    entries, _ = _header(node, ino, depth)
    for i in range(entries):
        off = 12 + 12 * i
        if depth == 0:
            lblk, length, start_hi, start_lo = struct.unpack_from("<IHHI", node, off)
            if lblk >= nblocks:
                return
            uninit = length > EXT_INIT_MAX_LEN
            if uninit:
                length -= EXT_INIT_MAX_LEN
            start = start_lo | start_hi << 32
            if length == 0 or start == 0 or start + length > blocks_count:
                raise ExtBad(
                    f"inode {ino}: extent of {length} blocks at {start} is outside the filesystem"
                )
            yield lblk, start, length, uninit
        else:
            lblk, leaf_lo, leaf_hi = struct.unpack_from("<IIH", node, off)
            if lblk >= nblocks:
                return
            leaf = leaf_lo | leaf_hi << 32
            if leaf == 0 or leaf >= blocks_count:
                raise ExtBad(f"inode {ino}: extent index block {leaf} outside the filesystem")
            if leaf in seen:  # empty leaves reached many times would otherwise never end
                raise ExtBad(f"inode {ino}: extent tree block {leaf} appears twice")
            seen.add(leaf)
            yield from _walk_node(
                read_block(leaf), depth - 1, nblocks, blocks_count, read_block, ino, seen
            )
