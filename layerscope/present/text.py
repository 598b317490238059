"""Text that came from an image or a registry, made safe to show on a terminal.

Names, link targets, labels, environment values, history lines, runscripts, definition
files and registry messages are written by whoever built the image. Printed raw, a name
holding `ESC ] 52 ; c ; ...` writes the user's clipboard, `ESC ] 2 ; ...` the window title,
`ESC [ 2 J` clears the screen, and a newline forges a second entry. `clean` is the one
escaping function every text output, error message and TUI widget uses; JSON output stays
exact (it escapes by its own rules and round-trips every byte).

Escaped, as visible backslash sequences: C0 controls (`\\n`, `\\r`, `\\t` by name, the rest
as `\\x1b`), DEL and C1 controls (`\\x7f`, `\\x9b`), bytes that are not UTF-8 (kept by the
readers as surrogate escapes: shown as the byte, `\\xff`), and the invisible characters
that reorder or break text (bidirectional overrides and isolates, U+2028/U+2029), which
could make a path read as another. A backslash itself is left alone: the escapes are for
the eye, and the exact bytes are in `--json`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["clean", "clean_lines"]

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_UNSAFE_KEEP_TAB = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    c = ord(ch)
    if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(text: str) -> str:
    """`text` on one line with every control, undecodable byte and reordering character
    shown as a visible escape. Plain text comes back as the same object (no copy)."""
    if text.isascii() and text.isprintable():
        return text  # the common case, at C speed
    return _UNSAFE.sub(_escape, text)


def clean_lines(text: str) -> Iterator[str]:
    """A multi-line text (definition file, runscript, history) as cleaned lines: split on
    newlines only (a carriage return or form feed inside a line is escaped), tabs kept
    (scripts are indented with them)."""
    for line in text.split("\n"):
        if line.isascii() and line.isprintable():
            yield line
        else:
            yield _UNSAFE_KEEP_TAB.sub(_escape, line)
