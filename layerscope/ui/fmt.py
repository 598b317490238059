"""Small text helpers shared by the widgets (no Textual here). Sizes, deltas and escaping
come from present/ (one formatter, one escaping function for the whole program)."""

from __future__ import annotations

from datetime import datetime, timezone

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree
from layerscope.present.text import clean as safe
from layerscope.present.units import signed_size as _signed
from layerscope.present.units import size as human_size

__all__ = ["bar", "human_size", "ls_mode", "mtime", "owner", "safe", "shorten", "signed_size"]

BAR_CELLS = " ▏▎▍▌▋▊▉█"


def signed_size(n: int) -> str:
    """A size delta for a column: "+5.0 MB", "-47 B"; empty for no change (the eye finds
    the others)."""
    return "" if n == 0 else _signed(n)


def bar(fraction: float, width: int) -> str:
    """A proportional bar `width` cells wide, in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    out = "█" * full
    if part and full < width:
        out += BAR_CELLS[part]
    return out.ljust(width)


def ls_mode(tree: FileTree, node: int) -> str:
    return EntryKind(tree.kind[node]).ls_char + perm_string(tree.mode[node])


def owner(tree: FileTree, node: int) -> str:
    return f"{tree.uid[node]}:{tree.gid[node]}"


def mtime(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"
