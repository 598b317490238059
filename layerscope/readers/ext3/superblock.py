"""ext2/3/4 superblock and group descriptors: the geometry every other ext3 module relies on.

Everything here works on fs-relative byte positions; `Ext3FS` adds the partition offset and
turns `ExtBad` into the typed layerscope errors at its public boundary.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from layerscope.errors import CorruptImageError, ReaderError, UnsupportedFormatError

SUPERBLOCK_OFFSET = 1024
SUPERBLOCK_SIZE = 1024
EXT_MAGIC = 0xEF53
ROOT_INO = 2

COMPAT_SPARSE_SUPER2 = 0x200
RO_COMPAT_SPARSE_SUPER = 0x1
RO_COMPAT_BIGALLOC = 0x200

INCOMPAT_FILETYPE = 0x2
INCOMPAT_RECOVER = 0x4
INCOMPAT_META_BG = 0x10
INCOMPAT_EXTENTS = 0x40
INCOMPAT_64BIT = 0x80
INCOMPAT_EA_INODE = 0x400
INCOMPAT_LARGEDIR = 0x4000
INCOMPAT_INLINE_DATA = 0x8000

# Incompat features a read-only walker can ignore or handles: the rest change the on-disk
# layout in ways this reader does not implement, so they are refused by name.
SUPPORTED_INCOMPAT = (
    INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER  # a journal awaits replay; we read the fs as it stands
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | 0x100  # mmp
    | 0x200  # flex_bg: only moves metadata, descriptors still say where
    | INCOMPAT_EA_INODE
    | 0x2000  # csum_seed
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | 0x10000  # encrypt: encrypted inodes raise EncryptedError when their data is needed
    | 0x20000  # casefold: names are stored as given; lookups are not needed
)
INCOMPAT_NAMES = {
    0x1: "compression",
    0x8: "journal_dev",
    0x1000: "dirdata",
}

# Sizes beyond these are not filesystems anyone built: refuse before allocating.
MAX_LOG_BLOCK_SIZE = 6  # 64 KiB
MAX_DESC_SIZE = 1024


class ExtBad(Exception):
    """Internal: an inconsistency at fs-relative byte `pos`; converted at the API boundary."""

    def __init__(
        self, msg: str, pos: int | None = None, cls: type[ReaderError] = CorruptImageError
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos
        self.cls = cls


@dataclass(frozen=True, slots=True)
class Superblock:
    block_size: int
    blocks_count: int
    first_data_block: int
    blocks_per_group: int
    inodes_per_group: int
    inodes_count: int
    inode_size: int
    desc_size: int
    group_count: int
    feature_compat: int
    feature_incompat: int
    feature_ro_compat: int
    first_meta_bg: int
    backup_bgs: tuple[int, int]
    cluster_ratio: int
    volume_name: str

    def has_incompat(self, flag: int) -> bool:
        return bool(self.feature_incompat & flag)

    @property
    def size_bytes(self) -> int:
        return self.blocks_count * self.block_size


def parse_superblock(raw: bytes, avail: int) -> Superblock:
    """Validate the 1024-byte superblock; `avail` is how many bytes the partition holds."""
    if len(raw) < SUPERBLOCK_SIZE:
        raise ExtBad(f"image too small for a superblock ({avail} bytes)", SUPERBLOCK_OFFSET)
    (magic,) = struct.unpack_from("<H", raw, 0x38)
    if magic != EXT_MAGIC:
        raise ExtBad(f"bad ext2/3/4 superblock magic {magic:#06x}", SUPERBLOCK_OFFSET + 0x38)
    (inodes_count, blocks_lo, _r, _fb, _fi, first_data, log_bs, log_cs, bpg, cpg, ipg) = (
        struct.unpack_from("<11I", raw, 0)
    )
    (rev,) = struct.unpack_from("<I", raw, 0x4C)
    (inode_size,) = struct.unpack_from("<H", raw, 0x58)
    compat, incompat, ro_compat = struct.unpack_from("<3I", raw, 0x5C)
    (desc_size,) = struct.unpack_from("<H", raw, 0xFE)
    (first_meta_bg,) = struct.unpack_from("<I", raw, 0x104)
    (blocks_hi,) = struct.unpack_from("<I", raw, 0x150)
    backup = struct.unpack_from("<2I", raw, 0x24C)

    def bad(msg: str, field: int) -> ExtBad:
        return ExtBad(msg, SUPERBLOCK_OFFSET + field)

    if rev > 1:
        raise ExtBad(
            f"unknown ext revision {rev}", SUPERBLOCK_OFFSET + 0x4C, UnsupportedFormatError
        )
    if log_bs > MAX_LOG_BLOCK_SIZE:
        raise bad(f"block size 2^{10 + log_bs} out of range 1K..64K", 0x18)
    block_size = 1024 << log_bs
    unknown = incompat & ~SUPPORTED_INCOMPAT
    if unknown:
        names = [INCOMPAT_NAMES.get(1 << b, f"{1 << b:#x}") for b in range(32) if unknown >> b & 1]
        raise ExtBad(
            "unsupported ext incompat feature " + ", ".join(names),
            SUPERBLOCK_OFFSET + 0x60,
            UnsupportedFormatError,
        )
    cluster_ratio = 1
    if ro_compat & RO_COMPAT_BIGALLOC:
        if log_cs < log_bs or log_cs - log_bs > 16:
            raise bad(f"bigalloc cluster size 2^{10 + log_cs} invalid", 0x1C)
        cluster_ratio = 1 << (log_cs - log_bs)
        if cpg < 1 or cpg > 8 * block_size or bpg != cpg * cluster_ratio:
            raise bad(f"clusters per group {cpg} invalid", 0x24)
    elif bpg < 1 or bpg > 8 * block_size:
        raise bad(f"blocks per group {bpg} invalid for {block_size}-byte blocks", 0x20)
    if ipg < 1 or ipg > 8 * block_size:
        raise bad(f"inodes per group {ipg} invalid", 0x28)
    if rev == 0:
        inode_size = 128
    elif inode_size < 128 or inode_size > block_size or inode_size & (inode_size - 1):
        raise bad(f"inode size {inode_size} invalid", 0x58)
    if incompat & INCOMPAT_64BIT:
        if desc_size < 64 or desc_size > MAX_DESC_SIZE or desc_size & (desc_size - 1):
            raise bad(f"group descriptor size {desc_size} invalid", 0xFE)
    else:
        desc_size, blocks_hi = 32, 0
    blocks_count = blocks_lo | blocks_hi << 32
    if first_data >= blocks_count or first_data > 1:
        raise bad(f"first data block {first_data} invalid ({blocks_count} blocks)", 0x14)
    if blocks_count * block_size > avail:
        raise ExtBad(
            f"truncated ext image: the superblock says {blocks_count * block_size} bytes, "
            f"the partition holds {avail}",
            SUPERBLOCK_OFFSET + 0x4,
        )
    group_count = -(-(blocks_count - first_data) // bpg)
    if inodes_count < 11 or inodes_count > group_count * ipg:
        raise bad(f"inode count {inodes_count} inconsistent with {group_count} groups", 0)
    if incompat & INCOMPAT_META_BG and first_meta_bg > group_count:
        raise bad(f"first meta_bg {first_meta_bg} past {group_count} groups", 0x104)
    return Superblock(
        block_size=block_size,
        blocks_count=blocks_count,
        first_data_block=first_data,
        blocks_per_group=bpg,
        inodes_per_group=ipg,
        inodes_count=inodes_count,
        inode_size=inode_size,
        desc_size=desc_size,
        group_count=group_count,
        feature_compat=compat,
        feature_incompat=incompat,
        feature_ro_compat=ro_compat,
        first_meta_bg=first_meta_bg,
        backup_bgs=(backup[0], backup[1]),
        cluster_ratio=cluster_ratio,
        volume_name=raw[0x78:0x88].split(b"\0", 1)[0].decode("utf-8", "replace"),
    )


def _is_power_of(n: int, base: int) -> bool:
    while n > 1 and n % base == 0:
        n //= base
    return n == 1


def group_has_super(sb: Superblock, group: int) -> bool:
    """Whether `group` starts with a superblock backup (as ext2fs_bg_has_super decides)."""
    if group == 0:
        return True
    if sb.feature_compat & COMPAT_SPARSE_SUPER2:
        return group in sb.backup_bgs
    if group <= 1 or not sb.feature_ro_compat & RO_COMPAT_SPARSE_SUPER:
        return True
    if not group & 1:
        return False
    return _is_power_of(group, 3) or _is_power_of(group, 5) or _is_power_of(group, 7)


def descriptor_pos(sb: Superblock, group: int) -> int:
    """Byte position of group `group`'s descriptor (ext2fs_descriptor_block_loc2 logic)."""
    per_block = sb.block_size // sb.desc_size
    index, within = divmod(group, per_block)
    # bigalloc with 1K blocks keeps block 0 for the boot sector even though first_data is 0.
    adjust = 1 if index == 0 and sb.block_size == 1024 and sb.cluster_ratio > 1 else 0
    if not sb.has_incompat(INCOMPAT_META_BG) or index < sb.first_meta_bg:
        block = sb.first_data_block + index + 1 + adjust
    else:
        first_group = index * per_block
        block = sb.first_data_block + first_group * sb.blocks_per_group
        block += (1 if group_has_super(sb, first_group) else 0) + adjust
    if block >= sb.blocks_count:
        raise ExtBad(f"group descriptor block {block} of group {group} past the end")
    return block * sb.block_size + within * sb.desc_size


def inode_table_block(sb: Superblock, desc: bytes, group: int) -> int:
    """The first block of a group's inode table, checked to lie inside the filesystem."""
    lo: int = struct.unpack_from("<I", desc, 0x8)[0]
    hi: int = struct.unpack_from("<I", desc, 0x28)[0] if sb.desc_size >= 64 else 0
    block = lo | hi << 32
    table_blocks = -(-sb.inodes_per_group * sb.inode_size // sb.block_size)
    if block == 0 or block + table_blocks > sb.blocks_count:
        raise ExtBad(f"inode table of group {group} at block {block} is outside the filesystem")
    return block
