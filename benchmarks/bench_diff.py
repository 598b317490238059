"""Diffing two build stages: `layerscope diff --json` against `sqfsdiff -C` and `sqfsdiff`.

Stage A is bench_squashfs's deterministic tree (gen_tree) plus a payload of multi-block
files (entries // 200 MB: 1.5 GB at full size, as the HPC stage of issue 15: a real stage
keeps most of its bytes in libraries and binaries, where comparing contents costs); stage B
is the same tar stream with a few thousand edits: same-size content changes (only a hash
can tell), size changes, chmods, removed and added files, and in the payload a flipped
byte in one file of ten and a longer file in another. Both are packed with tar2sqfs
(gzip) and wrapped in SIFs; B is packed once more with zstd for the "different
compressors" row. sqfsdiff compares the squashfs files, layerscope the SIFs.

    python benchmarks/bench_diff.py [--entries N] [--repeat R] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_open import Timing, run_cli, run_tool
from gen_tree import write_tar

EVERY = 151  # one edit of each kind per EVERY members
PAYLOAD = "payload/"  # the multi-block files' directory
MTIME = 1_700_000_000


def _corpus(size: int = 8 << 20) -> bytes:
    """Deterministic bytes that compress like a stage's files (~3x: words, some binary)."""
    rng = random.Random(1234)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 10))) for _ in range(5000)]
    parts: list[bytes] = []
    n = 0
    while n < size:
        if rng.random() < 0.1:
            chunk = rng.randbytes(rng.randint(16, 256))
        else:
            chunk = b" ".join(rng.choices(words, k=32)) + b"\n"
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)[:size]


def payload(entries: int) -> Iterator[tuple[tarfile.TarInfo, bytes]]:
    """entries // 200 MB of files of 64 KiB to 4 MiB (not whole blocks: each has a tail),
    each a different cut of the corpus; made as they are written (never all in memory)."""
    corpus = _corpus()
    doubled = corpus + corpus
    total, i = (entries // 200) << 20, 0
    yield _payload_dir(), b""
    made = 0
    while made < total:
        size = (64 << 10) * (1 + (i * 37) % 64) + (i * 131) % 4096
        off = (i * 1_000_003) % len(corpus)
        info = tarfile.TarInfo(f"{PAYLOAD}lib{i:04d}.so")
        info.size, info.mode, info.mtime = size, 0o755, MTIME
        yield info, doubled[off : off + size]
        made += size
        i += 1


def _payload_dir() -> tarfile.TarInfo:
    info = tarfile.TarInfo(PAYLOAD.rstrip("/"))
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
    return info


def _edit_payload(m: tarfile.TarInfo, data: bytes) -> tuple[bytes, int]:
    """A payload file in stage B: one of ten has a byte flipped mid-file (same size),
    one of ten grows; the rest are unchanged."""
    i = int(m.name.removeprefix(PAYLOAD + "lib").split(".")[0])
    if i % 10 == 3:
        mid = len(data) // 2
        return data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1 :], 1
    if i % 10 == 6:
        data += b"grown\n"
        m.size = len(data)
        return data, 1
    return data, 0


def _edit_stream(src: IO[bytes], out: IO[bytes]) -> int:
    """Copy a tar stream, editing some members; returns the number of edits."""
    edits = 0
    with (
        tarfile.open(fileobj=src, mode="r|") as tin,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tout,
    ):
        for i, m in enumerate(tin):
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]
            if m.name.startswith(PAYLOAD) and data is not None:
                data, edited = _edit_payload(m, data)
                edits += edited
                tout.addfile(m, io.BytesIO(data))
                continue
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


