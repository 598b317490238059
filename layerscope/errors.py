"""The layerscope error tree.

Readers catch library exceptions (struct.error, zlib.error, ...) at their boundary and
re-raise one of these, so nothing above them sees a foreign exception. The CLI maps each
class to one exit code and one line on stderr.
"""

from __future__ import annotations


class LayerscopeError(Exception):
    """Base of every error layerscope raises on purpose."""

    exit_code = 3


class UsageError(LayerscopeError):
    """The user asked for something that cannot be done as asked (exit 2)."""

    exit_code = 2


class ReaderError(LayerscopeError):
    """An image could not be read (exit 3)."""


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


class EntryNotFoundError(LayerscopeError):
    """A path asked for is not in the image (exit 3: the input cannot answer)."""


class RegistryError(LayerscopeError):
    """A registry or network failure (exit 4)."""

    exit_code = 4


def where(source: str, offset: int | None = None, part: str | None = None) -> str:
    """Format the location prefix used in reader error messages."""
    loc = source
    if part:
        loc += f" ({part})"
    if offset is not None:
        loc += f" at byte {offset}"
    return loc
