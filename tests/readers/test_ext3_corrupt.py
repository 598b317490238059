"""Ext3FS on corrupt and unsupported input: the SIF overlay fixture with patched bytes
(located with debugfs) fails fast with a one-line typed error naming the file."""

from __future__ import annotations

import os
import random
import re
import shutil
import stat
import struct
import time
from collections import Counter
from functools import partial
from pathlib import Path

from layerscope.errors import CorruptImageError, LayerscopeError, UnsupportedFormatError
from tests.readers.ext3_reference import (
    assert_fails_fast,
    debugfs,
    debugfs_block_of,
    debugfs_inode_pos,
    debugfs_tree,
    patched,
    read_everything,
    seeded_bytes,
)


def test_zeroed_magic(overlay_img: Path, tmp_path: Path) -> None:
    msg = assert_fails_fast(CorruptImageError, patched(tmp_path, overlay_img, 1024 + 0x38, b"\0\0"))
    assert "magic" in msg and "at byte 1080" in msg


def test_truncated_image(overlay_img: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.img"
    short.write_bytes(overlay_img.read_bytes()[: 700 * 1024])
    assert "truncated" in assert_fails_fast(CorruptImageError, short)
    tiny = tmp_path / "tiny.img"
    tiny.write_bytes(overlay_img.read_bytes()[:1500])
    assert_fails_fast(CorruptImageError, tiny)
    # a partition claimed longer than the file holding it
    assert "truncated" in assert_fails_fast(CorruptImageError, short, size=2 << 20)


def test_dir_rec_len_zero(overlay_img: Path, tmp_path: Path) -> None:
    pos = debugfs_block_of(overlay_img, "/upper/etc") * 1024 + 4  # first record's rec_len
    msg = assert_fails_fast(CorruptImageError, patched(tmp_path, overlay_img, pos, b"\0\0"))
    assert "record length 0" in msg


def test_block_pointer_past_end(overlay_img: Path, tmp_path: Path) -> None:
    pos = debugfs_inode_pos(overlay_img, "/upper/opt/tools/bin/tool", 1024) + 0x28
    bad = patched(tmp_path, overlay_img, pos, struct.pack("<I", 0xFFFFFF00))
    assert "past the end" in assert_fails_fast(CorruptImageError, bad)


def test_directory_cycle(overlay_img: Path, tmp_path: Path) -> None:
    # /upper/etc's first live record after . and .. becomes a link back to /upper (inode 12)
    block = debugfs_block_of(overlay_img, "/upper/etc") * 1024
    raw = overlay_img.read_bytes()
    pos = block
    for _ in range(2):  # skip "." and ".."
        pos += struct.unpack_from("<H", raw, pos + 4)[0]
    bad = patched(tmp_path, overlay_img, pos, struct.pack("<I", 12))
    assert "cycle" in assert_fails_fast(CorruptImageError, bad)


def test_unsupported_incompat_feature(overlay_img: Path, tmp_path: Path) -> None:
    raw = overlay_img.read_bytes()
    incompat = struct.unpack_from("<I", raw, 1024 + 0x60)[0] | 0x1
    bad = patched(tmp_path, overlay_img, 1024 + 0x60, struct.pack("<I", incompat))
    assert "compression" in assert_fails_fast(UnsupportedFormatError, bad)


def test_random_metadata_damage_raises_only_typed_errors(overlay_img: Path, tmp_path: Path) -> None:
    """Byte flips in the superblock, group descriptors, inode table and directory blocks:
    every outcome is a clean read or a LayerscopeError, each quickly."""
    work = tmp_path / "fuzz.img"
    shutil.copyfile(overlay_img, work)
    dirs = [p for p, v in debugfs_tree(overlay_img, "").items() if stat.S_ISDIR(v[1])]
    stats = debugfs(overlay_img, "stats").decode()
    fields = [r"inode table at (\d+)", r"Inode count:\s+(\d+)", r"Free inodes:\s+(\d+)"]
    found = [re.search(f, stats) for f in fields]
    table, count, free = (int(m[1]) if m else -1 for m in found)
    used_inodes = (table * 1024, table * 1024 + (count - free) * 256)
    targets = [(1024, 2048), (2048, 3072), used_inodes]
    targets += [
        (b * 1024, (b + 1) * 1024) for b in map(partial(debugfs_block_of, overlay_img), dirs)
    ]
    rng = random.Random(1234)
    outcomes: Counter[str] = Counter()
    original = work.read_bytes()
    fd = os.open(work, os.O_RDWR)
    try:
        for _ in range(300):
            spots = []
            for _ in range(rng.choice((1, 2, 4))):
                lo, hi = rng.choice(targets)
                pos = rng.randrange(lo, hi)
                spots.append(pos)
                os.pwrite(fd, seeded_bytes(rng.randrange(1 << 30), rng.choice((1, 2, 4))), pos)
            start = time.monotonic()
            try:
                read_everything(work)
                outcomes["read"] += 1
            except LayerscopeError:
                outcomes["typed error"] += 1
            assert time.monotonic() - start < 1.0, spots
            os.pwrite(fd, original, 0)
    finally:
        os.close(fd)
    assert outcomes["typed error"] >= 10 and outcomes["read"] >= 10, outcomes
