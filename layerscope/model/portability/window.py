"""A file held in memory within a bound: all of it, or its head and its tail.

ELF puts what the portability report reads near the two ends of a file: the headers,
notes, dynamic string table and version needs at the start, the section header table
and section names at the end. A file larger than the bound keeps its first and last
halves of it; a read that falls between them raises OutsideWindow, which the ELF reader
turns into "partly read", never a wrong answer.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterable

__all__ = ["OutsideWindow", "Window", "WindowFile", "collect"]


class OutsideWindow(Exception):
    """A read of bytes the window did not keep."""


class Window:
    """`head` is the file's first bytes, `tail` its last (both empty when whole)."""

    __slots__ = ("head", "size", "tail", "tail_start")

    def __init__(self, head: bytes, tail: bytes, size: int) -> None:
        self.head = head
        self.tail = tail
        self.size = size
        self.tail_start = size - len(tail)

    @property
    def whole(self) -> bool:
        return len(self.head) == self.size

    def slice(self, start: int, end: int) -> bytes:
        """Bytes [start, end) clipped to the file; OutsideWindow if some were not kept."""
        end = min(end, self.size)
        if start >= end:
            return b""
        if end <= len(self.head):
            return self.head[start:end]
        if start >= self.tail_start and self.tail:
            return self.tail[start - self.tail_start : end - self.tail_start]
        raise OutsideWindow(f"bytes {start}-{end} of {self.size} were not read")

    def kept(self) -> list[tuple[int, bytes]]:
        """(offset, bytes) of each part held."""
        parts = [(0, self.head)]
        if self.tail:
            parts.append((self.tail_start, self.tail))
        return parts


def collect(chunks: Iterable[bytes], size: int, bound: int) -> Window:
    """Consume a file's chunks, keeping all of it if `size` <= `bound`, else its first and
    last bound/2 bytes (memory stays within `bound` whatever the size)."""
    if size <= bound:
        data = b"".join(chunks)
        return Window(data, b"", len(data))
    half = max(bound // 2, 1)
    head = bytearray()
    tail: deque[bytes] = deque()
    held = 0
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if len(head) < half:
            take = half - len(head)
            head += chunk[:take]
            chunk = chunk[take:]
        if chunk:
            tail.append(chunk)
            held += len(chunk)
            while tail and held - len(tail[0]) >= half:
                held -= len(tail.popleft())
    data = b"".join(tail)
    data = data[-half:] if len(data) > half else data
    if seen <= len(head):
        return Window(bytes(head), b"", seen)
    return Window(bytes(head), data, seen)


class WindowFile(io.RawIOBase):
    """A Window as the seekable binary file pyelftools reads from."""

    def __init__(self, window: Window) -> None:
        super().__init__()
        self.window = window
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.window.size}[whence]
        self.pos = max(base + offset, 0)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        end = self.window.size if size is None or size < 0 else self.pos + size
        data = self.window.slice(self.pos, end)
        self.pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
