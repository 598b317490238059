"""A full `check` (every content-based analysis: digests for waste and duplicates, the
secret scan of every text file, the package databases) against reading all the image's
contents once with the reference tools: `tar -xzOf` of every layer for the OCI image,
`sqfs2tar > /dev/null` for the SIF's squashfs. Goal: <= 1.5x (issue 16).

Each `check` runs as on a CI machine that never saw the image: a new, empty cache
directory (the index cache it writes while loading lets dive's numbers reuse the listing
instead of reading the layers again).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench_open import Timing, build_sif, run_cli, run_tool


@dataclass(slots=True)
class CheckResult:
    name: str
    reference: str
    ref: Timing = field(default_factory=Timing)
    check: Timing = field(default_factory=Timing)


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


def bench_check_sif(work: Path, entries: int, reps: int) -> CheckResult:
    sqfs, sif = build_sif(work, entries, "gzip")
    mb = sqfs.stat().st_size // 1_000_000
    args = ["check", str(sif)]
    return _interleaved(f"check SIF gzip {entries:,} ({mb} MB)", "sqfs2tar > /dev/null",
                        [["sqfs2tar", str(sqfs)]], args, reps)  # fmt: skip
