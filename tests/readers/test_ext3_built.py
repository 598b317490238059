"""Ext3FS on images built by mke2fs -d (ext2, ext3, ext4 feature sets) from a generated
directory that is itself the reference (os.lstat); debugfs where the source cannot say."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from layerscope.errors import CorruptImageError
from layerscope.model.entry import EntryKind
from layerscope.readers.ext3.reader import Ext3FS
from tests.conftest import require, require_tool
from tests.readers.ext3_reference import (
    assert_fails_fast,
    content,
    debugfs,
    debugfs_inode_pos,
    debugfs_ls,
    entries,
    patched,
    seeded_bytes,
)

# name -> (mke2fs arguments, whether the fs keeps xattrs)
CONFIGS: dict[str, tuple[list[str], bool]] = {
    "ext2-1k-i128": (["-t", "ext2", "-b", "1024", "-I", "128"], True),
    "ext2-rev0-1k": (["-t", "ext2", "-r", "0", "-b", "1024"], False),
    "ext3-1k-i256": (["-t", "ext3", "-b", "1024", "-I", "256", "-O", "dir_index"], True),
    "ext3-4k-i128": (["-t", "ext3", "-b", "4096", "-I", "128"], True),
    "ext4-1k-i256": (["-t", "ext4", "-b", "1024", "-I", "256"], True),
    "ext4-4k-i128": (["-t", "ext4", "-b", "4096", "-I", "128"], True),
    "ext4-4k-inline": (["-t", "ext4", "-b", "4096", "-O", "inline_data"], True),
    "ext4-1k-metabg-64bit": (
        ["-t", "ext4", "-b", "1024", "-O", "meta_bg,^resize_inode,64bit"],
        True,
    ),
    "ext4-4k-bigalloc": (["-t", "ext4", "-b", "4096", "-O", "bigalloc", "-C", "16384"], True),
    "ext4-1k-ea-inode": (["-t", "ext4", "-b", "1024", "-I", "256", "-O", "ea_inode"], True),
    "ext4-64k": (["-t", "ext4", "-b", "65536", "-O", "^has_journal,^metadata_csum"], True),
}
MTIME = 1_700_000_000


def build_source(src: Path, huge_xattr: bool) -> None:
    """Every kind of object mke2fs -d can copy, with the awkward sizes and names."""
    src.mkdir()
    for d in ("data", "links", "dev", "attrs", "big", "names", "owners", "modes", "deep/a/b/c"):
        (src / d).mkdir(parents=True)
    (src / "data/small.txt").write_bytes(b"hello\n")
    (src / "data/empty").write_bytes(b"")
    (src / "data/indirect.bin").write_bytes(seeded_bytes(1, 20_000))  # > 12 1K blocks
    (src / "data/dind.bin").write_bytes(seeded_bytes(2, 300 * 1024 + 123))  # > 12 + 256 1K blocks
    (src / "data/zeros.bin").write_bytes(bytes(10_000))
    with (src / "data/sparse.bin").open("wb") as f:  # at 1K, 67 MiB needs the triple indirect
        f.write(seeded_bytes(3, 100))
        f.seek(3 << 20)
        f.write(seeded_bytes(4, 5000))
        f.seek(67 << 20)
        f.write(seeded_bytes(7, 3000))
        f.truncate((68 << 20) + 7)
    with (src / "data/fragmented.bin").open("wb") as f:  # many extents: a deeper extent tree
        for i in range(40):
            f.seek(i * 8192)
            f.write(seeded_bytes(100 + i, 1024))
    (src / "deep/a/b/c/leaf.txt").write_bytes(b"deep\n")
    (src / "deep/lost+found").mkdir()  # hidden only directly under the root
    os.symlink("../data/small.txt", src / "links/short")
    # with 128-byte inodes: a fast symlink whose i_blocks counts its xattr block
    os.setxattr(src / "links/short", "trusted.link", b"v", follow_symlinks=False)
    os.symlink("/opt/" + "very-long-directory-name/" * 5 + "target", src / "links/long")
    os.symlink("x" * 1000, src / "links/longest")
    os.link(src / "data/small.txt", src / "links/hard")
    os.mkfifo(src / "dev/fifo")
    os.mknod(src / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(src / "dev/sda1", stat.S_IFBLK | 0o660, os.makedev(8, 1))
    os.mknod(src / "dev/bigminor", stat.S_IFCHR | 0o600, os.makedev(259, 70000))
    os.mknod(src / "dev/whiteout", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    os.mknod(src / "dev/sock", stat.S_IFSOCK | 0o755)
    small = src / "attrs/small"
    small.write_bytes(b"x")
    os.setxattr(small, "user.a", b"1")
    os.setxattr(small, "trusted.t", b"bin\0ary")
    (src / "attrs/opaque").mkdir()
    os.setxattr(src / "attrs/opaque", "trusted.overlay.opaque", b"y")
    large = src / "attrs/large"
    large.write_bytes(b"")
    os.setxattr(large, "user.large", seeded_bytes(5, 200))
    many = src / "attrs/many"
    many.write_bytes(b"")
    for i in range(12):
        os.setxattr(many, f"user.k{i:02d}", seeded_bytes(200 + i, 30))
    acl = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, ident)
        for tag, perm, ident in (
            (0x01, 6, 0xFFFFFFFF),
            (0x02, 4, 1234),
            (0x04, 4, 0xFFFFFFFF),
            (0x08, 5, 4321),
            (0x10, 5, 0xFFFFFFFF),
            (0x20, 0, 0xFFFFFFFF),
        )
    )
    (src / "attrs/acl").write_bytes(b"")
    os.setxattr(src / "attrs/acl", "system.posix_acl_access", acl)
    if huge_xattr:
        (src / "attrs/huge").write_bytes(b"")
        os.setxattr(src / "attrs/huge", "user.huge", seeded_bytes(6, 3000))
    for i in range(600):
        (src / "big" / f"entry-{i:04d}").write_bytes(b"")
    for raw in (b"caf\xe9", b"\xff\xfe", "ünïcödé".encode(), b"a\nb", b"n" * 255):
        fd = os.open(os.path.join(os.fsencode(src / "names"), raw), os.O_CREAT | os.O_WRONLY)
        os.close(fd)
    for name, uid, gid in (("high", 100_000, 200_000), ("user", 1000, 1000), ("max", 2**32 - 2, 7)):
        (src / "owners" / name).write_bytes(b"")
        os.lchown(src / "owners" / name, uid, gid)
    (src / "owners/dir").mkdir()
    os.lchown(src / "owners/dir", 65536, 65537)
    for name, mode in (("suid", 0o4755), ("sgid", 0o2711), ("none", 0o000)):
        (src / "modes" / name).write_bytes(b"#!/bin/sh\n")
        os.chmod(src / "modes" / name, mode)
    (src / "modes/sticky").mkdir()
    os.chmod(src / "modes/sticky", 0o1777)
    # Fixed times last, children before parents. (Post-2038 times are left out: mke2fs 1.47.0
    # writes them without the epoch bits the kernel expects; see test_epoch_bits_*.)
    for i, (dirpath, dirnames, filenames) in enumerate(os.walk(src, topdown=False)):
        for j, name in enumerate(sorted(dirnames + filenames)):
            t = MTIME + 1000 * i + j
            os.utime(os.path.join(dirpath, name), (t, t), follow_symlinks=False)
    os.utime(src / "data/empty", (-86400, -86400))


def source_entries(src: Path, with_xattrs: bool) -> dict[str, tuple[object, ...]]:
    """The reference: what os.lstat and getxattr say about each object below src."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            kind = EntryKind.from_st_mode(st.st_mode)
            size, target, rdev = 0, None, None
            if kind is EntryKind.FILE:
                size = st.st_size
            elif kind is EntryKind.SYMLINK:
                raw = os.readlink(os.fsencode(full))
                size, target = len(raw), os.fsdecode(raw)
            elif kind in (EntryKind.CHAR, EntryKind.BLOCK):
                rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
            xattrs = None
            if with_xattrs:
                names = os.listxattr(full, follow_symlinks=False)
                xattrs = {n: os.getxattr(full, n, follow_symlinks=False) for n in names} or None
            rel = "/" + os.path.relpath(full, src)
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size,
                        st.st_mtime_ns // 10**9, target, rdev, xattrs)  # fmt: skip
    return out


