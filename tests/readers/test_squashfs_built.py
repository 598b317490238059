"""SquashFS reader vs unsquashfs on images built by mksquashfs in the test: block sizes,
compressors and their options, fragments, sparse files, odd names, big directories,
extended inodes with xattrs."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from layerscope.model.entry import EntryKind
from layerscope.readers.squashfs.reader import SquashFS
from tests.conftest import require_tool
from tests.readers.sqfs_reference import entry_row, read_all, reference_listing


def _make_tree(root: Path) -> None:
    root.mkdir()
    rng = random.Random(7)
    (root / "big.bin").write_bytes(rng.randbytes(300_000) + b"\0" * 70_000 + b"tail" * 999)
    with open(root / "sparse.img", "wb") as f:  # zero blocks are stored as sparse
        f.write(b"head")
        f.seek(3 * 1024 * 1024)
        f.write(b"end")
    elf = Path("/bin/ls").read_bytes()  # x86 code, so -Xbcj x86 has something to filter
    (root / "code.elf").write_bytes(elf)
    (root / "text.txt").write_bytes(b"hello squashfs\n" * 500)
    (root / "empty").write_bytes(b"")
    os.link(root / "text.txt", root / "hard.txt")
    (root / "rel").symlink_to("text.txt")
    os.mkfifo(root / "fifo")
    long_name = "L" * 255
    (root / long_name).write_bytes(b"long")
    (root / os.fsdecode(b"caf\xe9-latin1")).write_bytes(b"non-utf8")
    (root / "uni-ünïcødé 日本").write_bytes(b"utf8")
    big = root / "many"
    big.mkdir()
    for i in range(700):  # > 256 per header and > 8 KiB of listing: headers + index
        (big / f"entry-{i:05d}-{'x' * (i % 40)}").write_bytes(str(i).encode())
    deep = root
    for i in range(30):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(b"leaf")
    os.chmod(root / "text.txt", 0o4755)
    _add_specials(root)


def _add_specials(root: Path) -> None:
    """Extended inodes: xattrs on files, dirs, links, fifos; a real device node as root.

    Best effort: what the file system or our privileges refuse is simply not in the tree,
    and the test compares against what the OS reports for the source."""
    shared = b"shared-value-" * 8  # stored once, then referenced out of line
    attrs = [
        ("text.txt", "user.a", b"1"),
        ("text.txt", "security.b", shared),
        ("big.bin", "security.b", shared),
        ("big.bin", "trusted.c", b"\x00\xff"),
        ("many", "user.d", b"dir"),
        ("rel", "trusted.link", b"on a symlink"),
        ("fifo", "trusted.ipc", b"on a fifo"),
    ]
    for name, kind, dev in (("tty", stat.S_IFCHR, (4, 64)), ("sda9", stat.S_IFBLK, (8, 9))):
        try:
            os.mknod(root / name, 0o620 | kind, os.makedev(*dev))
            attrs.append((name, "trusted.dev", b"on a device"))
        except OSError:
            pass
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        attrs.append(("sock", "trusted.ipc", b"on a socket"))
    except OSError:
        pass
    finally:
        sock.close()
    for name, key, value in attrs:
        with contextlib.suppress(OSError):
            os.setxattr(root / name, key, value, follow_symlinks=False)


def _source_xattrs(path: Path) -> dict[str, bytes] | None:
    try:
        keys = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return None
    attrs = {k: os.getxattr(path, k, follow_symlinks=False) for k in keys}
    return attrs or None


BUILDS = {
    "gzip-4k": ["-b", "4K"],
    "gzip-1m": ["-b", "1M"],
    "lz4-hc": ["-comp", "lz4", "-Xhc"],
    "xz-bcj": ["-comp", "xz", "-Xbcj", "x86"],
    "zstd-nofrag": ["-comp", "zstd", "-no-fragments"],
    "lzo-always-frag": ["-comp", "lzo", "-always-use-fragments"],
    "lzma": ["-comp", "lzma"],
    "uncompressed": ["-noI", "-noD", "-noF", "-noX"],
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src") / "root"
    _make_tree(root)
    return root


@pytest.mark.parametrize("variant", list(BUILDS))
def test_built_image(variant: str, tree: Path, tmp_path: Path) -> None:
    tool = require_tool("mksquashfs")
    image = tmp_path / f"{variant}.sqfs"
    pseudo = [
        "-p",
        "dev d 755 0 0",
        "-p",
        "dev/null c 666 0 0 1 3",
        "-p",
        "dev/loop9 b 660 0 6 7 9",
    ]
    cmd = [tool, str(tree), str(image), "-noappend", "-no-progress", "-quiet", *pseudo]
    subprocess.run([*cmd, *BUILDS[variant]], check=True, capture_output=True)
    expected = reference_listing(image)
    with SquashFS(str(image)) as fs:
        entries = list(fs.iter_entries())
        assert {e.path: entry_row(e) for e in entries} == expected
        by_path = {e.path: e for e in entries}
        for e in entries:
            source = tree / e.path[1:]
            if e.kind is EntryKind.FILE:
                assert read_all(fs, e) == source.read_bytes(), e.path
            if not e.path.startswith("/dev/"):  # pseudo-defined, not in the source tree
                assert (e.xattrs or None) == _source_xattrs(source), e.path
    assert by_path["/hard.txt"].ino == by_path["/text.txt"].ino
    assert by_path["/" + "L" * 255].size == 4
    assert os.fsencode(by_path["/caf\udce9-latin1"].path) == b"/caf\xe9-latin1"
    assert by_path["/dev/loop9"].rdev == (7, 9) and by_path["/dev/loop9"].gid == 6
    assert sum(1 for p in by_path if p.startswith("/many/")) == 700


def test_large_directory_listing_is_sorted(tree: Path, tmp_path: Path) -> None:
    tool = require_tool("mksquashfs")
    image = tmp_path / "many.sqfs"
    cmd = [tool, str(tree / "many"), str(image), "-noappend", "-no-progress", "-quiet"]
    subprocess.run(cmd, check=True, capture_output=True)
    with SquashFS(str(image)) as fs:
        names = [e.path for e in fs.iter_entries()]
    assert names == sorted(reference_listing(image))
