"""Where the CLI's text goes: stdout for data, stderr for one-line errors and warnings.

A reader of stdout that goes away (`layerscope ls IMG | head -1`) must not change the exit
status: under `set -o pipefail` a passing `check` piped into `head` has to stay a pass, and
a failing one a failure. So a closed pipe is not an error here: the first EPIPE points
stdout at /dev/null and the command runs on to its own exit code. `closed()` lets a long
listing stop early once nobody reads it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from layerscope.present.text import clean

__all__ = ["closed", "error", "finish", "install", "lines", "warn"]

_state = {"closed": False}


def closed() -> bool:
    """True once stdout's reader has gone: further output is thrown away."""
    return _state["closed"]


def _to_devnull() -> None:
    _state["closed"] = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)
    except (OSError, ValueError):
        pass


class _Pacified:
    """A stream whose writes and flushes swallow EPIPE (once: stdout then is /dev/null)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, data: Any) -> int:
        if _state["closed"]:
            return len(data)
        try:
            return int(self._inner.write(data))
        except BrokenPipeError:
            _to_devnull()
            return len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except BrokenPipeError:
            _to_devnull()
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._inner.flush()  # what was buffered goes to /dev/null now

    @property
    def buffer(self) -> IO[bytes]:
        return _Pacified(self._inner.buffer)  # type: ignore[return-value]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install() -> None:
    """Called once by the CLI before a command runs."""
    _state["closed"] = False
    for stream in (sys.stdout, sys.stderr):
        # A backstop: text is cleaned before it is written, but a lone surrogate that
        # slipped through must print escaped, not raise.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    if not isinstance(sys.stdout, _Pacified):
        sys.stdout = _Pacified(sys.stdout)


def finish() -> None:
    """Flush stdout at the end of a command, a closed pipe included."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _to_devnull()
    except ValueError:
        pass  # already closed


def lines(text: Iterable[str]) -> None:
    """Write lines to stdout (each gets its newline), stopping once nobody reads them."""
    write = sys.stdout.write
    for n, line in enumerate(text):
        write(line)
        write("\n")
        if not n & 1023 and _state["closed"]:
            return


def _line(kind: str, message: str) -> None:
    # One line, always: a message quoting a hostile name cannot add lines or escapes.
    sys.stderr.write(f"layerscope: {kind}: {clean(message.strip())}\n")
    sys.stderr.flush()


def error(message: str) -> None:
    _line("error", message)


def warn(message: str) -> None:
    _line("warning", message)