# mke2fs 1.47.0 with inline_data drops a regular file's trailing hole from i_size; for such
# files debugfs (which reads what is on disk) is the reference instead of the source dir.
TRAILING_HOLE_QUIRK = {"ext4-4k-inline": ("/data/sparse.bin",)}


def debugfs_size(img: Path, path: str) -> int:
    m = re.search(r"\bSize: (\d+)", debugfs(img, f"stat {path}").decode())
    assert m
    return int(m[1])


def apply_quirks(name: str, img: Path, ref: dict[str, tuple[object, ...]]) -> None:
    for path in TRAILING_HOLE_QUIRK.get(name, ()):
        row = list(ref[path])
        row[4] = debugfs_size(img, path)
        ref[path] = tuple(row)


def expected_digest(name: str, img: Path, src: Path, path: str) -> str:
    if path in TRAILING_HOLE_QUIRK.get(name, ()):
        return hashlib.sha256(debugfs(img, f"cat {path}")).hexdigest()
    digest = hashlib.sha256()
    with (src / path.lstrip("/")).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def reader_entries(fs: Ext3FS) -> dict[str, tuple[object, ...]]:
    return {
        e.path: (e.kind, e.mode, e.uid, e.gid, e.size, e.mtime, e.target, e.rdev, e.xattrs)
        for e in entries(fs)
    }


