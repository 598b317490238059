"""Shared helpers for the Ext3FS tests: debugfs output parsed, the ext3 overlay of
with-overlay.sif cut out of its SIF, and the corrupt-input harness."""

from __future__ import annotations

import os
import random
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from layerscope.errors import LayerscopeError
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.ext3.reader import Ext3FS
from tests.conftest import EXPECTED, FIXTURES, require_tool

SIF = FIXTURES / "sif" / "with-overlay.sif"
SIFTOOL = EXPECTED / "sif" / "with-overlay.siftool.txt"


def overlay_span() -> tuple[int, int]:
    """(offset, size) of the Ext3 overlay object, from siftool's listing."""
    m = re.search(r"\|(\d+)-(\d+)\s*\|FS \(Ext3/Overlay/", SIFTOOL.read_text())
    assert m, "siftool reference lists no Ext3 overlay"
    return int(m[1]), int(m[2]) - int(m[1])


def debugfs(img: Path, cmd: str, write: bool = False) -> bytes:
    args = [require_tool("debugfs"), *(["-w"] if write else []), "-R", cmd, str(img)]
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(args, capture_output=True, check=True, env=env).stdout


def debugfs_ls(img: Path, path: str) -> list[tuple[int, int, int, int, str, str]]:
    """`ls -p`: (ino, mode, uid, gid, name, size) for each live record but . and .."""
    rows = []
    for line in debugfs(img, f"ls -p {path}").decode().splitlines():
        if not line.startswith("/"):
            continue
        _, ino, mode, uid, gid, name, size, _ = line.split("/")
        if name not in (".", "..") and int(ino):  # inode 0: an empty record
            rows.append((int(ino), int(mode, 8), int(uid), int(gid), name, size))
    return rows


def debugfs_tree(img: Path, root: str) -> dict[str, tuple[int, int, int, int, str]]:
    """Recursive `ls -p` below root: relative path -> (ino, mode, uid, gid, size)."""
    out: dict[str, tuple[int, int, int, int, str]] = {}
    todo = [""]
    while todo:
        rel = todo.pop()
        for ino, mode, uid, gid, name, size in debugfs_ls(img, root + rel or "/"):
            path = f"{rel}/{name}"
            out[path] = (ino, mode, uid, gid, size)
            if stat.S_ISDIR(mode):
                todo.append(path)
    return out


def debugfs_xattrs(img: Path, path: str) -> dict[str, bytes]:
    """`ea_list` values printed as "quoted" text or hex bytes."""
    out: dict[str, bytes] = {}
    for line in debugfs(img, f'ea_list "{path}"').decode().splitlines():
        m = re.match(r"\s+(\S+) \((\d+)\)(?: = (.*))?$", line)
        if not m:
            continue
        raw = m[3] or ""
        if raw.startswith('"'):
            out[m[1]] = raw[1:-1].encode()
        else:
            out[m[1]] = bytes(int(h, 16) for h in raw.split())
        assert len(out[m[1]]) == int(m[2])
    return out


def debugfs_block_of(img: Path, path: str) -> int:
    return int(debugfs(img, f"blocks {path}").split()[0])


def debugfs_inode_pos(img: Path, path: str, block_size: int) -> int:
    text = debugfs(img, f"imap {path}").decode()
    m = re.search(r"located at block (\d+), offset (0x[0-9a-f]+)", text)
    assert m, text
    return int(m[1]) * block_size + int(m[2], 16)


def entries(fs: Ext3FS, root: str = "/", hide: tuple[str, ...] = ("lost+found",)) -> list[Entry]:
    return list(fs.iter_entries(root, hide))


def content(fs: Ext3FS, e: Entry, size: int | None = None) -> bytes:
    return b"".join(fs.read_content(e.loc, e.size if size is None else size))


def seeded_bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def cut_overlay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The overlay partition copied out of its SIF: a file debugfs can read and tests
    can patch (each test module makes it a module-scoped `overlay_img` fixture)."""
    off, size = overlay_span()
    img = tmp_path_factory.mktemp("ovl") / "overlay.ext3"
    with SIF.open("rb") as f:
        f.seek(off)
        img.write_bytes(f.read(size))
    return img


# -- corrupt input -------------------------------------------------------------------------


def patched(tmp_path: Path, img: Path, pos: int, data: bytes) -> Path:
    out = tmp_path / f"patched-{pos}.img"
    raw = bytearray(img.read_bytes())
    raw[pos : pos + len(data)] = data
    out.write_bytes(bytes(raw))
    return out


def read_everything(path: Path, size: int | None = None) -> None:
    with Ext3FS(str(path), size=size) as fs:
        for e in fs.iter_entries("/", ()):
            if e.kind is EntryKind.FILE:
                for _ in fs.read_content(e.loc, e.size):
                    pass


def assert_fails_fast(exc: type[LayerscopeError], path: Path, size: int | None = None) -> str:
    start = time.monotonic()
    with pytest.raises(exc) as info:
        read_everything(path, size)
    assert time.monotonic() - start < 1.0
    msg = str(info.value)
    assert "\n" not in msg and path.name in msg
    return msg
