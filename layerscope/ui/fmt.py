"""Small text helpers shared by the widgets (no Textual here)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from layerscope.model.entry import EntryKind, perm_string
from layerscope.model.tree import FileTree

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
BAR_CELLS = " ▏▎▍▌▋▊▉█"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def human_size(n: int | None) -> str:
    """1023 B, 1.0 KiB, 5.0 MiB: binary units, one decimal (what `ls -lh` users read)."""
    if n is None:
        return "…"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in UNITS[1:]:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            return f"{value:.1f} {unit}"
    return f"{n} B"  # pragma: no cover - the loop always returns


def signed_size(n: int) -> str:
    """A size delta: "+5.0 MiB", "-47 B"; empty for no change (the eye finds the others)."""
    if n == 0:
        return ""
    return ("+" if n > 0 else "-") + human_size(abs(n))


def safe(text: str) -> str:
    """Control characters and undecodable bytes (surrogate-escaped) as visible escapes, so a
    hostile file name can neither move the terminal's cursor nor break the output encoding."""

    def esc(m: re.Match[str]) -> str:
        c = ord(m.group())
        if 0xDC80 <= c <= 0xDCFF:
            return f"\\x{c - 0xDC00:02x}"
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _UNSAFE.sub(esc, text)


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
