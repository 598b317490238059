"""Growth per step and "what made it big" on big inputs, against what the same questions
cost the reference tools.

    python benchmarks/bench_growth.py [--entries N] [--repeat R] [--oci-mb MB] [--work-dir D]

Inputs (built once per size in the work directory): bench_diff's two 300,000-entry build
stages (A, and A with ~8,600 edits), as squashfs and SIF; gen_oci's 5-layer OCI layout.
In process, with the trees loaded (what the TUI holds when it computes them):

  stage growth     model.growth.tree_growth(A, B): the metadata comparison and the byte
                   counts the layers table shows, against `sqfsdiff -C` (a metadata-only
                   comparison of the two squashfs files, a process); goal <= 1x
  count_growth     the worker the TUI starts once a stage stack of the two SIFs is shown
                   (warm index cache: both trees are held; growth of both steps)
  layer growth     model.growth.layer_growths of the OCI image's final tree (every layer at
                   once, from the tree's history), against reopening the image from a warm
                   cache; reported (the TUI counts it in a worker after the first frame)
  what made it big engine.contributors for stage B (directories, packages, caches,
                   secrets by name), reported
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_diff import build_stages  # noqa: E402
from bench_open import run_tool  # noqa: E402
from gen_oci import build_oci  # noqa: E402


def _median(fn: object, reps: int) -> float:
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--oci-mb", type=int, default=300)
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "lsbench")
    args = ap.parse_args()
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(work / "xdg-growth"))

    from layerscope.engine.browse.stack import count_growth, open_stack
    from layerscope.engine.contributors import contributors
    from layerscope.engine.loading import load_image
    from layerscope.model.growth import layer_growths, tree_growth

    a_sqfs, b_sqfs, _bz_sqfs, a_sif, b_sif, _bz_sif = build_stages(work, args.entries)
    a, b = load_image(str(a_sif)), load_image(str(b_sif))
    a.tree.total_size(), b.tree.total_size()  # rolled up, as the stack holds them
    reps = args.repeat
    ref = statistics.median(
        run_tool(["sqfsdiff", "-C", "-a", str(a_sqfs), "-b", str(b_sqfs)]) for _ in range(reps)
    )
    grew = tree_growth(a.tree, b.tree)
    ours = _median(lambda: tree_growth(a.tree, b.tree), reps)

    def counted() -> None:
        stack = open_stack([str(a_sif), str(b_sif)])
        t = time.perf_counter()
        count_growth(stack)
        counts.append(time.perf_counter() - t)
        stack.close()

    counts: list[float] = []
    for _ in range(reps):
        counted()
    opened = statistics.median(counts)
    big = _median(lambda: contributors(a, b), reps)
    doc = contributors(a, b)

    oci = build_oci(work / f"oci-growth-{args.oci_mb}", 5, args.oci_mb, args.entries)
    img = load_image(f"oci:{oci}")  # fills the cache
    reopen = _median(lambda: load_image(f"oci:{oci}"), reps)
    layers = _median(lambda: layer_growths(img.tree), reps)

    print(f"medians of {reps} runs; {args.entries:,} entries a stage")
    print(f"{'measurement':<44}{'against':<26}{'ref s':>8}{'ours s':>9}{'ratio':>8}  goal")
    print("-" * 105)
    row = "{:<44}{:<26}{:>8.3f}{:>9.3f}{:>7.2f}x  {}"
    print(row.format("stage growth (metadata compare + bytes)", "sqfsdiff -C", ref, ours,
                     ours / ref, "<= 1x " + ("ok" if ours <= ref else "MISSED")))  # fmt: skip
    print(row.format(f"layer growth, OCI 5 layers {len(img.tree):,}", "reopen (warm cache)",
                     reopen, layers, layers / reopen, "(in a worker)"))  # fmt: skip
    print(f"{'count_growth, stages A B (the worker)':<44}{'':<26}{'':>8}{opened:>9.3f}")
    print(f"{'what made it big, stage B':<44}{'':<26}{'':>8}{big:>9.3f}")
    print(
        f"\nstage B: +{grew.added:,} -{grew.removed:,} ~{grew.modified:,} bytes; top "
        f"directory {doc.grew[0].path if doc.grew else '-'}; {len(doc.caches)} caches, "
        f"{len(doc.secrets)} secrets"
    )


if __name__ == "__main__":
    main()
