"""Opening images: layerscope against `unsquashfs -lln` and `tar -tzf`, cold and cached.

Used by `benchmarks/run` (which prints the table); runnable alone for one input kind:

    python benchmarks/bench_open.py sif  [--entries N] [--repeat R] [--work-dir DIR]
    python benchmarks/bench_open.py oci  [--entries N] [--size-mb M] [--layers L]

Every layerscope measurement is a fresh Python process (interpreter start and imports
included, as for the C tools) that reports its own peak RSS (VmHWM); the in-process
reopen/first-open pair is measured too, since a UI reopens inside a running process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# A child that loads an image and reports entries, seconds in load_image, and VmHWM (kB).
# argv: ref, mode (nocache | cache | par-nocache (2 index threads) | imports)
LOAD_CHILD = """
import sys, time
t0 = time.perf_counter()
import layerscope.engine.loading as L
from layerscope.readers import OpenOptions
ref, mode = sys.argv[1], sys.argv[2]
if mode.startswith("par-"):
    import os
    os.environ["LAYERSCOPE_INDEX_THREADS"] = "2"
    mode = mode[4:]
n, secs = 0, 0.0
if mode != "imports":
    t = time.perf_counter()
    img = L.load_image(ref, OpenOptions(use_cache=mode == "cache"))
    secs = time.perf_counter() - t
    n = len(img.tree) - 1
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(n, secs, hwm[0] if hwm else 0)
"""

# The CLI, reporting its VmHWM on stderr at exit.
CLI_CHILD = """
import atexit, sys
def _hwm():
    hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    sys.stderr.write(f"\\nVMHWM {hwm[0] if hwm else 0}\\n")
atexit.register(_hwm)
from layerscope.cli import main
main(sys.argv[1:])
"""

# In-process: first open into an empty cache, then reopen, R times; prints medians.
INPROC_CHILD = """
import os, sys, shutil, tempfile, time, statistics
import layerscope.engine.loading as L
root, ref, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
L.load_image(ref, L.OpenOptions(use_cache=False)).close()  # imports and page cache warm
first, again = [], []
for _ in range(reps):
    d = tempfile.mkdtemp(dir=root)
    os.environ["XDG_CACHE_HOME"] = d
    t = time.perf_counter(); L.load_image(ref).close(); first.append(time.perf_counter() - t)
    t = time.perf_counter(); L.load_image(ref).close(); again.append(time.perf_counter() - t)
    shutil.rmtree(d)
print(statistics.median(first), statistics.median(again))
"""


@dataclass
class Timing:
    runs: list[float] = field(default_factory=list)
    rss_kb: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    def add(self, secs: float, rss_kb: int = 0) -> None:
        self.runs.append(secs)
        self.rss_kb = max(self.rss_kb, rss_kb)


def run_tool(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds for `cmd > /dev/null` (exit status 0 or 1: diff tools say 1 for differences)."""
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE, env=env)
    secs = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode(errors='replace')}")
    return secs


def run_load(ref: str, mode: str, xdg: str) -> tuple[float, int, int, float]:
    """(wall seconds, entries, VmHWM kB, seconds inside load_image) of a LOAD_CHILD."""
    env = {**os.environ, "XDG_CACHE_HOME": xdg}
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, ref, mode], capture_output=True, env=env, check=True
    )
    secs = time.perf_counter() - t
    n, inner, hwm = out.stdout.split()
    return secs, int(n), int(hwm), float(inner)


def run_cli(args: list[str], xdg: str) -> tuple[float, int]:
    """(wall seconds, VmHWM kB) of `layerscope ARGS > /dev/null`."""
    env = {**os.environ, "XDG_CACHE_HOME": xdg}
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.run(
            [sys.executable, "-c", CLI_CHILD, *args], stdout=null, stderr=subprocess.PIPE, env=env
        )
    secs = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"layerscope {' '.join(args)} failed: {proc.stderr.decode()[-400:]}")
    hwm = [ln for ln in proc.stderr.decode().splitlines() if ln.startswith("VMHWM ")]
    return secs, int(hwm[-1].split()[1]) if hwm else 0


def in_process(ref: str, reps: int, root: str) -> tuple[float, float]:
    """Median in-process (first open into an empty cache, reopen) seconds."""
    out = subprocess.run(
        [sys.executable, "-c", INPROC_CHILD, root, ref, str(reps)],
        capture_output=True,
        check=True,
    )
    first, again = out.stdout.split()
    return float(first), float(again)


