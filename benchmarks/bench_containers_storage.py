"""Listing a podman/buildah store's layer: its tar-split data against walking its directory.

A store holds each layer twice over: the files (overlay `diff/`, vfs `dir/`) and, for
layers it unpacked or committed, the tar headers they came from (tar-split, gzip'd JSON
lines). This measures, on one layer of gen_tree's deterministic tree added with
`buildah add` and committed to an overlay store:

  tar-split   StoreReader.iter_entries (gunzip, JSON, base64, the tar header parser)
  walk        the sandbox reader over the same layer's `diff/` (lstat + xattrs per entry)
  find        `find DIR -printf` with the fields a listing needs (reference)
  zcat        `zcat` of the tar-split file to /dev/null (reference: the gunzip alone)

Needs root (buildah mount/commit into a store under --work-dir).

    python benchmarks/bench_containers_storage.py [--entries N] [--repeat R] [--work-dir D]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_tree import write_tar

from layerscope.readers.containers_storage.config import StoreLocation
from layerscope.readers.containers_storage.reader import StoreReader
from layerscope.readers.containers_storage.store import Store, find_image
from layerscope.readers.directory import SandboxReader

NAME = "localhost/bench-cstore:1"


def build(work: Path, entries: int) -> Path:
    root = work / f"store-{entries}"
    args = ["--root", str(root), "--runroot", str(work / f"run-{entries}"),
            "--storage-driver", "overlay"]  # fmt: skip
    if (root / "overlay-images" / "images.json").exists():
        return root
    tar = work / f"tree-{entries}.tar"
    with open(tar, "wb") as f:
        write_tar(f, entries)
    env = {**os.environ, "BUILDAH_ISOLATION": "chroot"}

    def run(*a: str) -> str:
        return subprocess.run(["buildah", *args, *a], check=True, capture_output=True,
                              text=True, env=env).stdout.strip()  # fmt: skip

    ctr = run("from", "scratch")
    run("add", ctr, str(tar), "/")
    run("commit", "--quiet", ctr, NAME)
    run("rm", ctr)
    return root


def median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--work-dir", default=os.path.join(tempfile.gettempdir(), "ls-bench-cs"))
    a = ap.parse_args()
    work = Path(a.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    root = build(work, a.entries)
    store = Store(StoreLocation(str(root), "overlay"))
    image = find_image(store.images(), NAME)
    assert image is not None
    reader = StoreReader(store, image, NAME)
    layer = reader.chain[0]
    diff = store.layer_dir(layer.id)
    split = store.tar_split(layer.id)

    def by_tar_split() -> int:
        return sum(1 for _ in reader.iter_entries(0))

    def by_walk() -> int:
        walk = SandboxReader(diff)
        try:
            return sum(1 for _ in walk.iter_entries(0))
        finally:
            walk.close()

    def find() -> None:
        subprocess.run(["find", diff, "-printf", "%y %m %U %G %s %T@ %l\\n"],
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip

    def zcat() -> None:
        subprocess.run(["zcat", split], check=True, stdout=subprocess.DEVNULL)

    n_split, n_walk = by_tar_split(), by_walk()
    rows = []
    for label, fn in (("tar-split", by_tar_split), ("walk diff/", by_walk),
                      ("find -printf", find), ("zcat tar-split", zcat)):  # fmt: skip
        rows.append((label, median(fn, a.repeat)))
    print(f"one layer, {n_split:,} entries from tar-split, {n_walk:,} from the walk "
          f"(tar-split {os.path.getsize(split):,} bytes gzip'd); median of {a.repeat}")  # fmt: skip
    for label, t in rows:
        print(f"  {label:<16}{t * 1000:9.1f} ms  {t / rows[2][1]:6.2f}x find")
    print(f"  tar-split / walk: {rows[0][1] / rows[1][1]:.2f}")


if __name__ == "__main__":
    main()
