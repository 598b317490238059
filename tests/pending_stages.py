"""Three build stages as real SIFs whose steps leave many files the same size with the same
attributes (so a content comparison must settle them): stage 2 rewrites a third of them
with other bytes of the same length, chmods one of those and hard-links another, grows,
adds and removes others;
stage 3 does it again on another third. Made by mksquashfs (gzip, then xz, then zstd)
and siftool, as `apptainer build` lays a SIF out (a primary system partition); the
squashfs files are kept beside them for sqfsdiff."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool

FILES = 90  # per directory of /data: each step leaves 60 of them pending
BASE_TIME = 1_600_000_000  # every file's mtime, but what a step rewrites (one day later)
COMPRESSORS = ("gzip", "xz", "zstd")


@dataclass(frozen=True)
class Stage:
    sif: Path
    sqfs: Path


def _body(name: str, size: int, salt: str = "") -> bytes:
    seed = hashlib.sha256(f"{name}{salt}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def _write(root: Path, rel: str, data: bytes, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (BASE_TIME, BASE_TIME))


def _stage_one(root: Path) -> None:
    for i in range(FILES):
        _write(root, f"data/f{i:03d}.bin", _body(f"f{i}", 3000 + 41 * i))
    for i in range(20):
        _write(root, f"usr/share/doc/pkg{i}/README", _body(f"doc{i}", 500 + i))
    _write(root, "etc/motd", b"stage one\n")
    _write(root, ".singularity.d/runscript", b'#!/bin/sh\nexec /bin/sh "$@"\n', 0o755)
    _write(root, ".singularity.d/Singularity", b"Bootstrap: scratch\n")


def _next_stage(root: Path, k: int) -> None:
    """Stage k+1 from stage k's tree, in place."""
    for i in range(FILES):
        path = root / f"data/f{i:03d}.bin"
        if i % 3 == k - 1:  # same size, other bytes: only reading can tell
            path.write_bytes(_body(f"f{i}", path.stat().st_size, salt=f"stage{k + 1}"))
            os.utime(path, (BASE_TIME + 86_400 * k,) * 2)
    (root / f"data/f{k - 1:03d}.bin").chmod(0o600)  # a pair modified already ("mode")
    # a rewritten file gains a hard link (its link count changes: sqfsdiff's "inode format")
    os.link(root / f"data/f{k + 2:03d}.bin", root / f"data/f{k + 2:03d}.link")
    grown = root / f"data/f{89 - k:03d}.bin"
    grown.write_bytes(grown.read_bytes() + b"more")
    _write(root, f"opt/stage{k + 1}/tool", _body(f"tool{k}", 7000), 0o755)
    shutil.rmtree(root / f"usr/share/doc/pkg{k}")
    _write(root, ".singularity.d/Singularity", f"Bootstrap: localimage\n# stage {k + 1}\n".encode())


def make_stage_sif(root: Path, out: Path, compressor: str) -> Stage:
    """mksquashfs the tree, then siftool new + add, as tests.portability_support.make_sif."""
    mksquashfs, siftool = require_tool("mksquashfs"), require_tool("siftool")
    sqfs = out.with_suffix(".sqfs")
    subprocess.run(
        [mksquashfs, str(root), str(sqfs), "-noappend", "-quiet", "-no-progress",
         "-comp", compressor],
        check=True, timeout=300,
    )  # fmt: skip
    subprocess.run([siftool, "new", str(out)], check=True, capture_output=True)
    subprocess.run(
        [siftool, "add", str(out), str(sqfs), "--datatype", "4", "--parttype", "2",
         "--partfs", "1", "--partarch", "2", "--groupid", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return Stage(out, sqfs)


def build_stages(work: Path) -> list[Stage]:
    root = work / "rootfs"
    if root.exists():
        shutil.rmtree(root)
    _stage_one(root)
    stages = []
    for k, comp in enumerate(COMPRESSORS, start=1):
        if k > 1:
            _next_stage(root, k - 1)
        stages.append(make_stage_sif(root, work / f"s{k}.sif", comp))
    return stages


def sqfsdiff_differs(a: Path, b: Path) -> set[str]:
    """The regular files sqfsdiff says differ in content (`regular file /x differs`)."""
    tool = require_tool("sqfsdiff")
    out = subprocess.run(
        [tool, "-a", str(a), "-b", str(b)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout  # fmt: skip
    return set(re.findall(r"^regular file (/.*) differs$", out, re.MULTILINE))