@dataclass
class OpenResult:
    name: str
    entries: int
    reference: str
    ref: Timing = field(default_factory=Timing)  # the reference tool
    load: Timing = field(default_factory=Timing)  # layerscope, no cache
    load_par: Timing = field(default_factory=Timing)  # same, 2 index threads (OCI only)
    ls_json: Timing = field(default_factory=Timing)  # `ls --json --no-cache` (SIF only)
    ls_cold: Timing = field(default_factory=Timing)  # text `ls --no-cache` (SIF only)
    ls_warm: Timing = field(default_factory=Timing)  # text `ls`, index cache warm (SIF only)
    first: Timing = field(default_factory=Timing)  # into an empty cache
    reopen: Timing = field(default_factory=Timing)  # from the cache
    imports_kb: int = 0
    inproc_first: float = float("nan")
    inproc_reopen: float = float("nan")


def bench_image(
    name: str,
    ref: str,
    reference: Callable[[], float],
    reference_name: str,
    reps: int,
    work: Path,
    ls_json: bool,
    threads: bool,
) -> OpenResult:
    scratch = Path(tempfile.mkdtemp(prefix="xdg-", dir=work))
    res = OpenResult(name, 0, reference_name)
    try:
        res.imports_kb = run_load(ref, "imports", str(scratch / "none"))[2]
        run_load(ref, "nocache", str(scratch / "none"))  # page cache warm for everyone
        warm = str(scratch / "warm")
        if ls_json:
            run_cli(["ls", ref], warm)  # the index cache the warm text ls reads
        for _ in range(reps):  # interleaved, so drift hits every column alike
            res.ref.add(reference())
            secs, n, hwm, _ = run_load(ref, "nocache", str(scratch / "none"))
            res.entries = n
            res.load.add(secs, hwm)
            if threads:
                secs, _, hwm, _ = run_load(ref, "par-nocache", str(scratch / "none"))
                res.load_par.add(secs, hwm)
            if ls_json:
                res.ls_json.add(*run_cli(["ls", "--json", "--no-cache", ref], str(scratch)))
                res.ls_cold.add(*run_cli(["ls", "--no-cache", ref], str(scratch)))
                res.ls_warm.add(*run_cli(["ls", ref], warm))
            xdg = tempfile.mkdtemp(dir=scratch)
            secs, _, hwm, _ = run_load(ref, "cache", xdg)
            res.first.add(secs, hwm)
            secs, _, hwm, _ = run_load(ref, "cache", xdg)
            res.reopen.add(secs, hwm)
            shutil.rmtree(xdg)
        res.inproc_first, res.inproc_reopen = in_process(ref, reps, str(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


# -- inputs ----------------------------------------------------------------------------------


def build_sif(work: Path, entries: int, comp: str) -> tuple[Path, Path]:
    """(squashfs, SIF wrapping it) of the deterministic tree (bench_squashfs, gen_sif)."""
    from bench_squashfs import build
    from gen_sif import write_sif

    sqfs = work / f"tree-{entries}-{comp}.sqfs"
    sif = sqfs.with_suffix(".sif")
    build(entries, comp, sqfs)
    if not sif.exists():
        tmp = sif.with_suffix(".part")
        write_sif(str(tmp), str(sqfs), "Bootstrap: scratch\n")
        tmp.rename(sif)
    return sqfs, sif


def sif_offset(sif: Path) -> int:
    from layerscope.readers.sif.reader import SifReader

    with SifReader(str(sif)) as r:
        offset = r.describe().layers[0].extra["offset"]
    assert isinstance(offset, int)
    return offset


def bench_sif(work: Path, entries: int, comp: str, reps: int) -> OpenResult:
    _, sif = build_sif(work, entries, comp)
    cmd = ["unsquashfs", "-lln", "-o", str(sif_offset(sif)), str(sif)]
    return bench_image(
        f"SIF {comp}", str(sif), lambda: run_tool(cmd), "unsquashfs -lln", reps, work, True, False
    )


def bench_oci(work: Path, layers: int, size_mb: int, entries: int, reps: int) -> OpenResult:
    from gen_oci import build_oci

    layout = build_oci(work / f"oci-{layers}x-{size_mb}mb-{entries}", layers, size_mb, entries)
    blobs = sorted((layout / "blobs" / "sha256").iterdir(), key=lambda p: -p.stat().st_size)
    layer_blobs = [str(p) for p in blobs[:layers]]

    def tar_all() -> float:
        return sum(run_tool(["tar", "-tzf", b]) for b in layer_blobs)

    return bench_image(
        f"OCI {layers} layers",
        f"oci:{layout}",
        tar_all,
        "tar -tzf (each layer)",
        reps,
        work,
        False,
        True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("sif", "oci"))
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--size-mb", type=int, default=1536)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-cache-bench")
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    if a.kind == "sif":
        results = [bench_sif(a.work_dir, a.entries, c, a.repeat) for c in ("gzip", "zstd")]
    else:
        results = [bench_oci(a.work_dir, a.layers, a.size_mb, a.entries, a.repeat)]
    for r in results:
        print(r)


if __name__ == "__main__":
    main()
