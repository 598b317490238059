"""Parsers for what the reference tools wrote into fixtures/expected/."""

from __future__ import annotations

import calendar
import json
import re
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import EXPECTED, require_tool

LLN = re.compile(
    r"^(?P<mode>[-dlcbps][-rwxsStT]{9}) (?P<uid>\d+)/(?P<gid>\d+) +"
    r"(?:(?P<major>\d+), *(?P<minor>\d+)|(?P<size>\d+)) "
    r"(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d) (?P<path>.*?)(?: -> (?P<target>.*))?$"
)
TYPES = {
    "-": "file",
    "d": "dir",
    "l": "symlink",
    "c": "char",
    "b": "block",
    "p": "fifo",
    "s": "socket",
}


def mode_bits(text: str) -> int:
    """'-rwsr-xr-x' -> 0o4755 (permission bits only)."""
    bits = 0
    for i, ch in enumerate(text[1:10]):
        if ch in "rwxst":  # 's'/'t' mean execute plus the special bit; 'S'/'T' without execute
            bits |= 1 << (8 - i)
    for pos, flag in ((3, stat.S_ISUID), (6, stat.S_ISGID), (9, stat.S_ISVTX)):
        if text[pos] in "sStT":
            bits |= flag
    return bits


def parse_lln(path: Path) -> dict[str, dict[str, Any]]:
    """unsquashfs -lln output -> {path: {type, mode, uid, gid, size, mtime, target, rdev}}."""
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        m = LLN.match(line)
        assert m, f"unparsable reference line: {line!r}"
        kind = TYPES[m["mode"][0]]
        rdev = [int(m["major"]), int(m["minor"])] if m["major"] is not None else None
        out[m["path"]] = {
            "type": kind,
            "mode": mode_bits(m["mode"]),
            "uid": int(m["uid"]),
            "gid": int(m["gid"]),
            "size": int(m["size"]) if m["size"] is not None else None,
            "mtime_minute": calendar.timegm(time.strptime(m["date"], "%Y-%m-%d %H:%M")),
            "target": m["target"],
            "rdev": rdev,
        }
    return out


def counts(name: str) -> dict[str, int]:
    data: dict[str, int] = json.loads((EXPECTED / f"{name}.counts.json").read_text())
    return data


def siftool_rows(text: str) -> list[dict[str, Any]]:
    """The descriptor rows of `siftool list` output."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\d+)\s+\|(\S+)\s+\|(.+?)\s*\|(\d+)-(\d+)\s+\|(.*)$", line)
        if m:
            rows.append(
                {
                    "id": int(m[1]),
                    "group": m[2],
                    "link": m[3].strip(),
                    "start": int(m[4]),
                    "end": int(m[5]),
                    "type": m[6].strip(),
                }
            )
    return rows


def partition(name: str, kind: str = "Squashfs") -> tuple[int, int]:
    """(offset, size) of the FS partition of `kind` in a SIF fixture, from siftool's listing."""
    text = (EXPECTED / "sif" / f"{name}.siftool.txt").read_text()
    for row in siftool_rows(text):
        if row["type"].startswith(f"FS ({kind}"):
            return row["start"], row["end"] - row["start"]
    raise AssertionError(f"no {kind} partition listed for {name}")


def parse_rootfs_tsv(path: Path) -> dict[str, dict[str, Any]]:
    """umoci unpack rootfs listing: path, type, octal mode, uid:gid, size, nlink, target."""
    kinds = {("f" if k == "-" else k): v for k, v in TYPES.items()}  # find -printf %y
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        rel, kind, mode, owner, size, nlink, target = line.split("\t")
        uid, gid = owner.split(":")
        out["/" + rel] = {
            "type": kinds[kind],
            "mode": int(mode, 8),
            "uid": int(uid),
            "gid": int(gid),
            "size": int(size),
            "links": int(nlink),
            "target": target or None,
        }
    return out


def unique_inode_bytes(image: Path, work: Path) -> int:
    """What the regular files of a SIF's first squashfs partition (or a bare squashfs)
    hold, hard-linked content once: `unsquashfs` extracts it and each inode's size counts
    once (as `du` counts). The reference for every layerscope total of stored bytes."""
    unsquashfs = require_tool("unsquashfs")
    offset = 0
    if image.read_bytes()[32:42] == b"SIF_MAGIC\0":
        from layerscope.readers.sif.reader import SifReader

        reader = SifReader(str(image))
        try:
            offset = next(
                int(info.extra["offset"])
                for info in reader.describe().layers
                if info.media_type == "squashfs"
            )
        finally:
            reader.close()
    out = work / "unsquashfs-root"
    subprocess.run(
        [unsquashfs, "-q", "-n", "-o", str(offset), "-d", str(out), str(image)],
        check=True,
        capture_output=True,
    )
    sizes = {}
    for path in out.rglob("*"):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            sizes[st.st_ino] = st.st_size
    return sum(sizes.values())
