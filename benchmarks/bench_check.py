"""A full `check` (every content-based analysis: digests for waste and duplicates, the
secret scan of every text file, the package databases) against reading all the image's
contents once with the reference tools: `tar -xzOf` of every layer for the OCI image,
`sqfs2tar > /dev/null` for the SIF's squashfs. Goal: <= 1.5x (issue 16). And
`inspect --analyze --no-cache` against that `check` (the same analysis plus the
portability report; issue 15: it listed every layer twice): goal <= 1.1x.

Each `check` runs as on a CI machine that never saw the image: a new, empty cache
directory (the index cache it writes while loading lets dive's numbers reuse the listing
instead of reading the layers again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench_open import Timing, run_cli, run_tool


@dataclass(slots=True)
class CheckResult:
    name: str
    reference: str
    ref: Timing = field(default_factory=Timing)
    check: Timing = field(default_factory=Timing)
    goal: float = 1.5  # ours <= goal x the reference


def _interleaved(name: str, reference: str, ref_cmd: list[list[str]], args: list[str],
                 reps: int) -> CheckResult:  # fmt: skip
    res = CheckResult(name, reference)
    for _ in range(reps):
        res.ref.add(sum(run_tool(cmd) for cmd in ref_cmd))
        xdg = tempfile.mkdtemp(prefix="layerscope-bench-xdg-")
        try:
            secs, hwm = run_cli(args, xdg)
        finally:
            shutil.rmtree(xdg, ignore_errors=True)
        res.check.add(secs, hwm)
    return res


def bench_check_oci(work: Path, layers: int, size_mb: int, entries: int, reps: int) -> CheckResult:
    from gen_oci import build_oci

    layout = build_oci(work / f"oci-{layers}x-{size_mb}mb-{entries}", layers, size_mb, entries)
    blobs = sorted((layout / "blobs" / "sha256").iterdir(), key=lambda p: -p.stat().st_size)
    cmds = [["tar", "-xzOf", str(b)] for b in blobs[:layers]]
    args = ["check", f"oci:{layout}"]
    return _interleaved(f"check OCI {layers} layers, {size_mb} MB", "tar -xzOf (each layer)",
                        cmds, args, reps)  # fmt: skip


def bench_inspect_oci(
    work: Path, layers: int, size_mb: int, entries: int, reps: int
) -> CheckResult:
    """`inspect --analyze --no-cache` against `check` into a new, empty cache: both read
    each layer's listing once and its contents once (inspect adds the portability
    report's pass over the ELF files)."""
    from gen_oci import build_oci

    layout = build_oci(work / f"oci-{layers}x-{size_mb}mb-{entries}", layers, size_mb, entries)
    ref = f"oci:{layout}"
    res = CheckResult(f"inspect --analyze --no-cache OCI {size_mb} MB", "check (empty cache)")
    res.goal = 1.1
    for _ in range(reps):
        for args, timing in (
            (["check", ref], res.ref),
            (["inspect", "--no-cache", "--analyze", ref], res.check),
        ):
            xdg = tempfile.mkdtemp(prefix="layerscope-bench-xdg-")
            try:
                secs, hwm = run_cli(args, xdg)
            finally:
                shutil.rmtree(xdg, ignore_errors=True)
            timing.add(secs, hwm)
    return res


def build_big_sif(work: Path, size_mb: int, entries: int) -> tuple[Path, Path]:
    """(squashfs, SIF) of one OCI benchmark layer's files (bench_layer.members: size_mb of
    mostly-text data, `entries` entries), packed by tar2sqfs (gzip) as a SIF's payload."""
    from bench_layer import member_blocks
    from gen_sif import write_sif

    sqfs = work / f"check-{size_mb}mb-{entries}.sqfs"
    sif = sqfs.with_suffix(".sif")
    if not sqfs.exists():
        tmp = sqfs.with_suffix(".part")
        cmd = ["tar2sqfs", "-q", "-f", "-c", "gzip", "-j", str(os.cpu_count() or 1), str(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        for block in member_blocks(size_mb, entries):
            proc.stdin.write(block)
        proc.stdin.write(b"\0" * 1024)
        proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"tar2sqfs failed for {sqfs}")
        tmp.rename(sqfs)
    if not sif.exists():
        tmp = sif.with_suffix(".part")
        write_sif(str(tmp), str(sqfs), "Bootstrap: scratch\n")
        tmp.rename(sif)
    return sqfs, sif


def bench_check_sif(work: Path, size_mb: int, entries: int, reps: int) -> CheckResult:
    sqfs, sif = build_big_sif(work, size_mb, entries)
    mb = sqfs.stat().st_size // 1_000_000
    args = ["check", str(sif)]
    return _interleaved(f"check SIF gzip, {size_mb} MB ({mb} MB stored)", "sqfs2tar > /dev/null",
                        [["sqfs2tar", str(sqfs)]], args, reps)  # fmt: skip