class Images:
    """Builds each source tree and each CONFIGS image once per module, on first use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sources: dict[bool, Path] = {}
        self._images: dict[str, Path] = {}

    def source(self, huge_xattr: bool) -> Path:
        if huge_xattr not in self._sources:
            # mknod, chown and trusted.* xattrs; CI runs as root
            require(os.geteuid() == 0, "building the ext source tree needs root")
            src = self.workdir / ("src-huge" if huge_xattr else "src")
            build_source(src, huge_xattr)
            self._sources[huge_xattr] = src
        return self._sources[huge_xattr]

    def get(self, name: str) -> tuple[Path, Path]:
        """(image, source dir) for CONFIGS[name]."""
        src = self.source(huge_xattr="ea-inode" in name)
        img = self.workdir / f"{name}.img"
        if name not in self._images:
            mke2fs = require_tool("mke2fs")
            args = CONFIGS[name][0]
            cmd = [mke2fs, "-q", "-F", *args, "-N", "2048", "-d", str(src), str(img), "32M"]
            subprocess.run(cmd, check=True, capture_output=True)
            # mke2fs -d writes linear directories; e2fsck -D indexes the big one (htree).
            fsck = subprocess.run([require_tool("e2fsck"), "-fyD", str(img)], capture_output=True)
            assert fsck.returncode in (0, 1), fsck.stdout
            self._images[name] = img
        return img, src


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return Images(tmp_path_factory.mktemp("ext3-build"))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_built_image_entries_match_source(images: Images, name: str) -> None:
    img, src = images.get(name)
    keeps_xattrs = CONFIGS[name][1]
    with Ext3FS(str(img)) as fs:
        got = reader_entries(fs)
        ref = source_entries(src, keeps_xattrs)
        apply_quirks(name, img, ref)
        assert got.keys() == ref.keys()
        for path in sorted(ref):
            assert got[path] == ref[path], path
        # lost+found: preallocated blocks holding one empty record each (rec_len = block size,
        # which 64 KiB blocks store as 65535)
        every = {e.path for e in entries(fs, hide=())}
        assert every - set(got) == {"/lost+found"}
        assert debugfs_ls(img, "/lost+found") == []
        # hard links share the inode number, nothing else does
        ino_of = {e.path: e.ino for e in entries(fs)}
        assert ino_of["/links/hard"] == ino_of["/data/small.txt"]
        assert len(set(ino_of.values())) == len(ino_of) - 1


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_built_image_content_matches_source(images: Images, name: str) -> None:
    img, src = images.get(name)
    with Ext3FS(str(img)) as fs:
        files = [e for e in entries(fs) if e.kind is EntryKind.FILE]
        assert len(files) > 600
        for e in files:
            got = hashlib.sha256()
            for chunk in fs.read_content(e.loc, e.size):
                got.update(chunk)
            assert got.hexdigest() == expected_digest(name, img, src, e.path), e.path
        sparse = next(e for e in files if e.path == "/data/sparse.bin")
        with (src / "data/sparse.bin").open("rb") as f:  # a prefix ending inside the data
            f.seek((3 << 20) - 10)
            want = f.read(4010)
        assert content(fs, sparse, (3 << 20) + 4000)[-4010:] == want


def test_built_images_exercise_the_formats(images: Images) -> None:
    """The matrix really covers htree, extent trees with depth, inline data and ea_inode."""
    img, _ = images.get("ext3-1k-i256")
    assert "Flags: 0x1000" in debugfs(img, "stat /big").decode()  # EXT2_INDEX_FL
    assert b"Root node dump" in debugfs(img, "htree_dump /big")
    img, _ = images.get("ext4-1k-i256")
    assert re.search(r"^\s*0/\s*1 ", debugfs(img, "ex /data/fragmented.bin").decode(), re.M)
    img, _ = images.get("ext4-4k-inline")
    assert "Size of inline data" in debugfs(img, "stat /data/small.txt").decode()
    img, _ = images.get("ext4-1k-ea-inode")
    assert "File ACL: 0" in debugfs(img, "stat /attrs/huge").decode()
    img, _ = images.get("ext2-1k-i128")
    assert "BLOCKS:\n(0-11)" in debugfs(img, "stat /data/dind.bin").decode()
    assert "(DIND)" in debugfs(img, "stat /data/dind.bin").decode()
    assert "(TIND)" in debugfs(img, "stat /data/sparse.bin").decode()


def test_epoch_bits_match_debugfs(images: Images, tmp_path: Path) -> None:
    """Times past 2038 use the two epoch bits of i_mtime_extra (256-byte inodes)."""
    img, _ = images.get("ext4-1k-i256")
    copy = tmp_path / "epoch.img"
    shutil.copyfile(img, copy)
    debugfs(copy, "sif /data/small.txt mtime 20991231120000", write=True)
    text = debugfs(copy, "stat /data/small.txt").decode()
    m = re.search(r"\bmtime: 0x[0-9a-f]+:[0-9a-f]+ -- (.+)", text)
    assert m
    want = datetime.strptime(m[1].strip(), "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
    with Ext3FS(str(copy)) as fs:
        e = next(e for e in entries(fs) if e.path == "/data/small.txt")
    assert e.mtime == int(want.timestamp()) == 4102401600


def test_uninitialized_extent_reads_zeros(images: Images, tmp_path: Path) -> None:
    """Blocks 2-5 punched then fallocated: allocated (old bytes still on disk) but unwritten."""
    img, _ = images.get("ext4-1k-i256")
    copy = tmp_path / "uninit.img"
    shutil.copyfile(img, copy)
    debugfs(copy, "punch /data/indirect.bin 2 5", write=True)
    debugfs(copy, "fallocate /data/indirect.bin 2 5", write=True)
    assert "Uninit" in debugfs(copy, "ex /data/indirect.bin").decode()
    want = debugfs(copy, "cat /data/indirect.bin")
    assert want[2048:6144] == bytes(4096)
    with Ext3FS(str(copy)) as fs:
        e = next(e for e in entries(fs) if e.path == "/data/indirect.bin")
        assert content(fs, e) == want


# -- corrupt input that needs an ext4 extent tree (the overlay fixture has none) ---------


def test_bad_extent_header(images: Images, tmp_path: Path) -> None:
    img, _ = images.get("ext4-1k-i256")
    pos = debugfs_inode_pos(img, "/data/dind.bin", 1024) + 0x28 + 6  # eh_depth
    bad = patched(tmp_path, img, pos, struct.pack("<H", 9))
    assert "extent" in assert_fails_fast(CorruptImageError, bad)
