"""Numbers as people read them: one formatter for sizes, deltas, percentages and counts,
used by every text output and the TUI (JSON keeps integer bytes).

Sizes are SI (powers of 1000: `1.5 GB`), as dive prints them and as dive users read them;
the one size syntax users write (limits.parse_bytes) reads them back the same way.
"""

from __future__ import annotations

import humanize

__all__ = ["count", "percent", "rate", "signed_size", "size", "size_exact"]

PENDING = "…"  # a number not known yet


def size(n: int | None) -> str:
    """`999 B`, `1.0 kB`, `1.5 GB` (SI, one decimal); `…` for a size not known yet."""
    if n is None:
        return PENDING
    if -1000 < n < 1000:
        return f"{n} B"
    return str(humanize.naturalsize(n, format="%.1f"))


def size_exact(n: int) -> str:
    """A size with its exact byte count beside it, for headline numbers people may check
    against another tool: `1.3 GB (1,346,215,338 B)`."""
    return size(n) if -1000 < n < 1000 else f"{size(n)} ({n:,} B)"


def signed_size(n: int | None) -> str:
    """A size delta: `+5.0 MB`, `-30.0 MB`, `0 B` (a minus sign only on real removals)."""
    if n is None:
        return PENDING
    if n == 0:
        return "0 B"
    return ("+" if n > 0 else "-") + size(abs(n))


def percent(ratio: float | None, digits: int = 2) -> str:
    """A 0..1 ratio as a percentage, the same everywhere (`95.31 %`); `n/a` when unknown."""
    if ratio is None:
        return "n/a"
    return f"{ratio * 100:.{digits}f} %"


def count(n: int | None) -> str:
    return PENDING if n is None else f"{n:,}"


def rate(n_bytes: float, seconds: float) -> str:
    """A transfer or read rate, `12.3 MB/s`."""
    if seconds <= 0:
        return PENDING
    return f"{size(int(n_bytes / seconds))}/s"
