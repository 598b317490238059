"""A sandbox of 1,000,000 empty files in one directory: layerscope against GNU find and ls.

0.1.0 took 30 s and 1.19 GB for `ls` of it (a DirEntry, its stat, an Entry and a path
string per entry, all alive at once). Used by `benchmarks/run`; runnable alone:

    python benchmarks/bench_sandbox.py [--entries 1000000] [--repeat 3]

References, run interleaved with layerscope's in the same run:
  find DIR -printf '%M %U/%G %s %T@ %p\\n'   every entry's lstat (no xattrs, no sorting)
  ls -lnR DIR                                lstat and the xattr/ACL probes, sorted
layerscope's load (a fresh process: load_image alone) lists every entry (lstat, readlink,
llistxattr) into the tree; `ls --no-cache DIR` also prints it sorted. Goals: the load no
slower than `ls -lnR` (which makes the same system calls and prints), the whole `ls` within
2x of it. Peak RSS is the load child's VmHWM (bench_open.LOAD_CHILD), per entry above the
interpreter with layerscope imported (goal < 250 bytes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_open import Timing, run_cli, run_load, run_tool

FIND_FORMAT = "%M %U/%G %s %T@ %p\\n"


def build_sandbox(out: Path, entries: int) -> Path:
    """`entries` empty files in one directory (a `.done` marker beside it makes later
    calls free); returns the directory."""
    done = out.with_suffix(".done")
    if done.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(entries):
            os.close(os.open(f"f{i:07d}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    done.write_text("ok\n")
    print(f"built {out} ({entries:,} files) in {time.perf_counter() - t0:.0f}s", flush=True)
    return out


@dataclass
class SandboxResult:
    entries: int
    imports_kb: int = 0
    find: Timing = field(default_factory=Timing)
    ls_lr: Timing = field(default_factory=Timing)
    ls: Timing = field(default_factory=Timing)  # layerscope ls --no-cache, a fresh process
    load: Timing = field(default_factory=Timing)  # load_image alone, a fresh process

    @property
    def per_entry(self) -> float:
        return (self.load.rss_kb - self.imports_kb) * 1024 / max(self.entries, 1)


def bench_sandbox(work: Path, entries: int, reps: int) -> SandboxResult:
    root = build_sandbox(work / f"sandbox-{entries}", entries)
    res = SandboxResult(entries)
    find = ["find", str(root), "-printf", FIND_FORMAT]
    ls_lr = ["ls", "-lnR", str(root)]
    scratch = tempfile.mkdtemp(prefix="xdg-", dir=work)
    try:
        res.imports_kb = run_load(str(root), "imports", scratch)[2]
        run_tool(find)  # the directory in the page cache for everyone
        for _ in range(reps):  # interleaved, so drift hits every column alike
            res.find.add(run_tool(find))
            res.ls_lr.add(run_tool(ls_lr))
            res.ls.add(*run_cli(["ls", "--no-cache", str(root)], scratch))
            secs, n, hwm, _ = run_load(str(root), "nocache", scratch)
            res.load.add(secs, hwm)
            if n != entries:
                raise SystemExit(f"layerscope listed {n} entries, expected {entries}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def sandbox_rows(r: SandboxResult) -> list[tuple[str, str, float, float, str, bool | None]]:
    """Rows for benchmarks/run's ratio table."""
    n = f"sandbox {r.entries:,}"
    return [
        (f"{n}: load", "ls -lnR", r.ls_lr.median, r.load.median, "<= 1x",
         r.load.median <= r.ls_lr.median),
        (f"{n}: ls", "ls -lnR", r.ls_lr.median, r.ls.median, "<= 2x",
         r.ls.median <= 2 * r.ls_lr.median),
        (f"{n}: load", "find -printf", r.find.median, r.load.median, "(reference)", None),
    ]  # fmt: skip


def print_sandbox(r: SandboxResult) -> None:
    for name, against, ref, ours, goal, ok in sandbox_rows(r):
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(f"{name:<44}{against:<24}{ref:>8.3f}{ours:>9.3f}{ours / ref:>7.2f}x  {goal}{mark}")
    mark = "ok" if r.per_entry < 250 else "MISSED"
    print(
        f"{f'sandbox {r.entries:,} peak RSS, bytes an entry':<44}{r.per_entry:>9.0f}  {mark}"
        f"  ({r.load.rss_kb / 1024:.0f} MiB; goal < 250)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-sandbox")
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    print_sandbox(bench_sandbox(a.work_dir, a.entries, a.repeat))


if __name__ == "__main__":
    main()
