"""What checking a cached registry blob's sha256 on every read costs (cache/verified.py).

Builds a ~100 MB gzip layer with bench_layer's generator, puts it into a BlobCache, and
times, interleaved and as medians of --runs:
  list     every entry of the layer (what `ls` of an uncached index does): a plain file vs
           the verified view, which hashes alongside the inflate
  one-file the bytes of one file in the middle of the layer (`cat`): the verified view
           also hashes the rest of the blob at close, so this is its worst case
  sha256   hashing the blob alone, for scale

    python benchmarks/bench_blob_verify.py                # ~100 MB compressed
    python benchmarks/bench_blob_verify.py --size-mb 50   # quicker
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_layer import build

from layerscope.cache import verified
from layerscope.cache.blobs import BlobCache
from layerscope.model.entry import EntryKind
from layerscope.readers.tar.reader import iter_layer_entries, read_layer_content


def median_pair(a: Callable[[], object], b: Callable[[], object], runs: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=190, help="uncompressed data (MiB)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "ls-bench")
    args = ap.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    gz, _, _ = build(args.work_dir, args.size_mb, 20_000, 2)
    size = gz.stat().st_size
    digest = "sha256:" + _sha256(gz)
    scratch = tempfile.TemporaryDirectory(dir=args.work_dir)  # the cached copy, removed at exit
    cache = BlobCache(Path(scratch.name))

    def feed(sink: Callable[[bytes], None]) -> None:
        with open(gz, "rb") as f:
            while chunk := f.read(1 << 20):
                sink(chunk)

    cache.put(digest, size, feed)
    name = str(gz)

    def plain() -> BinaryIO:
        return open(cache.path(digest), "rb", buffering=0)

    def checked() -> BinaryIO:
        verified._verified.clear()  # as a new process: nothing verified yet
        return cache.open(digest)

    def lister(opener: Callable[[], BinaryIO]) -> Callable[[], object]:
        def run() -> object:
            with opener() as f:
                return sum(1 for _ in iter_layer_entries(f, name, size))

        return run

    with plain() as f:
        files = [e for e in iter_layer_entries(f, name, size) if e.kind == EntryKind.FILE]
    middle = files[len(files) // 2]

    def reader(opener: Callable[[], BinaryIO]) -> Callable[[], object]:
        def run() -> object:
            with opener() as f:
                return sum(map(len, read_layer_content(f, name, middle.loc, middle.size, size)))

        return run

    def sha() -> object:
        return _sha256(cache.path(digest))

    print(f"layer: {size / 1e6:.1f} MB gzip, {len(files)} files; median of {args.runs} runs")
    for label, a, b in (
        ("list", lister(plain), lister(checked)),
        ("one-file", reader(plain), reader(checked)),
    ):
        t_plain, t_checked = median_pair(a, b, args.runs)
        print(
            f"{label:9} plain {t_plain:6.3f} s   verified {t_checked:6.3f} s   "
            f"x{t_checked / t_plain:.2f} (+{(t_checked - t_plain) * 1000:.0f} ms)"
        )
    t_sha, _ = median_pair(sha, sha, args.runs)
    print(f"sha256    {t_sha:6.3f} s ({size / t_sha / 1e9:.2f} GB/s)")
    scratch.cleanup()


if __name__ == "__main__":
    main()
