"""One layer blob (tar, tar+gzip, tar+zstd) -> Entry stream, without tarfile.

A streaming header parser over the decoded stream. File data is never materialised: the
decoded bytes go through one fixed 1 MiB window whose boundaries stay on 512-byte blocks,
so a header never straddles two reads; data past the window is skipped (a seek when the blob
is uncompressed). Entry.loc is the offset of the member's data in the uncompressed stream.

Handled: ustar/GNU/PAX headers, PAX extended ('x') and global ('g', tolerated: its
uid/gid/mtime/xattrs apply to later members) records, GNU long names/links ('L'/'K'),
base-256 numbers, SCHILY.xattr.* and LIBARCHIVE.xattr.* (base64) xattrs. Whiteouts are
reported as stored (`.wh.` names); the model interprets them.

Truncation: a member whose data is complete but whose padding or the end-of-archive blocks
are missing is yielded, then CorruptImageError is raised at the offset where the stream
ended (GNU tar lists it too before "Unexpected EOF"). A member whose data is cut short is not
yielded. A stream that ends cleanly on a header boundary without end-of-archive blocks is
accepted, as GNU tar does.

GNU sparse members are listed with their real size but their content cannot be read
(loc = -1).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO
from zlib import adler32

from layerscope import limits
from layerscope.errors import CorruptImageError, UnsupportedFormatError, where
from layerscope.model.entry import Entry
from layerscope.readers.tar.inflate import DecodedStream, open_decoded
from layerscope.readers.tar.members import EXT_TYPES, Members, PathNotes

WINDOW = 1 << 20
BLOCK = 512
CONTENT_CHUNK = 1 << 20


def iter_layer_entries(
    raw: BinaryIO,
    name: str,
    stored_size: int | None = None,
    limit: int | None = -1,
    notes: PathNotes | None = None,
) -> Iterator[Entry]:
    """Entries of one layer blob (compression sniffed). `name` names the layer in errors;
    `notes` collects the names with '..' that were resolved (see members.PathNotes)."""
    stream = open_decoded(raw, name, stored_size, limit)
    try:
        yield from iter_tar(stream, name, notes)
    finally:
        stream.close()


def read_layer_content(
    raw: BinaryIO, name: str, loc: int, size: int, stored_size: int | None = None
) -> Iterator[bytes]:
    """The `size` bytes at uncompressed offset `loc` of a layer blob, in chunks."""
    if loc < 0:
        raise UnsupportedFormatError(f"{name}: this member's content cannot be read (sparse?)")
    stream = open_decoded(raw, name, stored_size)
    try:
        if stream.skip(loc) < loc:
            raise CorruptImageError(f"{where(name, stream.tell())}: stream ends before member data")
        buf = memoryview(bytearray(min(CONTENT_CHUNK, max(size, 1))))
        yield from _member_chunks(stream, buf, size, name)
    finally:
        stream.close()


def read_layer_contents(
    raw: BinaryIO, name: str, wanted: Sequence[tuple[int, int]], stored_size: int | None = None
) -> Iterator[tuple[int, Iterator[bytes]]]:
    """(loc, chunks) for each (loc, size) of `wanted`, in ascending loc order, from one pass
    over the layer: reading members one by one would decompress everything before each.
    Consume each member's chunks (or drop them) before asking for the next member.

    A compressed layer is decoded on a thread, a few blocks ahead (the codecs release the
    GIL: decoding runs beside what the caller does with the bytes), and members are
    sliced out of the blocks; an uncompressed one is read member by member, seeking over
    what is not wanted."""
    stream = open_decoded(raw, name, stored_size)
    if stream.compression != "plain":
        blocks = _Blocks(stream, name)
        try:
            for loc, size in sorted(set(wanted)):
                yield loc, blocks.member(loc, size)
        finally:
            blocks.close()
            stream.close()
        return
    try:
        buf = memoryview(bytearray(CONTENT_CHUNK))
        for loc, size in sorted(set(wanted)):
            if loc < 0:
                raise UnsupportedFormatError(f"{name}: a member's content cannot be read (sparse?)")
            gap = loc - stream.tell()
            if gap < 0:  # overlapping members: not something tar makes
                raise CorruptImageError(f"{where(name, loc)}: members overlap")
            if stream.skip(gap) < gap:
                raise CorruptImageError(
                    f"{where(name, stream.tell())}: stream ends before member data"
                )
            yield loc, _member_chunks(stream, buf, size, name)
    finally:
        stream.close()


AHEAD = 4 << 20  # bytes of a decoded block
AHEAD_BLOCKS = 2  # blocks decoded ahead of the one being read


class _Blocks:
    """A decoded stream read by a thread in AHEAD-byte blocks, at most AHEAD_BLOCKS ahead
    of the consumer, which slices members out of them (one copy per chunk, no call into
    the codec per member). The thread's errors are raised in the consumer."""

    def __init__(self, stream: DecodedStream, name: str) -> None:
        self.stream = stream
        self.name = name
        self.queue: queue.Queue[bytearray | BaseException | None] = queue.Queue(AHEAD_BLOCKS)
        self.stop = threading.Event()
        self.base = 0  # stream offset of block[0]
        self.block = memoryview(b"")
        self.pos = 0  # how far the consumer has read
        self.ended = False
        self.thread = threading.Thread(target=self._decode, name="layer-inflate", daemon=True)
        self.thread.start()

    def _decode(self) -> None:
        try:
            while not self.stop.is_set():
                buf = bytearray(AHEAD)
                n = self.stream.readinto(memoryview(buf))
                if n < AHEAD:
                    del buf[n:]
                if n and not self._put(buf):
                    return
                if n < AHEAD:
                    self._put(None)
                    return
        except BaseException as e:  # handed to the consumer, which raises it
            self._put(e)

    def _put(self, item: bytearray | BaseException | None) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _next(self) -> bool:
        """The next block; False at the end of the stream."""
        if self.ended:
            return False
        item = self.queue.get()
        if isinstance(item, BaseException):
            self.ended = True
            raise item
        if item is None:
            self.ended = True
            return False
        self.base += len(self.block)
        self.block = memoryview(item)
        return True

    def member(self, loc: int, size: int) -> Iterator[bytes]:
        name = self.name
        if loc < 0:
            raise UnsupportedFormatError(f"{name}: a member's content cannot be read (sparse?)")
        if loc < self.pos:  # overlapping members: not something tar makes
            raise CorruptImageError(f"{where(name, loc)}: members overlap")
        self.pos = loc
        while loc >= self.base + len(self.block):
            if not self._next():
                end = self.base + len(self.block)
                raise CorruptImageError(f"{where(name, end)}: stream ends before member data")
        return self._chunks(loc, size)

    def _chunks(self, loc: int, size: int) -> Iterator[bytes]:
        left = size
        while left > 0:
            off = self.pos - self.base
            avail = len(self.block) - off
            if avail <= 0:
                if not self._next():
                    raise CorruptImageError(
                        f"{where(self.name, self.pos)}: stream ends inside member data"
                    )
                continue
            n = min(avail, left, CONTENT_CHUNK)
            self.pos += n
            left -= n
            yield bytes(self.block[off : off + n])

    def close(self) -> None:
        self.stop.set()
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
        self.thread.join()


