"""The layerscope error tree and the one exit-code table.

Readers catch library exceptions (struct.error, zlib.error, ...) at their boundary and
re-raise one of these, so nothing above them sees a foreign exception. `exit_code_for`
is the only place an error becomes an exit code: the CLI and the TUI both call it.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What the README's exit-code table says, in one place."""

    OK = 0  # ok / no differences
    FINDINGS = 1  # diff found differences, check failed
    USAGE = 2  # bad arguments; a named image, path or config that does not exist
    BAD_INPUT = 3  # unreadable, corrupt or unsupported input (a safety limit included)
    REGISTRY = 4  # registry, engine or network failure
    INTERRUPTED = 130


class LayerscopeError(Exception):
    """Base of every error layerscope raises on purpose."""

    exit_code = ExitCode.BAD_INPUT


class UsageError(LayerscopeError):
    """The user asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE


class ReaderError(LayerscopeError):
    """An image could not be read."""


class UnsupportedFormatError(ReaderError):
    """The input is not a format layerscope reads."""


class CorruptImageError(ReaderError):
    """The input looks like a known format but its bytes are inconsistent."""


class EncryptedError(ReaderError):
    """The partition is encrypted: its contents cannot be read."""


class MissingCodecError(ReaderError):
    """The data uses a compressor whose Python binding is not installed."""


class LimitExceededError(ReaderError):
    """A safety limit (decompressed size, entries, depth...) was hit."""


class EntryNotFoundError(UsageError):
    """A path asked for is not in the image: like a missing image file, a name the user
    gave that does not exist (exit 2)."""


class NotFoundError(UsageError):
    """An image file, directory or reference the user named does not exist (exit 2)."""


class RegistryError(LayerscopeError):
    """A registry, engine or network failure."""

    exit_code = ExitCode.REGISTRY


class Cancelled(LayerscopeError):
    """Work was cancelled by the caller (a UI closing, Ctrl+C)."""

    exit_code = ExitCode.INTERRUPTED


class CacheCorruptError(LayerscopeError):
    """An index cache entry failed its checks. Only engine.loading sees it: it reads the
    image again instead. Reaching the CLI would mean a bug, so it still maps to exit 3."""


def exit_code_for(error: BaseException) -> int:
    """The exit code of any error: ours by class, Ctrl+C as 130, anything else as 3 (an
    internal failure on this input)."""
    if isinstance(error, LayerscopeError):
        return int(error.exit_code)
    if isinstance(error, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.BAD_INPUT)


def where(source: str, offset: int | None = None, part: str | None = None) -> str:
    """Format the location prefix used in reader error messages."""
    loc = source
    if part:
        loc += f" ({part})"
    if offset is not None:
        loc += f" at byte {offset}"
    return loc
