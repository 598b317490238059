"""Run one fuzz case under a time and memory budget and say what happened.

The contract every parser must keep on any input: it either works or raises a
LayerscopeError (the CLI turns that into one line and exit 3/4); it never lets another
exception out, never takes more than TIME_LIMIT seconds, and never grows the process by
more than MEMORY_LIMIT bytes. Memory is the peak resident set during the case: Linux lets a
process reset its high-water mark (/proc/self/clear_refs, "5"), which costs microseconds,
where tracemalloc would slow every case down 4-5x. Elsewhere tracemalloc is the fallback.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import traceback
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerscope.errors import LayerscopeError
from tests.fuzz.targets import Target

# fuzz/run.py reports a case slower than TIME_LIMIT as a finding (a slow path is a bug to
# look at); the test suite runs cases with HANG_GUARD, a limit for hangs only, because a
# test must not fail on a loaded machine (speed lives in benchmarks/).
TIME_LIMIT = 2.0
HANG_GUARD = 60.0
MEMORY_LIMIT = 200 << 20


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "typed" (a LayerscopeError), "untyped", "slow", "memory"
    detail: str  # the error line, or the traceback of an untyped exception
    seconds: float
    peak: int  # bytes, 0 when memory was not traced

    @property
    def bad(self) -> bool:
        return self.kind in ("untyped", "slow", "memory")

    def signature(self) -> str:
        """What distinguishes one bug from another: the exception type and where it was
        raised (the last frame inside layerscope), not the message."""
        if self.kind != "untyped":
            return self.kind
        lines = [ln for ln in self.detail.splitlines() if ln.strip()]
        frames = [ln.strip() for ln in lines if ln.strip().startswith('File "') and _ours(ln)]
        where = frames[-1] if frames else "?"
        return f"{lines[-1].split(':')[0]} @ {where}"


_HWM = re.compile(rb"VmHWM:\s+(\d+) kB")
_RSS = re.compile(rb"VmRSS:\s+(\d+) kB")


def _status(pattern: re.Pattern[bytes]) -> int:
    with open("/proc/self/status", "rb") as f:
        m = pattern.search(f.read())
    return int(m.group(1)) << 10 if m else 0


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status(_HWM) > 0


class _Meter:
    """Peak memory growth of one case: resident set if it can be reset, else tracemalloc."""

    def __init__(self) -> None:
        self.rss = _reset_peak_rss()
        self.base = _status(_RSS) if self.rss else 0
        if not self.rss:
            if not tracemalloc.is_tracing():
                tracemalloc.start(1)
            tracemalloc.reset_peak()

    def peak(self) -> int:
        if self.rss:
            return max(0, _status(_HWM) - self.base)
        return tracemalloc.get_traced_memory()[1]


def _ours(frame: str) -> bool:
    """A traceback line in the layerscope package (not in its tests or this harness)."""
    path = frame.split('"')[1] if '"' in frame else frame
    return "/layerscope/" in path and "/tests/" not in path and "/fuzz/" not in path


def run_case(
    target: Target,
    case: Any,
    root: Path | None = None,
    trace: bool = True,
    time_limit: float = TIME_LIMIT,
) -> Outcome:
    """Run `case` in a fresh directory under `root`; the directory is removed after."""
    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-", dir=root))
    meter = _Meter() if trace else None
    start = time.perf_counter()
    kind, detail = "ok", ""
    try:
        target.run(case, work)
    except LayerscopeError as e:
        kind, detail = "typed", f"{type(e).__name__}: {e}"
    except (Exception, MemoryError, RecursionError) as e:  # the findings
        kind = "untyped"
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    finally:
        seconds = time.perf_counter() - start
        peak = meter.peak() if meter is not None else 0
        shutil.rmtree(work, ignore_errors=True)
    if kind != "untyped":
        if seconds > time_limit:
            kind, detail = "slow", f"{seconds:.2f} s (limit {time_limit} s); {detail}"
        elif peak > MEMORY_LIMIT:
            kind, detail = "memory", f"{peak >> 20} MiB (limit {MEMORY_LIMIT >> 20} MiB); {detail}"
    return Outcome(kind, detail, seconds, peak)