def _member_chunks(stream: DecodedStream, buf: memoryview, size: int, name: str) -> Iterator[bytes]:
    left = size
    while left > 0:
        n = stream.readinto(buf[: min(left, len(buf))])
        if n == 0:
            raise CorruptImageError(f"{where(name, stream.tell())}: stream ends inside member data")
        left -= n
        yield bytes(buf[:n])


def iter_tar(stream: DecodedStream, name: str, notes: PathNotes | None = None) -> Iterator[Entry]:
    """Parse tar headers from a decoded stream; `notes` collects the member names that had
    a '..' to resolve (None: not reported). The window moves here and each header's
    checksum and size are read here; members.Members decodes the rest, one call a member."""
    buf = bytearray(WINDOW)
    mv = memoryview(buf)
    base, end, pos = 0, stream.readinto(mv), 0  # base: the stream offset of buf[0]
    members = Members(name, notes)
    chk_cache, size_cache, member_entry = members.chk_cache, members.size_cache, members.entry
    while True:
        if pos >= end:
            if end < WINDOW:
                return  # clean end on a block boundary without end-of-archive blocks
            base, end, pos = base + end, stream.readinto(mv), 0
            if end == 0:
                return
        if end - pos < BLOCK:
            raise CorruptImageError(f"{where(name, base + pos)}: truncated tar header")
        hdr = mv[pos : pos + BLOCK].tobytes()
        hoff = base + pos
        pos += BLOCK
        if hdr[0] == 0 and not hdr.strip(b"\0"):
            _end_of_archive(stream)
            return
        # adler32's low half is (1 + sum of bytes) mod 65521, and what that must be for a
        # given stored checksum field is cached, so the usual header costs one C call.
        want = chk_cache.get(hdr[148:156])
        if want is None or adler32(hdr) & 0xFFFF != want:
            members.check(hdr, hoff)
        size = size_cache.get(hdr[124:136])  # directories, links, small files repeat sizes
        if size is None:
            size = members.size(hdr, hoff)
        flag = hdr[156]
        if flag in EXT_TYPES:
            payload, base, end, pos = _take(stream, mv, buf, base, end, pos, size, name, hoff)
            members.extension(flag, payload, hoff)
            continue
        entry, data_size = member_entry(hdr, hoff, size, base + pos)
        if flag == 83 and hdr[482]:
            base, end, pos = _skip_sparse_maps(stream, mv, buf, base, end, pos, name)
        if data_size:
            data_end = base + pos + data_size
            padded = (data_end + BLOCK - 1) & ~(BLOCK - 1)
            if padded <= base + end:
                pos = padded - base
            else:
                base, end, pos = _advance(stream, mv, base, end, padded, data_end, entry, name)
                if end < 0:
                    yield entry
                    raise CorruptImageError(
                        f"{where(name, -end)}: tar stream ends after the data of "
                        f"{entry.path} (no padding / end-of-archive blocks)"
                    )
        yield entry


