"""`layerscope report` at scale: generation time against `check` (the analysis it shows),
the file's size, and how long Chromium takes to open it.

Inputs are the suite's own: the 300,000-entry SIF (gen_tree -> tar2sqfs -> gen_sif) and the
5-layer OCI layout (gen_oci). Per input, interleaved `--repeat` times:
- `layerscope check --json` and `layerscope report -o FILE`, fresh processes, both with a
  warm index cache (the report is the check's analysis plus the growth, treemap and page),
  and the report once more with `--no-cache` (cold);
- the report opened in headless Chromium (tests/report/chromium.py): navigation start to
  the end of the load event, from the Performance API; goal < 2 s.

    python benchmarks/bench_report.py [--entries N] [--repeat R] [--work-dir DIR] [--only sif]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.report.chromium
from bench_open import build_sif, run_cli

LOAD_GOAL_MS = 2000.0


@dataclass
class ReportResult:
    name: str
    check: list[float] = field(default_factory=list)
    report: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    load_ms: list[float] = field(default_factory=list)
    size: int = 0
    rss_kb: int = 0
    check_rss_kb: int = 0

    def row(self) -> str:
        c, r = statistics.median(self.check), statistics.median(self.report)
        cold = statistics.median(self.cold) if self.cold else float("nan")
        load = statistics.median(self.load_ms)
        mark = "ok" if load < LOAD_GOAL_MS else "MISSED"
        return (
            f"{self.name:<28}{c:>9.2f}{r:>9.2f}{r / c:>7.2f}x{cold:>9.2f}"
            f"{self.size / 1e6:>9.2f} MB{load:>9.0f} ms  {mark}"
            f"{self.rss_kb / 1024:>8.0f}{self.check_rss_kb / 1024:>8.0f}"
        )


HEADER = (
    f"{'report':<28}{'check s':>9}{'report s':>9}{'ratio':>8}{'cold s':>9}{'size':>12}"
    f"{'open':>12}  goal < 2 s{'MiB':>6}{'check':>8}"
)


def bench(name: str, ref: str, reps: int, work: Path) -> ReportResult:
    from tests.report.chromium import Chromium, find_chromium

    browser_bin = find_chromium()
    if browser_bin is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    res = ReportResult(name)
    xdg = tempfile.mkdtemp(prefix="xdg-", dir=work)
    out = work / f"report-{name.split()[0].lower()}.html"
    try:
        run_cli(["report", ref, "-o", str(out)], xdg)  # warms the index cache
        for i in range(reps):
            secs, hwm = run_cli(["check", "--json", ref], xdg)
            res.check.append(secs)
            res.check_rss_kb = max(res.check_rss_kb, hwm)
            secs, hwm = run_cli(["report", ref, "-o", str(out)], xdg)
            res.report.append(secs)
            res.rss_kb = max(res.rss_kb, hwm)
            if i == 0:  # cold: every layer read again (slow on the OCI image: once)
                res.cold.append(run_cli(["report", "--no-cache", ref, "-o", str(out)], xdg)[0])
        res.size = out.stat().st_size
        with Chromium(browser_bin) as browser:
            browser.load(out)  # the browser's own start-up and first page, not counted
            for _ in range(reps):
                page = browser.load(out)
                if page.console or page.exceptions or page.requests != [page.url]:
                    raise SystemExit(f"{out}: {page.console} {page.exceptions} {page.requests}")
                res.load_ms.append(page.load_ms)
    finally:
        shutil.rmtree(xdg, ignore_errors=True)
    return res


def bench_reports(work: Path, entries: int, size_mb: int, reps: int,
                  only: set[str]) -> list[ReportResult]:  # fmt: skip
    from gen_oci import build_oci

    results = []
    if "sif" in only:
        _, sif = build_sif(work, entries, "gzip")
        results.append(bench(f"SIF {entries:,}", str(sif), reps, work))
    if "oci" in only:
        layout = build_oci(work / f"oci-5x-{size_mb}mb-{entries}", 5, size_mb, entries)
        results.append(bench("OCI 5 layers", f"oci:{layout}", reps, work))
    return results


def print_reports(results: list[ReportResult]) -> None:
    print(HEADER)
    print("-" * len(HEADER))
    for r in results:
        print(r.row())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--size-mb", type=int, default=1536)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("sif", "oci"), action="append")
    ap.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "layerscope-bench"
    )
    a = ap.parse_args()
    a.work_dir.mkdir(parents=True, exist_ok=True)
    results = bench_reports(
        a.work_dir, a.entries, a.size_mb, a.repeat, set(a.only or ("sif", "oci"))
    )
    print_reports(results)


if __name__ == "__main__":
    main()
