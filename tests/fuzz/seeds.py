"""Seed images for the byte-level fuzz targets, with where their metadata lives.

A mutation anywhere in a 2 MiB image mostly lands in file data the parser never looks at,
so each seed names its metadata `regions` (byte ranges) and integer `fields` (offset,
width): SIF header and descriptors, squashfs superblock and tables, ext superblock, group
descriptors, inodes, directory and map blocks. The regions are computed from the fixtures
with layerscope's own readers, which only decides where to aim; what the readers must do
with the damage is checked against the error contract, not against these readers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from layerscope.readers.ext3.inode import INLINE_DATA_FL
from layerscope.readers.ext3.reader import Ext3FS
from layerscope.readers.sif import format as sf
from layerscope.readers.squashfs.format import SUPERBLOCK
from tests.conftest import FIXTURES

Span = tuple[int, int]


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    regions: tuple[Span, ...]  # [start, end) ranges holding metadata
    fields: tuple[Span, ...]  # (offset, width) of little-endian integer fields


def _fields_of(fmt: str, base: int) -> list[Span]:
    """(offset, width) of every integer in a struct format, at `base`."""
    out: list[Span] = []
    pos = base
    for code, count in _codes(fmt):
        size = struct.calcsize("<" + code)
        if code == "s":
            pos += count
            continue
        for _ in range(count):
            out.append((pos, size))
            pos += size
    return out


def _codes(fmt: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    num = ""
    for ch in fmt.lstrip("<"):
        if ch.isdigit():
            num += ch
            continue
        out.append((ch, int(num or "1")))
        num = ""
    return out


_SB_FORMAT = str(SUPERBLOCK.format)


def squashfs_layout(data: bytes, base: int = 0) -> tuple[list[Span], list[Span]]:
    """Regions and fields of a squashfs image at `base`: superblock, then every table
    (mksquashfs writes all metadata after the data blocks, from the inode table on)."""
    fields = _fields_of(_SB_FORMAT, base)
    regions: list[Span] = [(base, base + SUPERBLOCK.size)]
    (bytes_used,) = struct.unpack_from("<Q", data, base + 40)
    (inode_table,) = struct.unpack_from("<Q", data, base + 64)
    if inode_table < bytes_used <= len(data) - base:
        regions.append((base + inode_table, base + bytes_used))
        # Lookup-table indexes are raw u64 block positions: aim at them as fields.
        for off in (48, 56, 80, 88):  # id, xattr, fragment, export table starts
            (start,) = struct.unpack_from("<Q", data, base + off)
            if start < bytes_used:
                fields += [
                    (base + start + 8 * i, 8) for i in range(4) if start + 8 * i + 8 <= bytes_used
                ]
    return regions, fields


def _ext_layout(path: Path, data: bytes, base: int, size: int) -> tuple[list[Span], list[Span]]:
    """Superblock, group descriptors, used inodes, directory and block-map blocks."""
    regions: list[Span] = [(base + 1024, base + 2048)]
    fields: list[Span] = [(base + 1024 + off, w) for off, w in _EXT_SB_FIELDS]
    with Ext3FS(str(path), base, size) as fs:
        sb = fs.sb
        bs = sb.block_size
        gdt = (sb.first_data_block + 1) * bs
        regions.append((base + gdt, base + gdt + sb.group_count * sb.desc_size))
        for g in range(sb.group_count):
            fields += [(base + gdt + g * sb.desc_size + o, 4) for o in (0, 4, 8)]
        for entry in [*fs.iter_entries("/", hide=())]:
            inode = fs._inode(entry.ino)
            group, index = divmod(entry.ino - 1, sb.inodes_per_group)
            table = fs._desc[group]
            pos = base + table * bs + index * sb.inode_size
            regions.append((pos, pos + sb.inode_size))
            fields += [(pos + o, w) for o, w in _EXT_INODE_FIELDS]
            if entry.kind.name == "DIR" and not inode.flags & INLINE_DATA_FL:
                for _l, pblk, count, _u in fs._runs(inode, max(1, inode.size // bs)):
                    regions.append((base + pblk * bs, base + (pblk + count) * bs))
            if inode.file_acl:
                regions.append((base + inode.file_acl * bs, base + (inode.file_acl + 1) * bs))
    return regions, fields


# ext superblock: inodes, blocks, first data block, log block size, blocks/inodes per
# group, revision, inode size, feature words, descriptor size, first meta_bg, blocks_hi
_EXT_SB_FIELDS = [
    (0x0, 4), (0x4, 4), (0x14, 4), (0x18, 4), (0x1C, 4), (0x20, 4), (0x24, 4), (0x28, 4),
    (0x38, 2), (0x4C, 4), (0x58, 2), (0x5C, 4), (0x60, 4), (0x64, 4), (0xFE, 2),
    (0x104, 4), (0x150, 4),
]  # fmt: skip
# inode: mode, size, mtime, blocks, flags, i_block words, file_acl, size_hi, extra size
_EXT_INODE_FIELDS = [
    (0x0, 2), (0x4, 4), (0x10, 4), (0x1C, 4), (0x20, 4),
    *[(0x28 + 4 * i, 4) for i in range(15)],
    (0x68, 4), (0x6C, 4), (0x80, 2),
]  # fmt: skip


def _sif_seed(path: Path) -> Seed:
    data = path.read_bytes()
    fields = _fields_of(sf.HEADER.format, 0)
    regions: list[Span] = [(0, sf.HEADER.size)]
    h = sf.SifHeader.parse(data[: sf.HEADER.size])
    for i in range(h.descriptors_total):
        start = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(data[start : start + sf.DESCRIPTOR.size])
        if not d.used:
            continue
        regions.append((start, start + 201 + 12))  # the numbers, the name and the extra ints
        fields += [f for f in _fields_of(sf.DESCRIPTOR.format, start) if f[0] < start + 73]
        fields += [(start + 201, 4), (start + 205, 4)]
        if d.data_type == sf.PARTITION and data[d.offset : d.offset + 4] == b"hsqs":
            r, f = squashfs_layout(data, d.offset)
            regions += r
            fields += f
        elif d.data_type == sf.PARTITION and d.fs_type == sf.FS_EXT3 and d.size >= 4096:
            r, f = _ext_layout(path, data, d.offset, d.size)
            regions += r
            fields += f
        elif d.size:
            regions.append((d.offset, d.offset + min(d.size, 4096)))
    return Seed(path.name, data, tuple(regions), tuple(fields))


@functools.cache
def sif_seeds() -> tuple[Seed, ...]:
    paths = [
        FIXTURES / "sif" / "alpine-like-base.sif",
        FIXTURES / "sif" / "alpine-like-base-signed.sif",
        FIXTURES / "sif" / "with-overlay.sif",
        FIXTURES / "sif" / "compression" / "uncompressed.sif",
        *sorted((FIXTURES / "sif" / "upstream-sylabs").glob("*.sif")),
    ]
    return tuple(_sif_seed(p) for p in paths)


def _partition(path: Path, fs_type: int) -> tuple[int, int]:
    data = path.read_bytes()
    h = sf.SifHeader.parse(data[: sf.HEADER.size])
    for i in range(h.descriptors_total):
        start = h.descriptors_offset + i * sf.DESCRIPTOR.size
        d = sf.SifDescriptor.parse(data[start : start + sf.DESCRIPTOR.size])
        if d.used and d.data_type == sf.PARTITION and d.fs_type == fs_type:
            return d.offset, d.size
    raise LookupError(f"{path}: no partition of fs type {fs_type}")


@functools.cache
def squashfs_seeds() -> tuple[Seed, ...]:
    """Bare images (gzip, xz) and the partitions of every compression variant: the
    uncompressed one exposes inode and directory records to byte damage directly."""
    images: list[tuple[str, bytes]] = [
        (p.name, p.read_bytes())
        for p in (FIXTURES / "sqfs" / "plain.sqfs", FIXTURES / "sqfs" / "tar2sqfs-ng.sqfs")
    ]
    for name in ("uncompressed", "lz4", "zstd", "lzo", "lzma", "xz", "block4k"):
        path = FIXTURES / "sif" / "compression" / f"{name}.sif"
        off, size = _partition(path, sf.FS_SQUASHFS)
        images.append((f"{name}.sqfs", path.read_bytes()[off : off + size]))
    out = []
    for name, data in images:
        regions, fields = squashfs_layout(data)
        out.append(Seed(name, data, tuple(regions), tuple(fields)))
    return tuple(out)


@functools.cache
def ext3_seeds() -> tuple[Seed, ...]:
    """The overlay partition of with-overlay.sif (ext3, 1 KiB blocks, journal, block maps)
    and, where mke2fs is installed, ext4 images with what ext3 lacks: extent trees, inline
    data, xattr values in their own inodes (ea_inode), 64-bit group descriptors."""
    path = FIXTURES / "sif" / "with-overlay.sif"
    off, size = _partition(path, sf.FS_EXT3)
    regions, fields = _ext_layout(path, path.read_bytes(), off, size)
    data = path.read_bytes()[off : off + size]
    shift = [(a - off, b - off) for a, b in regions]
    seeds = [Seed("with-overlay.ext3", data, tuple(shift), tuple((a - off, w) for a, w in fields))]
    mke2fs = shutil.which("mke2fs")
    if mke2fs is not None:
        with tempfile.TemporaryDirectory(prefix="layerscope-ext4-seed-") as tmp:
            seeds += [_ext4_seed(mke2fs, Path(tmp), name, args) for name, args in EXT4_SEEDS]
    return tuple(seeds)


EXT4_SEEDS = (
    ("ext4-4k-inline", ["-t", "ext4", "-b", "4096", "-O", "inline_data,^has_journal"]),
    ("ext4-1k-ea-inode", ["-t", "ext4", "-b", "1024", "-I", "256",
                          "-O", "ea_inode,64bit,^has_journal"]),
)  # fmt: skip


def _ext4_seed(mke2fs: str, tmp: Path, name: str, args: list[str]) -> Seed:
    src = tmp / name / "upper"
    (src / "etc").mkdir(parents=True)
    (src / "etc" / "hostname").write_bytes(b"seed\n")  # inline data
    (src / "big.bin").write_bytes(bytes(range(256)) * 200)  # extents
    with open(src / "sparse.bin", "wb") as f:  # several extents
        for i in range(6):
            f.seek(i * 65536)
            f.write(b"x" * 5000)
    os.symlink("etc/hostname", src / "link")
    os.symlink("/" + "long-target/" * 20, src / "longlink")
    # Without root (or on a file system without xattrs) these are left out.
    with contextlib.suppress(OSError):
        os.setxattr(src / "etc", "trusted.overlay.opaque", b"y")
    with contextlib.suppress(OSError):
        os.setxattr(src / "big.bin", "user.big", b"v" * 3000)  # ea_inode where enabled
    with contextlib.suppress(OSError):
        os.mknod(src / "gone", 0o20000, 0)  # an overlayfs whiteout (char 0/0)
    for p in [src / "etc" / "hostname", src / "big.bin", src / "sparse.bin", src / "etc", src]:
        os.utime(p, (1_700_000_000, 1_700_000_000))
    image = tmp / f"{name}.img"
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"}
    subprocess.run(
        [mke2fs, "-q", "-F", *args, "-U", "0a1e5c0f-0000-4000-8000-00000000e4e4",
         "-E", "hash_seed=0a1e5c0f-0000-4000-8000-00000000e4e5", "-N", "64",
         "-d", str(src.parent), str(image), "2M"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    data = image.read_bytes()
    regions, fields = _ext_layout(image, data, 0, len(data))
    return Seed(name, data, tuple(regions), tuple(fields))
