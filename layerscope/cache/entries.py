"""A layer's raw entries (whiteouts included) as a compact columnar index.

`record()` sits between a reader and the model: entries pass through unchanged while
their fields are gathered, CHUNK at a time, into columns that are written out as soon as
a chunk is full, so memory stays bounded whatever the layer's size and no list of Entry
objects is ever built. The index is published only when the reader's stream ends
normally; an error or a cancelled load leaves nothing behind.

`iter_chunks()` turns an index back into Entry objects, in the layer's order, for
model.layers.apply_layer.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, islice, repeat
from operator import attrgetter, is_not
from typing import Any, BinaryIO, Protocol

from layerscope.model.entry import Entry, EntryKind
from layerscope.model.tree_codec import Buffer, TreeCodecError, pack_strs, unpack_strs

# Entries per chunk: ~1 MiB of columns, a few MiB of transient tuples while it fills.
CHUNK = 8192
# Entry.__init__'s positional order: decoding calls Entry(*row).
_FIELDS = ("path", "kind", "mode", "uid", "gid", "size", "mtime",
           "target", "rdev", "xattrs", "ino", "hardlink", "loc")  # fmt: skip
ROW = attrgetter(*_FIELDS)  # an Entry as the tuple of its fields, in that order
_NUMERIC = (("mode", "I"), ("uid", "I"), ("gid", "I"), ("size", "q"), ("mtime", "q"),
            ("ino", "q"), ("loc", "q"))  # fmt: skip
_KINDS = list(EntryKind)
_LEN = struct.Struct("<Q")


class Sink(Protocol):
    def write(self, data: Buffer) -> None: ...

    def commit(self) -> bool: ...

    def abort(self) -> None: ...


class Unencodable(Exception):
    """A field out of range for its column: this layer is not cached."""


def record(
    entries: Iterable[Entry], sink: Sink, keep: Callable[[], bool] | None = None
) -> Iterator[Entry]:
    """Yield `entries` unchanged while writing their index to `sink`, committed when the
    stream ends normally (and `keep()`, if given, still says so) and aborted otherwise. If
    a chunk cannot be encoded, recording stops but the entries keep flowing. (One generator
    on purpose: each layer of generators costs ~50 ns an entry on the hot path of a first
    open.)"""
    it = iter(entries)
    ok = True
    try:
        while True:
            rows: list[tuple[Any, ...]] = []
            add = rows.append
            for e in islice(it, CHUNK):
                add(ROW(e))
                yield e
            if ok and rows:
                try:
                    for part in encode_chunk(rows):
                        sink.write(part)
                except Unencodable:
                    ok = False
            if len(rows) < CHUNK:
                break
        if ok and (keep is None or keep()):
            sink.commit()
    finally:
        sink.abort()  # a no-op after a commit


def encode_chunk(rows: list[tuple[Any, ...]]) -> list[Buffer]:
    n = len(rows)
    (paths, kinds, mode, uid, gid, size, mtime, target, rdev, xattrs, ino, hardlink, loc) = zip(
        *rows, strict=True
    )
    sections: list[Buffer] = [struct.pack("<I", n), pack_strs(paths), bytes(kinds)]
    try:
        for (_, code), col in zip(_NUMERIC, (mode, uid, gid, size, mtime, ino, loc), strict=True):
            sections.append(array(code, col).tobytes())
    except (OverflowError, TypeError, ValueError) as e:
        raise Unencodable(str(e)) from None
    t_idx = _present(target)
    sections += [t_idx.tobytes(), pack_strs([target[i] for i in t_idx])]
    r_idx = _present(rdev)
    try:
        r_vals = array("q", [x for i in r_idx for x in rdev[i]])
    except (OverflowError, TypeError, ValueError) as e:
        raise Unencodable(str(e)) from None
    sections += [r_idx.tobytes(), r_vals.tobytes()]
    h_idx = _present(hardlink)
    sections += [h_idx.tobytes(), pack_strs([hardlink[i] for i in h_idx])]
    x_idx = array("I", compress(range(n), xattrs))  # None and {} alike: no xattrs
    names: list[str] = []
    values: list[bytes] = []
    counts = array("I")
    for i in x_idx:
        d = xattrs[i]
        counts.append(len(d))
        names.extend(d.keys())
        values.extend(bytes(v) for v in d.values())
    sections += [
        x_idx.tobytes(),
        counts.tobytes(),
        pack_strs(names),
        array("Q", map(len, values)).tobytes(),
        b"".join(values),
    ]
    lengths = array("Q", [len(s) for s in sections])
    frame = struct.pack("<I", len(sections)) + lengths.tobytes()
    total = len(frame) + sum(lengths)
    return [_LEN.pack(total), frame, *sections]


def _present(col: tuple[Any, ...]) -> array:  # type: ignore[type-arg]
    return array("I", compress(range(len(col)), map(is_not, col, repeat(None))))


def iter_chunks(stream: BinaryIO) -> Iterator[Entry]:
    """The entries of an index written by record(), from a verified payload stream.
    Raises TreeCodecError if the bytes do not decode (a bug or a foreign file)."""
    while True:
        head = _read_exact(stream, _LEN.size, allow_eof=True)
        if not head:
            return
        (total,) = _LEN.unpack(head)
        data = _read_exact(stream, total)
        try:
            entries = decode_chunk(data)
        except TreeCodecError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, struct.error) as e:
            raise TreeCodecError(f"malformed index chunk: {type(e).__name__}: {e}") from None
        yield from entries


def _read_exact(stream: BinaryIO, n: int, allow_eof: bool = False) -> bytes:
    parts = []
    left = n
    while left:
        got = stream.read(left)
        if not got:
            if allow_eof and left == n:
                return b""
            raise TreeCodecError("index chunk cut short")
        parts.append(got)
        left -= len(got)
    return b"".join(parts)


def decode_chunk(data: Buffer) -> Iterator[Entry]:
    mv = memoryview(data)
    (nsec,) = struct.unpack_from("<I", mv)
    lengths = array("Q")
    lengths.frombytes(mv[4 : 4 + 8 * nsec])
    at = 4 + 8 * nsec
    if at + sum(lengths) != len(mv) or nsec != 21:
        raise TreeCodecError("index chunk framing")
    secs = []
    for length in lengths:
        secs.append(mv[at : at + length])
        at += length
    (n,) = struct.unpack_from("<I", secs[0])
    paths = unpack_strs(secs[1])
    kinds = list(map(_KINDS.__getitem__, secs[2]))
    cols: list[list[Any]] = []
    for (_, code), sec in zip(_NUMERIC, secs[3:10], strict=True):
        a = array(code)
        a.frombytes(sec)
        cols.append(a.tolist())
    if len(paths) != n or len(kinds) != n or any(len(c) != n for c in cols):
        raise TreeCodecError("index chunk columns disagree")
    mode, uid, gid, size, mtime, ino, loc = cols
    target = _scatter(n, _idx(secs[10]), unpack_strs(secs[11]))
    r_idx = _idx(secs[12])
    r_vals = array("q")
    r_vals.frombytes(secs[13])
    it = iter(r_vals)
    rdev = _scatter(n, r_idx, list(zip(it, it, strict=False)))  # pairs
    hardlink = _scatter(n, _idx(secs[14]), unpack_strs(secs[15]))
    xattrs = _scatter(n, _idx(secs[16]), _xattr_dicts(secs[17:21]))
    return map(
        Entry, paths, kinds, mode, uid, gid, size, mtime, target, rdev, xattrs, ino, hardlink, loc
    )


def _idx(sec: memoryview) -> array:  # type: ignore[type-arg]
    a = array("I")
    a.frombytes(sec)
    return a


def _scatter(n: int, idx: array, values: list[Any]) -> list[Any]:  # type: ignore[type-arg]
    if len(idx) != len(values):
        raise TreeCodecError("sparse column lengths disagree")
    out: list[Any] = [None] * n
    for i, v in zip(idx, values, strict=True):
        out[i] = v  # an index past n raises IndexError: reported as malformed
    return out


def _xattr_dicts(secs: list[memoryview]) -> list[dict[str, bytes]]:
    counts = _idx(secs[0])
    names = unpack_strs(secs[1])
    lengths = array("Q")
    lengths.frombytes(secs[2])
    blob = bytes(secs[3])
    if sum(counts) != len(names) or len(lengths) != len(names) or sum(lengths) != len(blob):
        raise TreeCodecError("xattr columns disagree")
    out = []
    i = pos = 0
    for c in counts:
        d = {}
        for _ in range(c):
            d[names[i]] = blob[pos : pos + lengths[i]]
            pos += lengths[i]
            i += 1
        out.append(d)
    return out
