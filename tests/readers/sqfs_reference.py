"""Reference-tool helpers for the squashfs tests: unsquashfs output parsed, entries compared."""

from __future__ import annotations

import os
import re
import struct
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.squashfs.reader import SquashFS
from tests.conftest import require_tool

_LLN = re.compile(rb"^(\S{10}) (\d+)/(\d+) +(\d+|\d+, *\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.*)$")

Row = tuple[str, int, int, "str | None", str, "str | None"]


def parse_lln(data: bytes) -> dict[str, Row]:
    """unsquashfs -lln -d '' output -> {path: (mode, uid, gid, size, mtime, target)}."""
    rows: dict[str, Row] = {}
    for line in data.splitlines():
        m = _LLN.match(line)
        assert m, line
        mode_b, uid, gid, size_b, mtime, rest = m.groups()
        mode = mode_b.decode()
        target = None
        if mode.startswith("l"):
            rest, _, tgt = rest.partition(b" -> ")
            target = tgt.decode("utf-8", "surrogateescape")
        path = rest.decode("utf-8", "surrogateescape")
        if not path:
            continue  # the root directory
        size = None if mode[0] == "d" else re.sub(r"\s+", "", size_b.decode())
        rows[path] = (mode, int(uid), int(gid), size, mtime.decode(), target)
    return rows


def entry_row(e: Entry) -> Row:
    if e.kind is EntryKind.DIR:
        size = None
    elif e.rdev is not None:
        size = f"{e.rdev[0]},{e.rdev[1]}"
    else:
        size = str(e.size)
    mtime = datetime.fromtimestamp(e.mtime, timezone.utc).strftime("%Y-%m-%d %H:%M")
    return (e.ls_mode(), e.uid, e.gid, size, mtime, e.target)


def reference_listing(image: Path) -> dict[str, Row]:
    tool = require_tool("unsquashfs")
    out = subprocess.run(
        [tool, "-lln", "-d", "", str(image)],
        check=True,
        capture_output=True,
        env={**os.environ, "TZ": "UTC"},
    ).stdout
    return parse_lln(out)


def reference_cat(image: Path, paths: list[str]) -> bytes:
    tool = require_tool("unsquashfs")
    args = [os.fsencode(p) for p in paths]
    return subprocess.run(
        [tool.encode(), b"-cat", os.fsencode(str(image)), *args], check=True, capture_output=True
    ).stdout


def read_all(fs: SquashFS, e: Entry) -> bytes:
    return b"".join(fs.read_content(e.loc, e.size))


def looping_squashfs(tmp_path: Path) -> Path:
    """mksquashfs of /a/sub/, then sub's directory entry pointed at a's inode: a cycle."""
    tool = require_tool("mksquashfs")
    src = tmp_path / "tree"
    (src / "a" / "sub").mkdir(parents=True)
    (src / "a" / "file").write_text("x\n")
    image = tmp_path / "loop.sqfs"
    # Uncompressed tables (-noI -noD ...), so the directory entries can be patched in place.
    flags = ["-noI", "-noD", "-noF", "-noX", "-noappend", "-no-progress", "-quiet"]
    subprocess.run([tool, str(src), str(image), *flags], check=True, capture_output=True)
    raw = bytearray(image.read_bytes())
    (dir_table,) = struct.unpack_from("<Q", raw, 72)
    # entry: inode offset u16, inode number delta s16, type u16 (1 = dir), name size - 1, name
    a = raw.index(b"\x01\x00\x00\x00a", dir_table) - 4
    sub = raw.index(b"\x01\x00\x02\x00sub", dir_table) - 4
    raw[sub : sub + 2] = raw[a : a + 2]
    image.write_bytes(bytes(raw))
    return image