def _pack(out: Path, feed: IO[bytes] | None, entries: int, comp: str = "gzip") -> int:
    """tar2sqfs of the generator's tree (stage A), or of `feed` edited (stage B)."""
    tmp = out.with_suffix(".part")
    proc = subprocess.Popen(
        ["tar2sqfs", "-q", "-f", "-c", comp, "-j", "2", str(tmp)], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    edits = 0
    try:
        if feed is None:
            write_tar(proc.stdin, entries, payload(entries))
        else:
            edits = _edit_stream(feed, proc.stdin)
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit(f"tar2sqfs failed for {out}")
    tmp.rename(out)
    return edits


def build_stages(work: Path, entries: int) -> tuple[Path, Path, Path, Path, Path, Path]:
    """(A.sqfs, B.sqfs, B-zstd.sqfs, A.sif, B.sif, B-zstd.sif), built once per size."""
    from gen_sif import write_sif

    # "-lib": the stages with a payload (older work dirs hold stages without one)
    a_sqfs = work / f"stageA-{entries}-lib.sqfs"
    b_sqfs = work / f"stageB-{entries}-lib.sqfs"
    bz_sqfs = work / f"stageB-zstd-{entries}-lib.sqfs"
    if not a_sqfs.exists():
        _pack(a_sqfs, None, entries)
    for out, comp in ((b_sqfs, "gzip"), (bz_sqfs, "zstd")):
        if out.exists():
            continue
        r, w = os.pipe()
        with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb") as wf:

            def produce(wf: IO[bytes] = wf) -> None:
                try:
                    write_tar(wf, entries, payload(entries))
                finally:
                    wf.close()

            t = threading.Thread(target=produce)
            t.start()
            _pack(out, rf, entries, comp)
            t.join()
    sifs = []
    for sq in (a_sqfs, b_sqfs, bz_sqfs):
        sif = sq.with_suffix(".sif")
        if not sif.exists():
            write_sif(str(sif.with_suffix(".part")), str(sq), f"Bootstrap: scratch\n# {sq.name}\n")
            sif.with_suffix(".part").rename(sif)
        sifs.append(sif)
    return a_sqfs, b_sqfs, bz_sqfs, sifs[0], sifs[1], sifs[2]


@dataclass
class DiffResult:
    entries: int
    changes: dict[str, int]
    sqfsdiff_lines: int
    meta_ref: Timing = field(default_factory=Timing)  # sqfsdiff -C
    meta: Timing = field(default_factory=Timing)  # layerscope diff --ignore content
    content_ref: Timing = field(default_factory=Timing)  # sqfsdiff, both gzip
    content: Timing = field(default_factory=Timing)  # layerscope diff, both gzip
    meta_cached: Timing = field(default_factory=Timing)  # trees cached
    content_cached: Timing = field(default_factory=Timing)  # trees + hashes cached
    mixed_ref: Timing = field(default_factory=Timing)  # sqfsdiff, gzip vs zstd
    mixed: Timing = field(default_factory=Timing)  # layerscope diff, gzip vs zstd
    mixed_changes: dict[str, int] = field(default_factory=dict)
    payload_mb: int = 0


def bench_diff(work: Path, entries: int, reps: int) -> DiffResult:
    a_sqfs, b_sqfs, bz_sqfs, a_sif, b_sif, bz_sif = build_stages(work, entries)
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
            payload_mb=entries // 200,
        )
        out = subprocess.run(
            [*LAYERSCOPE_DIFF, str(a_sif), str(bz_sif)],
            capture_output=True,
            env={**os.environ, "XDG_CACHE_HOME": str(scratch)},
        )
        mixed = json.loads(out.stdout)["summary"]
        res.mixed_changes = {k: mixed[k] for k in ("added", "removed", "modified")}
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
            res.mixed_ref.add(run_tool(["sqfsdiff", "-a", str(a_sqfs), "-b", str(bz_sqfs)]))
            res.mixed.add(*run_cli([*base, "--no-cache", str(a_sif), str(bz_sif)], warm))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return res


Row = tuple[str, str, float, float, str, bool | None]
LAYERSCOPE_DIFF = [sys.executable, "-m", "layerscope", "diff", "--json", "--no-cache"]


def rows(d: DiffResult) -> list[Row]:
    """benchmarks/run's table rows: (measurement, against, ref s, ours s, goal, met)."""
    n = f"{d.entries:,}"
    return [
        (f"diff {n}: metadata, cold", "sqfsdiff -C", d.meta_ref.median, d.meta.median,
         "< 1x", d.meta.median < d.meta_ref.median),
        (f"diff {n}: metadata, cached", "sqfsdiff -C", d.meta_ref.median,
         d.meta_cached.median, "< 1x", d.meta_cached.median < d.meta_ref.median),
        (f"diff {n}: contents, gzip/gzip, cold", "sqfsdiff", d.content_ref.median,
         d.content.median, "<= 0.3x", d.content.median <= 0.3 * d.content_ref.median),
        (f"diff {n}: contents, gzip/gzip, cached", "sqfsdiff", d.content_ref.median,
         d.content_cached.median, "< 1x", d.content_cached.median < d.content_ref.median),
        (f"diff {n}: contents, gzip/zstd, cold", "sqfsdiff", d.mixed_ref.median,
         d.mixed.median, "<= 0.8x", d.mixed.median <= 0.8 * d.mixed_ref.median),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-cache-bench")
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    d = bench_diff(a.work_dir, a.entries, a.repeat)
    for name, against, ref, ours, goal, ok in rows(d):
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(f"{name:<44}{against:<12}{ref:>8.3f}{ours:>9.3f}{ours / ref:>7.2f}x  {goal}{mark}")
    print(f"changes {d.changes}, sqfsdiff {d.sqfsdiff_lines} lines; gzip/zstd {d.mixed_changes}")


if __name__ == "__main__":
    main()