def _end_of_archive(stream: DecodedStream) -> None:
    # What follows the end-of-archive blocks is padding; a compressed stream is still read
    # to its end so that its checksum (gzip CRC-32, zstd) is verified.
    if stream.compression != "plain":
        stream.skip(1 << 62)


def _skip_sparse_maps(
    stream: DecodedStream,
    mv: memoryview,
    buf: bytearray,
    base: int,
    end: int,
    pos: int,
    name: str,
) -> tuple[int, int, int]:
    """Old GNU sparse: 512-byte sparse-map blocks follow the header while byte 504 is set."""
    while True:
        if pos >= end:
            if end < len(mv):
                raise CorruptImageError(f"{where(name, base + end)}: truncated GNU sparse map")
            base += end
            end = stream.readinto(mv)
            pos = 0
        if end - pos < BLOCK:
            raise CorruptImageError(f"{where(name, base + pos)}: truncated GNU sparse map")
        more = buf[pos + 504]
        pos += BLOCK
        if not more:
            return base, end, pos


def _advance(
    stream: DecodedStream,
    mv: memoryview,
    base: int,
    end: int,
    padded: int,
    data_end: int,
    entry: Entry,
    name: str,
) -> tuple[int, int, int]:
    """Move the window so that stream offset `padded` is its next read position.

    Returns (base, end, pos); end < 0 (as -offset) when the data is complete but the stream
    ends before its padding; raises when the data itself is cut short."""
    window_end = base + end
    if stream.compression == "plain" and end == len(mv):
        got = stream.skip(padded - window_end)
        reached = window_end + got
        if reached < padded:
            return _short(reached, data_end, entry, name)
        # Read right away: everywhere in the parser a short window means end of stream.
        return padded, stream.readinto(mv), 0
    while padded > base + end:
        if end < len(mv):  # the previous read was already short: end of stream
            return _short(base + end, data_end, entry, name)
        base += end
        end = stream.readinto(mv)
    return base, end, padded - base


def _short(reached: int, data_end: int, entry: Entry, name: str) -> tuple[int, int, int]:
    if reached >= data_end:
        return 0, -reached, 0
    raise CorruptImageError(
        f"{where(name, reached)}: tar stream ends inside the data of {entry.path} "
        f"({data_end - reached} bytes missing)"
    )


def _take(
    stream: DecodedStream,
    mv: memoryview,
    buf: bytearray,
    base: int,
    end: int,
    pos: int,
    size: int,
    name: str,
    hoff: int,
) -> tuple[bytes, int, int, int]:
    """Read an extension member's payload (which may cross window reads)."""
    cap = limits.get("max_tar_header_bytes")
    if size > cap:
        raise limits.exceeded(
            f"{where(name, hoff)}: tar extension header of {size} bytes", "max_tar_header_bytes"
        )
    padded = (size + BLOCK - 1) & ~(BLOCK - 1)
    if pos + padded <= end:
        return bytes(buf[pos : pos + size]), base, end, pos + padded
    parts = [bytes(buf[pos:end])]
    have = end - pos
    while have < padded:
        if end < len(mv):
            raise CorruptImageError(f"{where(name, base + end)}: truncated tar extension header")
        base += end
        end = stream.readinto(mv)
        step = min(end, padded - have)
        parts.append(bytes(buf[:step]))
        have += step
        pos = step
    return b"".join(parts)[:size], base, end, pos
