"""Directory blocks read linearly.

htree (dir_index) directories are ordinary linear directories to a reader: the index lives
in '..'s oversized record and in blocks holding one empty record (inode 0) that covers the
block, and metadata_csum tails are inode-0 records too. So skipping inode-0 records is all
it takes. The file type byte is only a hint; callers take the type from the inode.
"""

from __future__ import annotations

import struct

from layerscope.readers.ext3.superblock import ExtBad

DIRENT_HEADER = 8


def _rec_len(raw: int, block_size: int) -> int:
    # 64 KiB blocks cannot express their own size in 16 bits: ext4_rec_len_from_disk.
    if block_size < 65536:
        return raw
    if raw in (0, 65535):
        return block_size
    return (raw & 65532) | ((raw & 3) << 16)


def parse_dir_block(
    data: bytes, block_size: int, has_filetype: bool, dir_ino: int
) -> list[tuple[int, bytes]]:
    """(inode, name) of the live records in one directory block, '.' and '..' excluded."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    end = len(data)
    while pos < end:
        if pos + DIRENT_HEADER > end:
            raise ExtBad(f"directory inode {dir_ino}: record header past the block end")
        ino, raw_len, name_len, ftype = struct.unpack_from("<IHBB", data, pos)
        rec_len = _rec_len(raw_len, block_size)
        if not has_filetype:
            name_len |= ftype << 8
        if rec_len < DIRENT_HEADER or rec_len & 3 or pos + rec_len > end:
            raise ExtBad(
                f"directory inode {dir_ino}: record length {rec_len} at block offset {pos} invalid"
            )
        if DIRENT_HEADER + name_len > rec_len:
            raise ExtBad(f"directory inode {dir_ino}: name length {name_len} exceeds its record")
        if ino:
            name = data[pos + DIRENT_HEADER : pos + DIRENT_HEADER + name_len]
            if name not in (b".", b".."):
                if not name or b"/" in name or b"\0" in name:
                    raise ExtBad(f"directory inode {dir_ino}: invalid entry name {name!r}")
                out.append((ino, name))
        pos += rec_len
    return out
