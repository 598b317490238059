"""FileTree <-> columnar bytes, for the index cache. Pure: no I/O, no pickle.

A tree becomes a list of sections (bytes or memoryviews of its own arrays, so encoding copies
little); the first section frames the rest. Decoding rebuilds every column, every dict and
the deletion list exactly, node ids included, so a cached tree is indistinguishable from a
built one. Malformed input raises TreeCodecError, never anything else.

Measured on a 300,000-node tree (1,482 distinct names): encode ~20 ms, decode ~15 ms.
The per-directory `children` dicts are not rebuilt on decode (that took ~30 ms: one dict
insert per node): the decoded tree builds each directory's when it is first used. Names
are stored once each plus an index column, which also makes the decoded tree share one
str object per distinct name.
"""

from __future__ import annotations

import io
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Protocol

from layerscope.model.columns import TREE_COLUMNS
from layerscope.model.history import Shadows
from layerscope.model.tree import Deletion, FileTree

# Bump when the layout below, or what apply_layer puts in a tree, changes meaning.
# 3: columns in model.columns.TREE_COLUMNS order; 4: histories as chains (model.history)
TREE_CODEC_VERSION = 4

Buffer = bytes | bytearray | memoryview

_MAGIC = b"LSTR"
_HEAD = struct.Struct("<4sHHQQ")  # magic, version, byte order, nodes, layer_count
_LEN = struct.Struct("<Q")
_ORDER = 1 if sys.byteorder == "little" else 2
# The columns in the order they are stored, with the typecode FileTree uses.
_COLUMNS = tuple((name, code) for name, code, _ in TREE_COLUMNS)
_INT_DICTS = ("link_group", "content_layer", "prev")
# columns, kind, names (2), children (3), targets (2), rdev (2), xattrs (5), int dicts (2
# each), shadows (4: nodes, heads, cell layers, cell links), deletions (4)
_SECTION_COUNT = len(_COLUMNS) + 1 + 2 + 3 + 2 + 2 + 5 + 2 * len(_INT_DICTS) + 4 + 4


