"""Index a large gzip (and zstd) layer: layerscope vs `tar -tzf` / `tar --zstd -tf`.

Builds its own input deterministically: >= 200,000 entries (files, dirs, symlinks, hard
links, a few PAX long names) and ~1.5 GB of compressible-but-not-trivial data, gzipped with
isal (or zlib) and zstd-compressed with `zstandard`. Inputs are cached in --work-dir, keyed
by the parameters. Prints the median of --runs timings and the ratio layerscope / tar
(the goal: 0.3x-0.8x for gzip).

    python benchmarks/bench_layer.py                 # full size (~1.5 GB uncompressed)
    python benchmarks/bench_layer.py --size-mb 200   # quick, while developing

Timings share the machine with whatever else runs; `tar -tzf` uses two processes (gzip and
tar), layerscope one thread, so on a busy 2-core box the ratio favours tar.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layerscope.readers.tar.inflate import GZIP_BACKEND
from layerscope.readers.tar.reader import iter_layer_entries

MTIME = 1_700_000_000
POOL_MB = 48


def make_pool(rnd: random.Random) -> bytes:
    """Zipf-distributed words and skewed 'machine code' bytes, interleaved in 64 KiB runs:
    gzip gets ~3x on it, roughly what it gets on a real /usr."""
    letters = "abcdefghijklmnopqrstuvwxyz_0123456789"
    words = ["".join(rnd.choices(letters, k=rnd.randint(2, 12))) for _ in range(8_000)]
    zipf = [1 / (rank + 1) for rank in range(len(words))]
    text = " ".join(rnd.choices(words, zipf, k=POOL_MB * 1024 * 1024 // 8)).encode()
    skew = [1 / (b + 1) ** 1.3 for b in range(256)]
    order = list(range(256))
    rnd.shuffle(order)
    binary = bytes(rnd.choices(order, skew, k=POOL_MB * 1024 * 1024 // 4))
    parts = []
    step = 1 << 16
    for i in range(0, len(binary), step):  # interleave 64 KiB runs: 3 of text, 1 binary
        parts.append(text[i * 3 : i * 3 + 3 * step])
        parts.append(binary[i : i + step])
    return b"".join(parts)


def sizes(rnd: random.Random, n_files: int, total: int) -> list[int]:
    raw = [int(rnd.lognormvariate(7.6, 1.6)) for _ in range(n_files)]
    for i in rnd.sample(range(n_files), max(1, n_files // 20_000)):
        raw[i] = rnd.randint(8 << 20, 48 << 20)  # a few big files
    scale = total / max(1, sum(raw))
    return [min(int(s * scale), 200 << 20) for s in raw]


def members(size_mb: int, entries: int) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    rnd = random.Random(20240601)
    pool = make_pool(rnd)
    n_dirs = entries // 12
    n_links = entries // 14
    n_hard = entries // 100
    n_files = entries - n_dirs - n_links - n_hard
    file_sizes = sizes(rnd, n_files, size_mb << 20)
    dirs = ["usr", "usr/lib", "usr/share", "etc", "opt"]
    for d in dirs:
        yield _info(d, tarfile.DIRTYPE), None
    while len(dirs) < n_dirs:
        parent = rnd.choice(dirs)
        name = f"{parent}/{rnd.choice(('lib', 'pkg', 'share', 'doc', 'mod'))}{len(dirs)}"
        if rnd.random() < 0.01:
            name += "/" + "very-long-directory-name-" * 4 + str(len(dirs))  # PAX path
            dirs.append(name.rsplit("/", 1)[0])
        dirs.append(name)
        yield _info(name, tarfile.DIRTYPE), None
    files: list[str] = []
    kinds = ["f"] * n_files + ["l"] * n_links + ["h"] * n_hard
    rnd.shuffle(kinds)
    fi = 0
    for i, kind in enumerate(kinds):
        parent = dirs[rnd.randrange(len(dirs))]
        if kind == "f" or not files:
            size = file_sizes[fi % n_files]
            fi += 1
            name = f"{parent}/file{i}.{rnd.choice(('so', 'py', 'txt', 'h', 'json'))}"
            info = _info(name, tarfile.REGTYPE, size)
            off = rnd.randrange(0, max(1, len(pool) - size))
            data = pool[off : off + size]
            if len(data) < size:
                data = (pool * (size // len(pool) + 1))[:size]
            files.append(name)
            yield info, data
        elif kind == "l":
            info = _info(f"{parent}/link{i}", tarfile.SYMTYPE)
            info.linkname = rnd.choice(files)
            yield info, None
        else:
            info = _info(f"{parent}/hard{i}", tarfile.LNKTYPE)
            info.linkname = rnd.choice(files)
            yield info, None


def member_blocks(size_mb: int, entries: int) -> Iterator[bytes]:
    """members() as tar bytes: each header with its data padded to 512-byte blocks."""
    for info, data in members(size_mb, entries):
        block = info.tobuf(tarfile.PAX_FORMAT)
        if data:
            block += data + b"\0" * (-len(data) % 512)
        yield block


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mtime = MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def build(work: Path, size_mb: int, entries: int, level: int) -> tuple[Path, Path, int]:
    """Write layer.tar.gz and layer.tar.zst (once per parameter set)."""
    stem = work / f"layer-{size_mb}mb-{entries}e-l{level}"
    gz, zst = stem.with_suffix(".tar.gz"), stem.with_suffix(".tar.zst")
    count_file = stem.with_suffix(".count")
    if gz.exists() and zst.exists() and count_file.exists():
        return gz, zst, int(count_file.read_text())
    import zstandard
    from isal import igzip

    t0 = time.perf_counter()
    count = 0
    with (
        igzip.open(gz, "wb", compresslevel=min(level, 3)) as g,  # type: ignore[no-untyped-call]
        open(zst, "wb") as zf,
        zstandard.ZstdCompressor(level=3, threads=-1).stream_writer(zf) as z,
    ):
        for block in member_blocks(size_mb, entries):
            g.write(block)
            z.write(block)
            count += 1
        g.write(b"\0" * 1024)
        z.write(b"\0" * 1024)
    count_file.write_text(str(count))
    print(
        f"built {gz.name} ({gz.stat().st_size >> 20} MiB) and {zst.name} "
        f"({zst.stat().st_size >> 20} MiB) in {time.perf_counter() - t0:.1f}s"
    )
    return gz, zst, count


def timed(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tar_list(args: list[str]) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(args, stdout=subprocess.DEVNULL, check=True)

    return run


def ours(path: Path, expect: int) -> Callable[[], object]:
    def run() -> object:
        with open(path, "rb", buffering=0) as f:
            n = sum(1 for _ in iter_layer_entries(f, str(path), path.stat().st_size))
        if n != expect:
            raise SystemExit(f"layerscope saw {n} entries, expected {expect}")
        return n

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1536, help="uncompressed data (MiB)")
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--level", type=int, default=2, help="isal gzip level (0-3)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-bench")
    ap.add_argument("--no-zstd", action="store_true")
    a = ap.parse_args()
    tar = shutil.which("tar")
    if tar is None:
        raise SystemExit("GNU tar is required")
    a.work_dir.mkdir(parents=True, exist_ok=True)
    gz, zst, count = build(a.work_dir, a.size_mb, a.entries, a.level)
    print(
        f"{count} members, {a.size_mb} MiB of file data; gzip via {GZIP_BACKEND}; "
        f"median of {a.runs}; cpus={os.cpu_count()}"
    )
    cases = [("gzip", gz, [tar, "-tzf", str(gz)])]
    if not a.no_zstd and shutil.which("zstd"):
        cases.append(("zstd", zst, [tar, "--zstd", "-tf", str(zst)]))
    for label, path, cmd in cases:
        t_tar = timed(tar_list(cmd), a.runs)
        t_ours = timed(ours(path, count), a.runs)
        print(
            f"{label:5s} {' '.join(cmd[1:-1]):10s} {t_tar:7.2f}s   layerscope {t_ours:7.2f}s   "
            f"ratio {t_ours / t_tar:.2f}x"
        )


if __name__ == "__main__":
    main()
