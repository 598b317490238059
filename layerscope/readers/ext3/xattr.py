"""Extended attributes: entries in the inode body and in the external block (i_file_acl),
values possibly in their own inode (ea_inode), names with their namespace prefix restored
and POSIX ACLs turned back into the form getxattr(2) returns.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from layerscope.errors import LimitExceededError
from layerscope.readers.ext3.inode import Inode
from layerscope.readers.ext3.superblock import ExtBad

XATTR_MAGIC = 0xEA020000
XATTR_BLOCK_HEADER = 32
XATTR_ENTRY_HEADER = 16

# e_name_index -> the prefix userspace sees (fs/ext4/xattr.c's handler map). Index 2 and 3
# are whole names (the stored name is empty). Indexes not listed (7 "system.data" holds
# inline data, 9 is the encryption context) are internal and not reported.
XATTR_PREFIXES = {
    0: "",
    1: "user.",
    2: "system.posix_acl_access",
    3: "system.posix_acl_default",
    4: "trusted.",
    6: "security.",
    8: "system.richacl",
    10: "gnu.",
}
XATTR_INDEX_SYSTEM = 7
ACL_INDEXES = (2, 3)


def iter_xattr_entries(
    buf: bytes, start: int, value_base: int, ino: int
) -> Iterator[tuple[int, bytes, int, int, int]]:
    """Yield (name_index, name, value_offset_in_buf, value_size, value_inum) for each entry.

    Entries start at `start`; value offsets are relative to `value_base`. The list ends at
    four zero bytes or the end of `buf`; every offset is checked against `buf`.
    """
    pos = start
    end = len(buf)
    while pos + 4 <= end and buf[pos : pos + 4] != b"\0\0\0\0":
        if pos + XATTR_ENTRY_HEADER > end:
            raise ExtBad(f"inode {ino}: xattr entry runs past its area")
        name_len, index, voffs, vinum, vsize = struct.unpack_from("<BBHII", buf, pos)
        name_end = pos + XATTR_ENTRY_HEADER + name_len
        if name_end > end:
            raise ExtBad(f"inode {ino}: xattr name runs past its area")
        name = buf[pos + XATTR_ENTRY_HEADER : name_end]
        if vinum == 0 and value_base + voffs + vsize > end:
            raise ExtBad(f"inode {ino}: xattr value of {name!r} runs past its area")
        yield index, name, value_base + voffs, vsize, vinum
        pos = (name_end + 3) & ~3


def xattr_name(index: int, name: bytes) -> str | None:
    """The full attribute name as getxattr(2) knows it, or None for internal ones."""
    prefix = XATTR_PREFIXES.get(index)
    if prefix is None:
        return None
    if index in ACL_INDEXES:
        return prefix
    return prefix + name.decode("utf-8", "surrogateescape")


# POSIX ACL tags whose entries carry an id (ACL_USER, ACL_GROUP); the others are short.
_ACL_TAGS_WITH_ID = (0x02, 0x08)
_ACL_UNDEFINED_ID = 0xFFFFFFFF


def acl_disk_to_xattr(value: bytes, ino: int) -> bytes:
    """ext4 stores ACLs compactly (version 1, 4-byte short entries); getxattr(2) and tar see
    the posix_acl_xattr form (version 2, 8-byte entries). Convert like e2fsprogs does."""
    if len(value) < 4:
        raise ExtBad(f"inode {ino}: ACL value too short")
    (version,) = struct.unpack_from("<I", value, 0)
    if version == 2:  # old e2fsprogs wrote the xattr form verbatim
        return value
    if version != 1:
        raise ExtBad(f"inode {ino}: ACL version {version} unknown")
    out = [struct.pack("<I", 2)]
    pos = 4
    while pos < len(value):
        if pos + 4 > len(value):
            raise ExtBad(f"inode {ino}: ACL entry truncated")
        tag, perm = struct.unpack_from("<HH", value, pos)
        if tag in _ACL_TAGS_WITH_ID:
            if pos + 8 > len(value):
                raise ExtBad(f"inode {ino}: ACL entry truncated")
            (ident,) = struct.unpack_from("<I", value, pos + 4)
            pos += 8
        else:
            ident = _ACL_UNDEFINED_ID
            pos += 4
        out.append(struct.pack("<HHI", tag, perm, ident))
    return b"".join(out)


MAX_XATTR_VALUE = 65536  # XATTR_SIZE_MAX: the most the kernel hands out
EaValue = Callable[[int, int], bytes]  # (value inode, size) -> value bytes


def _ibody_has_xattrs(region: bytes) -> bool:
    return len(region) >= 4 and struct.unpack_from("<I", region, 0)[0] == XATTR_MAGIC


def inline_data_rest(inode: Inode) -> bytes:
    """The part of inline data past i_block: the in-inode "system.data" value."""
    region = inode.ibody_xattrs
    if _ibody_has_xattrs(region):
        for index, name, voff, vsize, _inum in iter_xattr_entries(region, 4, 4, inode.ino):
            if index == XATTR_INDEX_SYSTEM and name == b"data":
                return region[voff : voff + vsize]
    return b""


def check_xattr_block(data: bytes, block: int) -> None:
    magic, _refcount, nblocks = struct.unpack_from("<III", data, 0)
    if magic != XATTR_MAGIC or nblocks != 1:
        raise ExtBad(f"xattr block {block} has a bad header")


def collect_xattrs(
    inode: Inode, xattr_block: Callable[[int], bytes], ea_value: EaValue | None
) -> dict[str, bytes] | None:
    """All attributes userspace would list, in-inode ones first; None when there are none.

    `xattr_block(n)` returns the checked external block n; `ea_value` reads a value kept in
    its own inode, and is None when the filesystem lacks the ea_inode feature."""
    out: dict[str, bytes] = {}
    sources: list[tuple[bytes, int, int]] = []
    if _ibody_has_xattrs(inode.ibody_xattrs):
        # In the inode body, value offsets count from the first entry, after the magic.
        sources.append((inode.ibody_xattrs, 4, 4))
    if inode.file_acl:
        sources.append((xattr_block(inode.file_acl), XATTR_BLOCK_HEADER, 0))
    for buf, start, base in sources:
        for index, name, voff, vsize, vinum in iter_xattr_entries(buf, start, base, inode.ino):
            full = xattr_name(index, name)
            if full is None:
                continue
            if vinum:
                if ea_value is None:
                    raise ExtBad(f"inode {inode.ino}: xattr {full} in inode {vinum}, no ea_inode")
                if vsize > MAX_XATTR_VALUE:
                    raise ExtBad(
                        f"inode {inode.ino}: xattr {full} of {vsize} bytes",
                        cls=LimitExceededError,
                    )
                value = ea_value(vinum, vsize)
            else:
                value = buf[voff : voff + vsize]
            if index in ACL_INDEXES:
                value = acl_disk_to_xattr(value, inode.ino)
            out[full] = value
    return out or None