class ByteSource(Protocol):
    """Where decode_tree reads from: a file, io.BytesIO, the cache's checked stream."""

    def read(self, n: int, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...


class TreeCodecError(ValueError):
    """The bytes are not a tree this version can decode."""


# -- strings ---------------------------------------------------------------------------------


def pack_strs(strs: Sequence[str]) -> bytes:
    """A list of str (surrogates allowed) as bytes: NUL-joined UTF-8 when no string holds a
    NUL (the common case, decoded by one split), else length-prefixed."""
    joined = "\0".join(strs)
    if joined.count("\0") == max(len(strs) - 1, 0):
        return b"\0" + _LEN.pack(len(strs)) + joined.encode("utf-8", "surrogateescape")
    raw = [s.encode("utf-8", "surrogateescape") for s in strs]
    lengths = array("Q", map(len, raw))
    return b"\1" + _LEN.pack(len(strs)) + lengths.tobytes() + b"".join(raw)


def unpack_strs(data: Buffer) -> list[str]:
    mv = memoryview(data)
    kind = bytes(mv[:1])
    (count,) = _LEN.unpack_from(mv, 1)
    body = mv[1 + _LEN.size :]
    if kind == b"\0":
        if count == 0:
            if len(body):
                raise TreeCodecError("string list: bytes after an empty list")
            return []
        out = str(body, "utf-8", "surrogateescape").split("\0")
    elif kind == b"\1":
        lengths = _array("Q", body[: 8 * count], count)
        blob = body[8 * count :]
        if sum(lengths) != len(blob):
            raise TreeCodecError("string list: lengths do not add up")
        out = []
        pos = 0
        for n in lengths:
            out.append(str(blob[pos : pos + n], "utf-8", "surrogateescape"))
            pos += n
    else:
        raise TreeCodecError(f"string list: unknown encoding {kind!r}")
    if len(out) != count:
        raise TreeCodecError(f"string list: {len(out)} strings, header says {count}")
    return out


def _array(typecode: str, data: Buffer, count: int | None = None) -> array:  # type: ignore[type-arg]
    a = array(typecode)
    if len(data) % a.itemsize:
        raise TreeCodecError(f"column of {len(data)} bytes is not a whole number of items")
    a.frombytes(data)
    if count is not None and len(a) != count:
        raise TreeCodecError(f"column of {len(a)} items, expected {count}")
    return a


# -- sections --------------------------------------------------------------------------------


class _Sections:
    """Read sections one at a time from a file-like object, each prefixed by its length:
    a large tree is never held as one bytes object next to its decoded arrays."""

    def __init__(self, src: ByteSource, size: int) -> None:
        self.src = src
        self.head = _HEAD.unpack(_read(src, _HEAD.size))
        self.next = 0
        # bytes left after the head: no section may claim more (a corrupt length must not
        # allocate it; the checksum is only known once everything was read)
        self.left = size - _HEAD.size

    def take(self) -> bytes:
        return _read(self.src, self._length())

    def take_array(self, typecode: str, count: int) -> array:  # type: ignore[type-arg]
        """The next section as an array of `count` items, read straight into it (a column
        of a big tree is megabytes: one copy fewer is a fifth of a reopen)."""
        length = self._length()  # at most what is left: checked before allocating
        if length != count * array(typecode).itemsize:
            raise TreeCodecError(f"column of {length} bytes, expected {count} items")
        out = array(typecode, [0]) * count
        if length and self.src.readinto(memoryview(out).cast("B")) != length:
            raise TreeCodecError("tree payload cut short")
        return out

    def _length(self) -> int:
        if self.next >= _SECTION_COUNT:
            raise TreeCodecError("tree payload has too many sections")
        self.next += 1
        (length,) = _LEN.unpack(_read(self.src, _LEN.size))
        self.left -= _LEN.size + length
        if self.left < 0:
            raise TreeCodecError(f"a section of {length} bytes runs past the payload")
        return int(length)

    def finish(self) -> None:
        if self.next != _SECTION_COUNT or self.src.read(1):
            raise TreeCodecError("tree payload has extra sections or bytes")


def _read(src: ByteSource, n: int) -> bytes:
    data = src.read(n)
    if len(data) != n:
        raise TreeCodecError("tree payload cut short")
    return data


def encode_tree(tree: FileTree) -> Iterator[Buffer]:
    """The tree as buffers to be written one after another (their concatenation is what
    decode_tree reads). Sections are made one at a time, as they are consumed, so the
    encoding never holds much beside the tree: it ends a first open, whose peak memory
    it would otherwise set. Arrays are passed as memoryviews: do not change the tree
    until everything is written."""
    yield _HEAD.pack(_MAGIC, TREE_CODEC_VERSION, _ORDER, len(tree), tree.layer_count)
    for section in _sections(tree):
        yield _LEN.pack(len(memoryview(section)))
        yield section


def _sections(tree: FileTree) -> Iterator[Buffer]:
    for attr, _ in _COLUMNS:
        yield memoryview(getattr(tree, attr)).cast("B")
    yield bytes(tree.kind)
    # names: each distinct name once, plus one index per node
    table: dict[str, int] = dict.fromkeys(tree.name, 0)
    for i, name in enumerate(table):
        table[name] = i
    yield pack_strs(list(table))
    yield array("I", map(table.__getitem__, tree.name)).tobytes()
    del table
    # children, in each dict's own order (from the packed spans if the tree has them)
    dirs, counts, kids = tree.child_spans()
    yield dirs.tobytes()
    yield counts.tobytes()
    yield kids.tobytes()
    del dirs, counts, kids
    yield array("i", tree.target.keys()).tobytes()
    yield pack_strs(list(tree.target.values()))
    yield array("i", tree.rdev.keys()).tobytes()
    yield array("q", [x for pair in tree.rdev.values() for x in pair]).tobytes()
    yield from _encode_xattrs(tree.xattrs)
    for attr in _INT_DICTS:
        pairs: dict[int, int] = getattr(tree, attr)
        yield array("i", pairs.keys()).tobytes()
        yield array("i", pairs.values()).tobytes()
    # the history chains as stored (model.history): linear in rewrites, not quadratic
    for column in tree.shadows.columns():
        yield column.tobytes()
    reasons: dict[str, int] = {}
    rows = array("I", [reasons.setdefault(d.reason, len(reasons)) for d in tree.deletions])
    yield pack_strs(list(reasons))
    yield array("i", [d.layer for d in tree.deletions]).tobytes()
    yield array("i", [d.node for d in tree.deletions]).tobytes()
    yield rows.tobytes()


def _encode_xattrs(xattrs: dict[int, dict[str, bytes]]) -> list[Buffer]:
    keys = array("i", xattrs.keys())
    counts = array("I", map(len, xattrs.values()))
    names: list[str] = []
    values: list[bytes] = []
    for d in xattrs.values():
        names.extend(d.keys())
        values.extend(d.values())
    lengths = array("Q", map(len, values))
    return [keys.tobytes(), counts.tobytes(), pack_strs(names), lengths.tobytes(), b"".join(values)]


def decode_tree(data: Buffer | ByteSource, size: int | None = None) -> FileTree:
    """Rebuild the tree encode_tree wrote, from bytes, or from a file-like object positioned
    at its start and holding `size` bytes. Raises TreeCodecError on anything malformed."""
    if isinstance(data, bytes | bytearray | memoryview):
        src: ByteSource = io.BytesIO(data)
        size = memoryview(data).nbytes
    elif size is None:
        raise TypeError("decode_tree needs the size of a stream")
    else:
        src = data
    try:
        return _decode(_Sections(src, size))
    except TreeCodecError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error) as e:
        raise TreeCodecError(f"malformed tree payload: {type(e).__name__}: {e}") from None


