"""Reading one cache file: header and key checks, then the checksum before any trust.

Split from store.py (which writes, evicts and administers) so each stays small.
"""

from __future__ import annotations

import io
import os
import struct
from typing import BinaryIO

import xxhash

from layerscope.errors import CacheCorruptError

MAGIC = b"LSCACHE\0"
STORE_VERSION = 1
HEADER = struct.Struct("<8sHBBIQ16s")  # magic, version, kind, codec, key len, payload len, sum
CODEC_RAW, CODEC_ZSTD = 0, 1
KIND_IDS = {"tree": 1, "layer": 2, "hashes": 3, "facts": 4}
_READ_CHUNK = 1 << 20


class Reader:
    """A cache file whose header, size and key have been checked. The payload is trusted
    only through `read_all()` (checks the checksum on the bytes it returns) or after
    `verify()` (a streaming pass); both read the same open file, which no writer ever
    modifies (writers replace names)."""

    def __init__(self, f: io.BufferedReader, kind: str, key: str) -> None:
        self.f = f
        st = os.fstat(f.fileno())
        self.ino = st.st_ino
        head = f.read(HEADER.size)
        if len(head) != HEADER.size:
            raise CacheCorruptError("short header")
        magic, version, kind_id, codec, key_len, length, digest = HEADER.unpack(head)
        if magic != MAGIC or version != STORE_VERSION or kind_id != KIND_IDS[kind]:
            raise CacheCorruptError("foreign or older cache file")
        if codec not in (CODEC_RAW, CODEC_ZSTD):
            raise CacheCorruptError("unknown codec")
        if st.st_size != HEADER.size + key_len + length:
            raise CacheCorruptError("truncated or extended")
        self.key = f.read(key_len)
        if self.key != key.encode("utf-8", "surrogateescape"):
            raise CacheCorruptError("another key")
        self.start = HEADER.size + key_len
        self.length = length
        self.codec = codec
        self.digest = digest

    def verify(self) -> None:
        """Check the checksum with one streaming pass (bounded memory)."""
        h = xxhash.xxh3_128()
        h.update(self.key)
        self.f.seek(self.start)
        left = self.length
        while left:
            chunk = self.f.read(min(left, _READ_CHUNK))
            if not chunk:
                raise CacheCorruptError("truncated")
            h.update(chunk)
            left -= len(chunk)
        if h.digest() != self.digest:
            raise CacheCorruptError("checksum mismatch")

    def stream(self) -> BinaryIO:
        """The payload as a file-like object (decompressing if needed), from its start.
        Call verify() first."""
        self.f.seek(self.start)
        if self.codec == CODEC_ZSTD:
            import zstandard

            return zstandard.ZstdDecompressor().stream_reader(
                self.f, closefd=False, read_across_frames=True
            )
        return self.f

    def checked_stream(self) -> CheckedStream:
        """The raw payload, verified as it is read (see CheckedStream)."""
        if self.codec != CODEC_RAW:
            raise CacheCorruptError("a compressed entry cannot be read as a checked stream")
        return CheckedStream(self)

    def read_all(self) -> bytes:
        """The verified, decompressed payload."""
        self.f.seek(self.start)
        data = self.f.read(self.length)
        if len(data) != self.length:
            raise CacheCorruptError("truncated")
        h = xxhash.xxh3_128()
        h.update(self.key)
        h.update(data)
        if h.digest() != self.digest:
            raise CacheCorruptError("checksum mismatch")
        if self.codec == CODEC_ZSTD:
            import zstandard

            try:
                reader = zstandard.ZstdDecompressor().stream_reader(
                    io.BytesIO(data), read_across_frames=True
                )
                return reader.read()
            except zstandard.ZstdError as e:
                raise CacheCorruptError(f"zstd: {e}") from None
        return data

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CheckedStream:
    """The raw payload as a file-like object that hashes what it hands out; `finish()`
    hashes the rest and raises CacheCorruptError on a mismatch. Lets a decoder read the
    file once instead of verifying in a pass of its own; what it decoded is used only
    after finish() succeeds."""

    def __init__(self, reader: Reader) -> None:
        self._f = reader.f
        self._left = reader.length
        self._digest = reader.digest
        self._h = xxhash.xxh3_128()
        self._h.update(reader.key)
        self._f.seek(reader.start)

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        data = self._f.read(want)
        self._h.update(data)
        self._left -= len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        view = buffer[: self._left]
        n = self._f.readinto(view)
        self._h.update(view[:n])
        self._left -= n
        return n

    def finish(self) -> None:
        while self._left:
            if not self.read(_READ_CHUNK):
                raise CacheCorruptError("truncated")
        if self._h.digest() != self._digest:
            raise CacheCorruptError("checksum mismatch")
