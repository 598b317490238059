"""Hostile squashfs images, built in the test from mksquashfs output: a metadata bomb, and
directories listing one name twice (squashfs-tools-ng's pathtraversal image) or out of
order. unsquashfs is the reference: what it refuses, layerscope refuses (exit 3)."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from layerscope.readers.squashfs.format import METADATA_SIZE, NO_TABLE
from tests.conftest import require_tool
from tests.readers.hostile import run_cli

FLAGS = ["-noappend", "-no-progress", "-quiet", "-no-xattrs", "-no-exports"]


def _mksquashfs(src: Path, image: Path, *extra: str) -> Path:
    tool = require_tool("mksquashfs")
    subprocess.run([tool, str(src), str(image), *FLAGS, *extra], check=True, capture_output=True)
    return image


def _small_tree(root: Path) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("ID=bomb\n")
    (root / "bin").mkdir()
    (root / "bin" / "sh").write_bytes(b"\x7fELF" + bytes(100))
    return root


# -- metadata bomb ---------------------------------------------------------------------------

_SB = struct.Struct("<4sIIIIHHHHHHQQQQQQQQ")
_TABLES = {"bytes_used": 40, "id_table": 48, "xattr_table": 56, "directory_table": 72,
           "fragment_table": 80, "export_table": 88}  # fmt: skip


def metadata_bomb(tmp_path: Path, junk_blocks: int) -> Path:
    """mksquashfs output whose inode table is followed by `junk_blocks` metadata blocks of
    8 KiB of zeros (~30 bytes each gzip-compressed): the superblock declares a table that
    many blocks larger. The real inodes stay where the directories point; every table after
    the inode table, and the block positions the id and fragment indexes hold, move."""
    image = _mksquashfs(_small_tree(tmp_path / "tree"), tmp_path / "real.sqfs", "-comp", "gzip")
    raw = bytearray(image.read_bytes())
    sb = _SB.unpack_from(raw)
    id_count, frag_count, dir_table = sb[8], sb[4], sb[16]
    zero = zlib.compress(bytes(METADATA_SIZE), 9)
    junk = (struct.pack("<H", len(zero)) + zero) * junk_blocks
    shift = len(junk)
    for offset in _TABLES.values():
        (value,) = struct.unpack_from("<Q", raw, offset)
        if value != NO_TABLE:
            struct.pack_into("<Q", raw, offset, value + shift)
    out = raw[:dir_table] + junk + raw[dir_table:]
    for table, entries in (("id_table", id_count * 4), ("fragment_table", frag_count * 16)):
        (start,) = struct.unpack_from("<Q", out, _TABLES[table])
        if start == NO_TABLE or not entries:
            continue
        for i in range(-(-entries // METADATA_SIZE)):  # the index: u64 block positions
            (pos,) = struct.unpack_from("<Q", out, start + 8 * i)
            struct.pack_into("<Q", out, start + 8 * i, pos + shift)
    bomb = tmp_path / "bomb.sqfs"
    bomb.write_bytes(bytes(out))
    return bomb


def test_the_bomb_builder_keeps_the_image_readable(tmp_path: Path) -> None:
    """A few junk blocks: unsquashfs still lists the image, so the bombs below differ from
    a real image only by the size of their inode table."""
    bomb = metadata_bomb(tmp_path, 3)
    tool = require_tool("unsquashfs")
    ref = subprocess.run([tool, "-lls", str(bomb)], capture_output=True, text=True)
    assert ref.returncode == 0 and "os-release" in ref.stdout, ref.stderr
    r = run_cli("ls", "--no-cache", str(bomb))
    assert r.code == 0 and b"/etc/os-release" in r.out, r.err


def test_metadata_bomb_over_the_limit_costs_its_size_on_disk(tmp_path: Path) -> None:
    """A 4 MB image declaring a 1 GiB inode table (one block over the default limit):
    refused from its block headers, before anything is inflated (it peaked at 2.1 GB)."""
    bomb = metadata_bomb(tmp_path, (1 << 30) // METADATA_SIZE + 1)
    assert bomb.stat().st_size < 5 << 20
    for command in ("ls", "inspect"):
        r = run_cli(command, "--no-cache", str(bomb))
        line = r.one_error_line()
        assert r.code == 3 and "LAYERSCOPE_MAX_METADATA_BYTES" in line, r.err
        assert r.rss < 200 << 20, f"{command}: peak {r.rss >> 20} MiB"


def test_metadata_bomb_within_the_limit_costs_the_limit(tmp_path: Path) -> None:
    """Just under the limit (lowered to 256 MiB here to keep the test light) the table is
    inflated, once: the peak stays near the limit (joining the blocks used to double it)."""
    limit = 256 << 20
    bomb = metadata_bomb(tmp_path, limit // METADATA_SIZE - 4)  # room for the real tables
    r = run_cli("ls", "--no-cache", str(bomb), env={"LAYERSCOPE_MAX_METADATA_BYTES": str(limit)})
    assert r.code == 0 and b"/etc/os-release" in r.out, r.err
    assert r.rss < limit + (150 << 20), f"peak {r.rss >> 20} MiB"


# -- names listed twice or out of order ----------------------------------------------------------


def _patched_names(tmp_path: Path, build: str, old: bytes, new: bytes) -> Path:
    """An image of the tree `build` makes, with directory entry name `old` renamed `new`
    (same length) in place: uncompressed tables make the names plain bytes."""
    src = tmp_path / "src"
    src.mkdir()
    if build == "pathtraversal":  # squashfs-tools-ng's test image: DIR -> /tmp, and DIR/
        (src / "DIR").symlink_to("/tmp")
        (src / "DIS").mkdir()
        (src / "DIS" / "gotcha.txt").write_text("written through the link?\n")
    else:
        for name in ("a", "b"):
            (src / name).write_text(name)
    image = _mksquashfs(src, tmp_path / "orig.sqfs", "-noI", "-noD", "-noF", "-noX")
    raw = bytearray(image.read_bytes())
    (dir_table,) = struct.unpack_from("<Q", raw, 72)
    at = raw.index(old, dir_table)
    raw[at : at + len(old)] = new
    patched = tmp_path / f"{build}.sqfs"
    patched.write_bytes(bytes(raw))
    return patched


@pytest.mark.parametrize(
    ("build", "old", "new", "said"),
    [
        ("pathtraversal", b"DIS", b"DIR", "'DIR' twice"),
        ("unsorted", b"a", b"c", "'b' after 'c'"),
    ],
)
def test_directory_listing_unsquashfs_refuses(
    tmp_path: Path, build: str, old: bytes, new: bytes, said: str
) -> None:
    """Exit 3 naming the directory, as unsquashfs refuses the image: showing one of two
    entries named DIR hid the other (a symlink to /tmp beside a directory), and no one
    reading is right (the kernel's lookup finds one, a tree holds each name once)."""
    image = _patched_names(tmp_path, build, old, new)
    tool = require_tool("unsquashfs")
    ref = subprocess.run([tool, "-lls", str(image)], capture_output=True, text=True)
    assert ref.returncode != 0 and "duplicate names or is unsorted" in ref.stderr, ref
    for command in ("ls", "inspect"):
        r = run_cli(command, "--no-cache", str(image))
        line = r.one_error_line()
        assert r.code == 3, r.err
        assert "directory / " in line and said in line, line
