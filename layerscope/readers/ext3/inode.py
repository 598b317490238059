"""One ext2/3/4 inode decoded, plus the pieces of it that need no further disk reads:
device numbers, fast symlinks, and extended attribute entries (in-inode or block).
"""

from __future__ import annotations

import stat
import struct

from layerscope.readers.ext3.superblock import ExtBad

I_BLOCK_OFFSET = 0x28
I_BLOCK_SIZE = 60
GOOD_OLD_INODE_SIZE = 128

EXTENTS_FL = 0x80000
INLINE_DATA_FL = 0x10000000
ENCRYPT_FL = 0x800


class Inode:
    """The fields of an on-disk inode that layerscope reports or needs to find data."""

    __slots__ = (
        "blocks",
        "file_acl",
        "flags",
        "gid",
        "i_block",
        "ibody_xattrs",
        "ino",
        "mode",
        "mtime",
        "size",
        "uid",
    )

    def __init__(self, ino: int, raw: bytes, largedir: bool) -> None:
        mode: int
        mtime: int
        (mode, uid_lo, size_lo) = struct.unpack_from("<HHI", raw, 0)
        (mtime,) = struct.unpack_from("<i", raw, 0x10)
        (gid_lo,) = struct.unpack_from("<H", raw, 0x18)
        blocks_lo: int
        flags: int
        (blocks_lo, flags) = struct.unpack_from("<II", raw, 0x1C)
        (acl_lo, size_hi) = struct.unpack_from("<II", raw, 0x68)
        (_blocks_hi, acl_hi, uid_hi, gid_hi) = struct.unpack_from("<4H", raw, 0x74)
        self.ino = ino
        self.mode = mode
        self.uid = uid_lo | uid_hi << 16
        self.gid = gid_lo | gid_hi << 16
        self.flags = flags
        self.blocks = blocks_lo
        self.file_acl = acl_lo | acl_hi << 32
        self.i_block = raw[I_BLOCK_OFFSET : I_BLOCK_OFFSET + I_BLOCK_SIZE]
        # ext2/3 reused i_size_high as i_dir_acl for directories; only regular files (and
        # large_dir directories) really have 64-bit sizes.
        fmt = stat.S_IFMT(mode)
        if fmt == stat.S_IFREG or (fmt == stat.S_IFDIR and largedir):
            self.size = size_lo | size_hi << 32
        else:
            self.size = size_lo
        self.ibody_xattrs = b""
        if len(raw) > GOOD_OLD_INODE_SIZE:
            (extra,) = struct.unpack_from("<H", raw, GOOD_OLD_INODE_SIZE)
            if extra & 3 or GOOD_OLD_INODE_SIZE + extra > len(raw):
                raise ExtBad(f"inode {ino}: extra inode size {extra} invalid")
            # The mtime_extra word's low two bits extend the signed 32-bit seconds past 2038.
            if extra >= 0x0C:
                (mextra,) = struct.unpack_from("<I", raw, 0x88)
                mtime += (mextra & 3) << 32
            self.ibody_xattrs = raw[GOOD_OLD_INODE_SIZE + extra :]
        self.mtime = mtime

    @property
    def fmt(self) -> int:
        return stat.S_IFMT(self.mode)

    def rdev(self) -> tuple[int, int]:
        """Device numbers: old 16-bit encoding in i_block[0], else the new one in i_block[1]."""
        old, new = struct.unpack_from("<II", self.i_block, 0)
        if old:
            return (old >> 8) & 0xFF, old & 0xFF
        return (new & 0xFFF00) >> 8, (new & 0xFF) | ((new >> 12) & 0xFFF00)

    def is_fast_symlink(self, cluster_bytes: int) -> bool:
        """A symlink whose target sits in i_block: no data blocks besides an xattr block."""
        if self.flags & (INLINE_DATA_FL | EXTENTS_FL) or self.size >= I_BLOCK_SIZE:
            return False
        xattr_sectors = cluster_bytes >> 9 if self.file_acl else 0
        return self.blocks - xattr_sectors <= 0
