"""Listing speed of layerscope's squashfs reader against `unsquashfs -lln`, same run.

    python benchmarks/bench_squashfs.py [--entries N] [--keep DIR] [--repeat R]

Builds a deterministic tree of N entries (default 300,000) as a tar stream, packs it with
tar2sqfs into gzip and zstd images, then times (median of R runs):
  unsquashfs      `unsquashfs -lln IMG > /dev/null`
  ls (process)    a fresh Python process that lists the image with SquashFS.iter_entries()
                  (interpreter start included, as for the reference)
  ls (in-process) the same listing inside this process
and prints the ratios and the peak RSS of the layerscope process (its VmHWM).
The project's goal: ls (process) <= 1.3x unsquashfs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_tree import write_tar

# The child reports its own peak RSS (VmHWM): ru_maxrss from wait4/getrusage would include
# the parent's memory, which Linux carries into a forked child's high-water mark.
_LIST_CODE = """
import sys
from layerscope.readers.squashfs.reader import SquashFS
n = 0
with SquashFS(sys.argv[1]) as fs:
    for _ in fs.iter_entries():
        n += 1
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(n, hwm[0] if hwm else 0)
"""


def build(entries: int, compressor: str, out: Path) -> None:
    if out.exists():
        return
    tmp = out.with_suffix(".part")
    cmd = ["tar2sqfs", "-q", "-f", "-c", compressor, "-j", "2", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        write_tar(proc.stdin, entries)
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"tar2sqfs failed for {out}")
    tmp.rename(out)


def timed(cmd: list[str]) -> tuple[float, bytes]:
    """Run cmd; return (seconds, stdout)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=True)
    return time.perf_counter() - start, proc.stdout


def reference(image: Path) -> float:
    """Seconds for `unsquashfs -lln IMG > /dev/null`."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(["unsquashfs", "-lln", str(image)], stdout=null, check=True)
    return time.perf_counter() - start


def in_process(image: Path) -> tuple[float, int]:
    """Seconds and entry count for a listing inside this process."""
    from layerscope.readers.squashfs.reader import SquashFS

    start = time.perf_counter()
    n = 0
    with SquashFS(str(image)) as fs:
        for _ in fs.iter_entries():
            n += 1
    return time.perf_counter() - start, n


def bench(image: Path, repeat: int) -> dict[str, float]:
    lines = subprocess.run(["unsquashfs", "-lln", str(image)], capture_output=True, check=True)
    want = lines.stdout.count(b"\n") - 1  # minus the root line
    ref: list[float] = []
    sub: list[float] = []
    inp: list[float] = []
    rss = 0
    for _ in range(repeat):  # interleaved, so drift hits both sides alike
        ref.append(reference(image))
        secs, out = timed([sys.executable, "-c", _LIST_CODE, str(image)])
        listed, peak = (int(x) for x in out.split())
        if listed != want:
            raise SystemExit(f"{image}: layerscope listed {listed} entries, unsquashfs {want}")
        sub.append(secs)
        rss = max(rss, peak)
        inp.append(in_process(image)[0])
    return {
        "entries": want,
        "ref": statistics.median(ref),
        "sub": statistics.median(sub),
        "inp": statistics.median(inp),
        "rss_mib": rss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--keep", type=Path, help="build images here and reuse them next time")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compressors", default="gzip,zstd")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = []
        for comp in args.compressors.split(","):
            image = workdir / f"bench-{args.entries}-{comp}.sqfs"
            t0 = time.perf_counter()
            build(args.entries, comp, image)
            print(f"image {image.name}: {image.stat().st_size / 1e6:.1f} MB "
                  f"(ready in {time.perf_counter() - t0:.1f} s)", flush=True)  # fmt: skip
            rows.append((comp, bench(image, args.repeat)))
    print()
    head = f"{'image':<8}{'entries':>9}{'unsquashfs':>12}{'ls(proc)':>10}{'ratio':>7}"
    print(head + f"{'ls(in-proc)':>13}{'ratio':>7}{'peak RSS':>11}")
    for comp, r in rows:
        print(
            f"{comp:<8}{r['entries']:>9}{r['ref']:>11.3f}s{r['sub']:>9.3f}s"
            f"{r['sub'] / r['ref']:>6.2f}x{r['inp']:>12.3f}s{r['inp'] / r['ref']:>6.2f}x"
            f"{r['rss_mib']:>8.1f} MiB"
        )


if __name__ == "__main__":
    main()
