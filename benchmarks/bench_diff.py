"""Diffing two build stages: `layerscope diff --json` against `sqfsdiff -C` and `sqfsdiff`.

Stage A is bench_squashfs's deterministic tree (gen_tree); stage B is the same tar stream
with a few thousand edits: same-size content changes (only a hash can tell), size
changes, chmods, removed and added files. Both are packed with tar2sqfs and wrapped in
SIFs; sqfsdiff compares the squashfs files, layerscope the SIFs.

    python benchmarks/bench_diff.py [--entries N] [--repeat R] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_open import Timing, run_cli, run_tool
from gen_tree import write_tar

EVERY = 151  # one edit of each kind per EVERY members


def _edit_stream(src: IO[bytes], out: IO[bytes]) -> int:
    """Copy a tar stream, editing some members; returns the number of edits."""
    edits = 0
    with (
        tarfile.open(fileobj=src, mode="r|") as tin,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tout,
    ):
        for i, m in enumerate(tin):
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]
            # never touch hard-link targets (the first file of each directory)
            editable = m.isreg() and "-000" not in m.name
            slot = i % EVERY
            if editable and slot == 7 and data:
                data = bytes([data[0] ^ 1]) + data[1:]  # same size, other bytes
                edits += 1
            elif editable and slot == 31 and data is not None:
                data += b"more\n"
                m.size = len(data)
                edits += 1
            elif editable and slot == 59:
                m.mode = 0o600
                edits += 1
            elif editable and slot == 101:
                edits += 1
                continue  # removed
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
            if editable and slot == 131:
                new = tarfile.TarInfo(m.name + ".new")
                body = b"added in stage B\n"
                new.size, new.mtime = len(body), m.mtime
                tout.addfile(new, io.BytesIO(body))
                edits += 1
    return edits


def _pack(out: Path, feed: IO[bytes] | None, entries: int) -> int:
    """tar2sqfs (gzip) of the generator's tree, edited when `feed` is None -> stage B."""
    tmp = out.with_suffix(".part")
    proc = subprocess.Popen(
        ["tar2sqfs", "-q", "-f", "-c", "gzip", "-j", "2", str(tmp)], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    edits = 0
    try:
        if feed is None:
            write_tar(proc.stdin, entries)
        else:
            edits = _edit_stream(feed, proc.stdin)
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"tar2sqfs failed for {out}")
    tmp.rename(out)
    return edits


def build_stages(work: Path, entries: int) -> tuple[Path, Path, Path, Path]:
    """(A.sqfs, B.sqfs, A.sif, B.sif), built once per size."""
    from gen_sif import write_sif

    a_sqfs, b_sqfs = work / f"stageA-{entries}.sqfs", work / f"stageB-{entries}.sqfs"
    if not a_sqfs.exists():
        _pack(a_sqfs, None, entries)
    if not b_sqfs.exists():
        r, w = os.pipe()
        with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb") as wf:

            def produce() -> None:
                try:
                    write_tar(wf, entries)
                finally:
                    wf.close()

            t = threading.Thread(target=produce)
            t.start()
            _pack(b_sqfs, rf, entries)
            t.join()
    sifs = []
    for sq in (a_sqfs, b_sqfs):
        sif = sq.with_suffix(".sif")
        if not sif.exists():
            write_sif(str(sif.with_suffix(".part")), str(sq), f"Bootstrap: scratch\n# {sq.name}\n")
            sif.with_suffix(".part").rename(sif)
        sifs.append(sif)
    return a_sqfs, b_sqfs, sifs[0], sifs[1]


@dataclass
class DiffResult:
    entries: int
    changes: dict[str, int]
    sqfsdiff_lines: int
    meta_ref: Timing = field(default_factory=Timing)  # sqfsdiff -C
    meta: Timing = field(default_factory=Timing)  # layerscope diff --ignore content
    content_ref: Timing = field(default_factory=Timing)  # sqfsdiff
    content: Timing = field(default_factory=Timing)  # layerscope diff
    meta_cached: Timing = field(default_factory=Timing)  # trees cached
    content_cached: Timing = field(default_factory=Timing)  # trees + hashes cached


def bench_diff(work: Path, entries: int, reps: int) -> DiffResult:
    a_sqfs, b_sqfs, a_sif, b_sif = build_stages(work, entries)
    scratch = Path(tempfile.mkdtemp(prefix="xdg-diff-", dir=work))
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "layerscope",
                "diff",
                "--json",
                "--no-cache",
                str(a_sif),
                str(b_sif),
            ],
            capture_output=True,
            env={**os.environ, "XDG_CACHE_HOME": str(scratch)},
        )
        summary = json.loads(out.stdout)["summary"]
        ref_out = subprocess.run(
            ["sqfsdiff", "-a", str(a_sqfs), "-b", str(b_sqfs)], capture_output=True
        ).stdout
        res = DiffResult(
            entries,
            {k: summary[k] for k in ("added", "removed", "modified")},
            ref_out.count(b"\n"),
        )
        warm = str(scratch / "warm")
        run_cli(["diff", "--json", str(a_sif), str(b_sif)], warm)  # fills trees and hashes
        base = ["diff", "--json"]
        for _ in range(reps):
            res.meta_ref.add(run_tool(["sqfsdiff", "-C", "-a", str(a_sqfs), "-b", str(b_sqfs)]))
            meta = ["--ignore", "content", str(a_sif), str(b_sif)]
            res.meta.add(*run_cli([*base, "--no-cache", *meta], warm))
            res.meta_cached.add(*run_cli([*base, *meta], warm))
            res.content_ref.add(run_tool(["sqfsdiff", "-a", str(a_sqfs), "-b", str(b_sqfs)]))
            res.content.add(*run_cli([*base, "--no-cache", str(a_sif), str(b_sif)], warm))
            res.content_cached.add(*run_cli([*base, str(a_sif), str(b_sif)], warm))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-cache-bench")
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    print(bench_diff(a.work_dir, a.entries, a.repeat))


if __name__ == "__main__":
    main()
