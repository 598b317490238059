"""A layer's tar headers from its tar-split data, as a tar stream whose contents are holes.

containers/storage keeps, for every layer it unpacked or committed, the tar stream it came
from minus the file contents (vbatts/tar-split, gzip'd JSON lines):
  {"type": 2, "payload": "<base64>"}          raw tar bytes: headers, PAX records, padding
  {"type": 1, "name": "...", "size": N, ...}   a member's N content bytes (left out)
Putting the segments back with N zero bytes in place of each member's content gives the
original tar with its contents blanked: the tar parser (readers/tar) reads exactly the
headers the layer was made of (owners, mtimes, hard links, PAX xattrs, whiteouts as `.wh.`
names) and skips the holes without producing them. Entry.loc is the content's offset in
that stream; `locations` maps it back to the member's path, whose bytes are in the layer's
directory.
"""

from __future__ import annotations

import binascii
import gzip
from collections.abc import Iterator
from types import ModuleType
from typing import IO, BinaryIO, cast

import msgspec

from layerscope.errors import CorruptImageError, ReaderError
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers.tar.reader import iter_tar


def _gzip_module() -> ModuleType:
    """isal's gzip reader (a dependency, several times the stdlib's speed), else gzip."""
    try:
        from isal import igzip

        return igzip
    except ImportError:  # pragma: no cover
        return gzip


_gzip = _gzip_module()

MAX_LINE = 1 << 24  # one JSON record: a segment holds a few headers, a PAX block at most
READ = 4 << 20  # decompressed bytes parsed per batch of records
SEGMENT, FILE = 2, 1


class _Record(msgspec.Struct):
    type: int
    payload: str | None = None
    size: int = 0


# A batch of JSON lines is decoded as one JSON array: one C call per few thousand records.
_decode_batch = msgspec.json.Decoder(list[_Record]).decode


class TarSplitStream:
    """The DecodedStream readers.tar.iter_tar reads: segments as they are, members' contents
    as zeros that skip() passes over without making them."""

    compression = "plain"

    def __init__(self, path: str, name: str) -> None:
        self.name = name
        self.path = path
        try:
            self._raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise ReaderError(
                f"{name}: its tar-split data is gone (the layer was removed while read)"
            ) from None
        except OSError as e:
            raise ReaderError(f"{path}: cannot read: {e.strerror}") from None
        self._gz = cast(BinaryIO, _gzip.GzipFile(fileobj=self._raw, mode="rb"))
        self._pos = 0
        self._seg = memoryview(b"")  # what is left of the current segment
        self._hole = 0  # what is left of the current member's (absent) content
        self._records: list[_Record] = []
        self._next_record = 0
        self._tail = b""  # a line cut by the end of the last batch
        self._eof = False

    def _batch(self) -> bool:
        """Decode the next batch of whole lines; False when there are none left."""
        while not self._eof:
            try:
                chunk = self._gz.read(READ)
            except (OSError, EOFError, ValueError) as e:
                raise CorruptImageError(f"{self.path}: not a readable gzip stream: {e}") from None
            if not chunk:
                self._eof = True
                chunk, self._tail = self._tail + b"\n", b""
            else:
                chunk = self._tail + chunk
                cut = chunk.rfind(b"\n") + 1
                chunk, self._tail = chunk[:cut], chunk[cut:]
                if len(self._tail) > MAX_LINE:
                    raise CorruptImageError(f"{self.path}: a record longer than {MAX_LINE} bytes")
            lines = chunk.strip()
            if not lines:
                continue
            try:
                # JSON strings hold no raw newline: the lines are the array's elements
                self._records = _decode_batch(b"[" + lines.replace(b"\n", b",") + b"]")
            except msgspec.DecodeError as e:
                raise CorruptImageError(f"{self.path}: not tar-split JSON: {e}") from None
            self._next_record = 0
            return True
        return False

    def _next(self) -> bool:
        """Load the next segment or hole; False at the end."""
        while True:
            if self._next_record >= len(self._records) and not self._batch():
                return False
            rec = self._records[self._next_record]
            self._next_record += 1
            if rec.type == SEGMENT:
                try:
                    self._seg = memoryview(binascii.a2b_base64(rec.payload or ""))
                except (binascii.Error, ValueError):
                    raise CorruptImageError(f"{self.path}: a segment is not base64") from None
                if self._seg:
                    return True
            elif rec.type == FILE:
                if rec.size < 0:
                    raise CorruptImageError(f"{self.path}: a member of negative size")
                self._hole = rec.size
                if self._hole:
                    return True
            else:
                raise CorruptImageError(f"{self.path}: unknown record type {rec.type}")

    def readinto(self, buf: memoryview) -> int:
        n = 0
        want = len(buf)
        while n < want:
            if self._seg:
                k = min(len(self._seg), want - n)
                buf[n : n + k] = self._seg[:k]
                self._seg = self._seg[k:]
            elif self._hole:
                k = min(self._hole, want - n)
                buf[n : n + k] = bytes(k)
                self._hole -= k
            elif not self._next():
                break
            else:
                continue
            n += k
        self._pos += n
        return n

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            if self._seg:
                k = min(len(self._seg), n - done)
                self._seg = self._seg[k:]
            elif self._hole:
                k = min(self._hole, n - done)
                self._hole -= k
            elif not self._next():
                break
            else:
                continue
            done += k
        self._pos += done
        return done

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._gz.close()
        self._raw.close()

    def __enter__(self) -> TarSplitStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def entries(path: str, name: str) -> Iterator[Entry]:
    """The layer's entries (readers.tar Entry records), from its tar-split file."""
    with TarSplitStream(path, name) as stream:
        yield from iter_tar(stream, name)


def locations(path: str, name: str) -> dict[int, str]:
    """Content offset -> member path, for every regular file with content of its own."""
    out: dict[int, str] = {}
    with TarSplitStream(path, name) as stream:
        for e in iter_tar(stream, name):
            if e.kind is EntryKind.FILE and e.hardlink is None and e.loc >= 0:
                out[e.loc] = e.path
    return out
