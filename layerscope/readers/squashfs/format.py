"""Squashfs 4.0 on-disk structures, declared once, and superblock validation.

All integers are little-endian. Inodes are declared as one struct per inode type (the
16-byte common header followed by the type's fixed fields), so the listing loop decodes a
whole inode with one `unpack_from` call.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from typing import Any

from layerscope.errors import CorruptImageError, UnsupportedFormatError, where
from layerscope.readers.squashfs.codecs import COMPRESSOR_NAMES

MAGIC = b"hsqs"
SUPERBLOCK = struct.Struct("<4sIIIIHHHHHHQQQQQQQQ")
SUPERBLOCK_SIZE = SUPERBLOCK.size  # 96
NO_TABLE = 0xFFFFFFFFFFFFFFFF
NO_INDEX = 0xFFFFFFFF
METADATA_SIZE = 8192
METADATA_UNCOMPRESSED = 0x8000
DATA_UNCOMPRESSED = 1 << 24
DATA_SIZE_MASK = DATA_UNCOMPRESSED - 1
MAX_DIR_COUNT = 256  # entries after one directory header

# Inode types the readers name; the others are block and char devices (4, 5), fifo (6) and
# socket (7), extended types being basic + 7.
DIR, FILE, SYMLINK = 1, 2, 3
XDIR, XFILE, XSYMLINK = 8, 9, 10

# An inflated metadata table (meta.load_table): slices are bytes, items ints.
Table = bytes | mmap.mmap

# common header: type, mode, uid index, gid index, mtime, inode number
_HDR = "<HHHHII"
# + blocks_start, fragment index, fragment offset, file size; then u32 block sizes
I_FILE = struct.Struct(_HDR + "IIII")
# + blocks_start, file size, sparse, nlink, fragment index, fragment offset, xattr
I_XFILE = struct.Struct(_HDR + "QQQIIII")
# the same, past the header: (blocks start, fragment, offset, size) of a basic file and
# (blocks start, size, fragment, offset) of an extended one
I_FILE_LAYOUT = struct.Struct("<16xIIII")
I_XFILE_LAYOUT = struct.Struct("<16xQQ12xII")
# + block index, nlink, listing size (u16), block offset, parent inode
I_DIR = struct.Struct(_HDR + "IIHHI")
# + nlink, listing size, block index, parent inode, index count, block offset, xattr
I_XDIR = struct.Struct(_HDR + "IIIIHHI")
U32 = struct.Struct("<I")

# directory listing: header (count - 1, inode block, reference inode number), then entries
# (offset in inode block u16, inode number delta s16, basic type u16, name size - 1 u16,
# name), read through W_DIR_ENTRY below
DIR_HEADER = struct.Struct("<IIi")

# Views of the same structures for the listing loop: pad bytes ("x") skip the fields a
# listing does not need (start block, nlink, parent...), so each unpack builds fewer ints.
# Each yields (mode, uid index, gid index, mtime, inode number, ...).
W_FILE = struct.Struct("<2xHHHII12xI")  # ..., file size
W_XFILE = struct.Struct("<2xHHHII8xQ20xI")  # ..., file size, xattr
W_DIR = struct.Struct("<2xHHHIII4xHH")  # ..., block index, listing size, block offset
W_XDIR = struct.Struct("<2xHHHII4xII6xHI")  # ..., listing size, block index, offset, xattr
# symlinks: + nlink, target size, then the target (extended: then u32 xattr)
# devices:  + nlink, device number (extended: + xattr)
# fifo, socket: + nlink (extended: + xattr)
W_PAIR = struct.Struct("<2xHHHII4xI")  # ..., symlink target size or device number
W_XDEV = struct.Struct("<2xHHHII4xII")  # ..., device number, xattr
W_IPC = struct.Struct("<2xHHHII")
W_DIR_ENTRY = struct.Struct("<H4xH")  # inode offset, name size - 1

FRAGMENT_ENTRY = struct.Struct("<QII")  # start, on-disk size (bit 24: uncompressed), unused
XATTR_ID_TABLE = struct.Struct("<QII")  # key/value table start, id count, unused
XATTR_LOOKUP = struct.Struct("<QII")  # key/value reference, pair count, total size
XATTR_KEY = struct.Struct("<HH")  # prefix id (| 0x100: value stored out of line), name size
XATTR_PREFIXES = {0: "user.", 1: "trusted.", 2: "security."}
XATTR_OUT_OF_LINE = 0x100

_FLAG_NAMES = (
    (0x0001, "inodes-uncompressed"),
    (0x0002, "data-uncompressed"),
    (0x0008, "fragments-uncompressed"),
    (0x0010, "no-fragments"),
    (0x0020, "always-fragments"),
    (0x0040, "deduplicated"),
    (0x0080, "exportable"),
    (0x0100, "xattrs-uncompressed"),
    (0x0200, "no-xattrs"),
    (0x0400, "compressor-options"),
    (0x0800, "ids-uncompressed"),
)
FLAG_COMPRESSOR_OPTIONS = 0x0400


@dataclass(frozen=True, slots=True)
class Superblock:
    inode_count: int
    mkfs_time: int
    block_size: int
    fragment_count: int
    compressor: str
    block_log: int
    flags: int
    id_count: int
    root_inode: int
    bytes_used: int
    id_table: int
    xattr_table: int
    inode_table: int
    directory_table: int
    fragment_table: int
    export_table: int

    def info(self) -> dict[str, Any]:
        """JSON-ready facts for LayerInfo.extra and the inspect view."""
        return {
            "compressor": self.compressor,
            "block_size": self.block_size,
            "inode_count": self.inode_count,
            "bytes_used": self.bytes_used,
            "fragment_count": self.fragment_count,
            "id_count": self.id_count,
            "flags": [name for bit, name in _FLAG_NAMES if self.flags & bit],
            "mkfs_time": self.mkfs_time,
            "version": "4.0",
        }


def parse_superblock(raw: bytes, size: int, source: str, base: int) -> Superblock:
    """Decode and check the superblock of an image of `size` bytes starting at `base`.

    Raises UnsupportedFormatError for other squashfs versions or unknown compressors and
    CorruptImageError for inconsistent fields, each with a one-line message.
    """
    loc = where(source, base)
    if len(raw) < SUPERBLOCK_SIZE:
        raise CorruptImageError(f"{loc}: squashfs superblock truncated ({len(raw)} of 96 bytes)")
    fields = SUPERBLOCK.unpack_from(raw)
    magic, comp_id, major, minor = fields[0], fields[5], fields[9], fields[10]
    _check_kind(loc, magic, major, minor, comp_id)
    # the fields in order, the compressor id named and the version left out
    sb = Superblock(*[*fields[1:5], COMPRESSOR_NAMES[comp_id], *fields[6:9], *fields[11:]])
    _check_layout(sb, size, loc)
    return sb


def _check_kind(loc: str, magic: bytes, major: int, minor: int, comp_id: int) -> None:
    """Squashfs 4.0 with a known compressor, or the error that says what it is instead."""
    if magic != MAGIC:
        if magic == b"sqsh":
            raise UnsupportedFormatError(f"{loc}: big-endian squashfs (version 3 or older)")
        raise CorruptImageError(f"{loc}: no squashfs magic ('hsqs'), found {magic!r}")
    if (major, minor) != (4, 0):
        raise UnsupportedFormatError(
            f"{loc}: squashfs version {major}.{minor} is not supported (only 4.0)"
        )
    if comp_id not in COMPRESSOR_NAMES:
        raise UnsupportedFormatError(f"{loc}: unknown squashfs compressor id {comp_id}")


def _check_layout(sb: Superblock, size: int, loc: str) -> None:
    """Block size, image size and table starts consistent with each other."""
    if not 12 <= sb.block_log <= 20 or sb.block_size != 1 << sb.block_log:
        raise CorruptImageError(
            f"{loc}: block size {sb.block_size} and block_log {sb.block_log} do not match "
            "a power of two from 4 KiB to 1 MiB"
        )
    if sb.bytes_used > size:
        raise CorruptImageError(
            f"{loc}: squashfs truncated: superblock says {sb.bytes_used} bytes, "
            f"only {size} available"
        )
    for name, start, optional in (
        ("inode table", sb.inode_table, False),
        ("directory table", sb.directory_table, False),
        ("id table", sb.id_table, False),
        ("fragment table", sb.fragment_table, True),
        ("export table", sb.export_table, True),
        ("xattr table", sb.xattr_table, True),
    ):
        if optional and start == NO_TABLE:
            continue
        if not SUPERBLOCK_SIZE <= start < sb.bytes_used:
            raise CorruptImageError(
                f"{loc}: {name} start {start} outside the image (0..{sb.bytes_used})"
            )
    if sb.inode_table > sb.directory_table:
        raise CorruptImageError(f"{loc}: inode table starts after the directory table")
    if sb.id_count == 0:
        raise CorruptImageError(f"{loc}: empty id table (every inode needs an owner)")