def _decode(s: _Sections) -> FileTree:
    magic, version, order, n, layer_count = s.head
    if magic != _MAGIC or version != TREE_CODEC_VERSION or order != _ORDER:
        raise TreeCodecError(f"not a version-{TREE_CODEC_VERSION} tree in this byte order")
    tree = FileTree()
    for attr, code in _COLUMNS:
        setattr(tree, attr, s.take_array(code, n))
    kind = bytearray(s.take())
    if len(kind) != n:
        raise TreeCodecError("kind column length")
    tree.kind = kind
    table = unpack_strs(s.take())
    # An index past the table raises IndexError here (-> TreeCodecError).
    names = [table[i] for i in s.take_array("I", n)]  # a comprehension beats map here
    tree.name = names
    dirs = _array("i", s.take())
    counts = _array("I", s.take(), len(dirs))
    # Child ids are not range-checked one by one (300,000 compares cost ~10 ms): the
    # store's checksum already proves these are the bytes encode_tree wrote.
    kids = _array("i", s.take(), sum(counts))
    _check_nodes(dirs, n)
    # Each directory's name index is built when first used (FileTree.kids): building all
    # 300,000 entries' takes ~30 ms, most of a reopen, and a reopen is often followed by
    # a look at a few directories only.
    starts = accumulate(counts, initial=0)
    tree.defer_children(dict(zip(dirs, zip(starts, counts, strict=False), strict=True)), kids)
    tree.target = dict(zip(_nodes(s.take(), n), unpack_strs(s.take()), strict=True))
    rdev_keys = _nodes(s.take(), n)
    rdev_vals = _array("q", s.take(), 2 * len(rdev_keys))
    it = iter(rdev_vals)
    tree.rdev = {k: (a, b) for k, a, b in zip(rdev_keys, it, it, strict=True)}
    tree.xattrs = _decode_xattrs(s, n)
    for attr in _INT_DICTS:
        keys = _nodes(s.take(), n)
        setattr(tree, attr, dict(zip(keys, _array("i", s.take(), len(keys)), strict=True)))
    sh_nodes = _nodes(s.take(), n)
    sh_heads = _array("i", s.take(), len(sh_nodes))
    sh_layers = _array("h", s.take())
    tree.shadows = Shadows.from_columns(
        sh_nodes, sh_heads, sh_layers, _array("i", s.take(), len(sh_layers))
    )
    reasons = unpack_strs(s.take())
    dl = _array("i", s.take())
    dn = _array("i", s.take(), len(dl))
    dr = _array("I", s.take(), len(dl))
    _check_nodes(dn, n)
    tree.deletions = [Deletion(a, b, reasons[c]) for a, b, c in zip(dl, dn, dr, strict=True)]
    tree.layer_count = layer_count
    s.finish()
    return tree


def _decode_xattrs(s: _Sections, n: int) -> dict[int, dict[str, bytes]]:
    keys = _nodes(s.take(), n)
    counts = _array("I", s.take(), len(keys))
    names = unpack_strs(s.take())
    lengths = _array("Q", s.take(), len(names))
    blob = bytes(s.take())
    if sum(counts) != len(names) or sum(lengths) != len(blob):
        raise TreeCodecError("xattr sections disagree")
    out: dict[int, dict[str, bytes]] = {}
    pos = 0
    i = 0
    for k, c in zip(keys, counts, strict=True):
        d: dict[str, bytes] = {}
        for _ in range(c):
            d[names[i]] = blob[pos : pos + lengths[i]]
            pos += lengths[i]
            i += 1
        out[k] = d
    return out


def _nodes(data: Buffer, n: int) -> array:  # type: ignore[type-arg]
    a = _array("i", data)
    _check_nodes(a, n)
    return a


def _check_nodes(a: Iterable[int], n: int) -> None:
    if isinstance(a, array) and len(a) and (min(a) < 0 or max(a) >= n):
        raise TreeCodecError("node id out of range")
