"""Exit codes, as the README documents them."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1  # diff found differences, check failed
    USAGE = 2
    BAD_INPUT = 3  # unreadable, corrupt or unsupported input
    REGISTRY = 4  # registry or network failure
    INTERRUPTED = 130
