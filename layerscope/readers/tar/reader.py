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

import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from layerscope import limits
from layerscope.errors import CorruptImageError, UnsupportedFormatError, where
from layerscope.model.entry import Entry, EntryKind, decode_name, normalize_path
from layerscope.readers.tar.fields import (
    PaxRecords,
    adler_for,
    check_header,
    ext_path,
    parse_ids,
    parse_mtime,
    parse_num,
    parse_pax,
    parse_size,
    path_of,
    pax_overrides,
    sparse_size,
)
from layerscope.readers.tar.inflate import DecodedStream, open_decoded

WINDOW = 1 << 20
BLOCK = 512
CONTENT_CHUNK = 1 << 20

_FILE, _DIR, _SYMLINK = EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK
_KINDS = {
    48: _FILE,  # '0'
    0: _FILE,  # '\0' (old tar)
    55: _FILE,  # '7' contiguous
    49: _FILE,  # '1' hard link: a FILE with Entry.hardlink set
    50: _SYMLINK,  # '2'
    51: EntryKind.CHAR,  # '3'
    52: EntryKind.BLOCK,  # '4'
    53: _DIR,  # '5'
    54: EntryKind.FIFO,  # '6'
    68: _DIR,  # 'D' GNU dumpdir: a directory whose data lists its names
    83: _FILE,  # 'S' GNU old sparse
}
_EXT_TYPES = frozenset(b"xgLKXV")  # metadata members: never yielded
_NO_DATA = frozenset(b"123456")  # links, devices, dirs, fifos: any size field is not data


def iter_layer_entries(
    raw: BinaryIO, name: str, stored_size: int | None = None, limit: int | None = -1
) -> Iterator[Entry]:
    """Entries of one layer blob (compression sniffed). `name` names the layer in errors."""
    stream = open_decoded(raw, name, stored_size, limit)
    try:
        yield from iter_tar(stream, name)
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
    Consume each member's chunks (or drop them) before asking for the next member."""
    stream = open_decoded(raw, name, stored_size)
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


def _member_chunks(stream: DecodedStream, buf: memoryview, size: int, name: str) -> Iterator[bytes]:
    left = size
    while left > 0:
        n = stream.readinto(buf[: min(left, len(buf))])
        if n == 0:
            raise CorruptImageError(f"{where(name, stream.tell())}: stream ends inside member data")
        left -= n
        yield bytes(buf[:n])


def iter_tar(stream: DecodedStream, name: str) -> Iterator[Entry]:
    """Parse tar headers from a decoded stream. The hot path stays inline on purpose."""
    buf = bytearray(WINDOW)
    mv = memoryview(buf)
    base = 0  # stream offset of buf[0]
    end = stream.readinto(mv)
    pos = 0
    ext: PaxRecords | None = None  # pending per-member PAX records
    glob: PaxRecords | None = None  # PAX global records
    long_name: bytes | None = None
    long_link: bytes | None = None
    adler32 = zlib.adler32
    kinds = _KINDS
    no_data = _NO_DATA
    id_cache: dict[bytes, tuple[int, int, int]] = {}
    mtime_cache: dict[bytes, int] = {}
    chk_cache: dict[bytes, int] = {}
    size_cache: dict[bytes, int] = {}
    max_entries = limits.get("max_entries")
    count = 0
    paths = limits.PathCap()
    quick = paths.quick
    xbudget = limits.XattrBudget(name)  # a global PAX header applies its xattrs to every member
    while True:
        if pos >= end:
            if end < WINDOW:
                return  # clean end on a block boundary without end-of-archive blocks
            base += end
            end = stream.readinto(mv)
            pos = 0
            if end == 0:
                return
        if end - pos < BLOCK:
            raise CorruptImageError(f"{where(name, base + pos)}: truncated tar header")
        hdr = mv[pos : pos + BLOCK].tobytes()
        hoff = base + pos
        pos += BLOCK
        if hdr[0] == 0 and not hdr.strip(b"\0"):
            # End of archive. What follows is padding; a compressed stream is still read to
            # its end so that its checksum (gzip CRC-32, zstd) is verified.
            if stream.compression != "plain":
                stream.skip(1 << 62)
            return
        # Checksum: adler32's low half is (1 + sum of bytes) mod 65521, and what that must be
        # for a given stored checksum field is cached, so the usual header costs one C call.
        ck = hdr[148:156]
        want = chk_cache.get(ck)
        if want is None:
            want = adler_for(ck, name, hoff)
            if len(chk_cache) < 65536:
                chk_cache[ck] = want
        if adler32(hdr) & 0xFFFF != want:
            check_header(hdr, name, hoff)
        flag = hdr[156]
        szf = hdr[124:136]
        size = size_cache.get(szf)  # directories, links and small files repeat sizes
        if size is None:
            size = parse_size(szf, name, hoff)
            if len(size_cache) < 8192:
                size_cache[szf] = size
        if flag in _EXT_TYPES:
            payload, base, end, pos = _take(stream, mv, buf, base, end, pos, size, name, hoff)
            if flag == 120 or flag == 88:  # 'x', or Solaris 'X' (same records)
                ext = parse_pax(payload, name, hoff, ext)
            elif flag == 103:  # 'g'
                glob = parse_pax(payload, name, hoff, glob)
            elif flag == 76:  # 'L'
                long_name = payload.split(b"\0", 1)[0]
            elif flag == 75:  # 'K'
                long_link = payload.split(b"\0", 1)[0]
            continue
        if ext is None and long_name is None:
            nul = hdr.find(0, 0, 100)
            raw_name = hdr[: nul if nul >= 0 else 100]
            if hdr[345] and hdr[257:263] == b"ustar\0":
                raw_name = hdr[345:500].split(b"\0", 1)[0] + b"/" + raw_name
            if (
                raw_name[-1:] == b"/"  # a directory: cheap enough to use the general path
                or raw_name[:1] in (b".", b"/", b"")
                or b"//" in raw_name
                or b"/." in raw_name
            ):
                path = path_of(raw_name)
            else:
                path = "/" + raw_name.decode("utf-8", "surrogateescape")
        else:
            path = ext_path(hdr, ext, long_name)
        if len(path) > quick:
            paths.check(path, where(name, hoff))
        count += 1
        if count > max_entries:
            raise limits.exceeded(
                f"{where(name, hoff)}: more than {max_entries} tar members", "max_entries"
            )
        # mode/uid/gid and mtime repeat across a layer: parse each distinct field once.
        mug = hdr[100:124]
        ids = id_cache.get(mug)
        if ids is None:
            ids = parse_ids(mug, name, hoff)
            if len(id_cache) < 4096:
                id_cache[mug] = ids
        mode, uid, gid = ids
        mt = hdr[136:148]
        mtime = mtime_cache.get(mt)
        if mtime is None:
            mtime = parse_mtime(mt, name, hoff)
            if len(mtime_cache) < 4096:
                mtime_cache[mt] = mtime
        kind = kinds.get(flag, _FILE)  # POSIX: unknown types read as regular files
        target: str | None = None
        hardlink: str | None = None
        rdev: tuple[int, int] | None = None
        xattrs: dict[str, bytes] | None = None
        if flag == 50 or flag == 49:
            raw_link = long_link if long_link is not None else hdr[157:257].split(b"\0", 1)[0]
            link = decode_name(raw_link)
            if ext is not None and ext.linkpath is not None:
                link = ext.linkpath
            if flag == 50:
                target = link
            else:
                hardlink = normalize_path(link)
        elif flag == 51 or flag == 52:
            rdev = (
                parse_num(hdr[329:337], name, hoff, "devmajor"),
                parse_num(hdr[337:345], name, hoff, "devminor"),
            )
        if glob is not None or ext is not None:
            uid, gid, mtime, size, xattrs = pax_overrides(glob, ext, uid, gid, mtime, size)
            xbudget.spend(xattrs)
        data_size = 0 if flag in no_data else size
        loc = base + pos
        if flag == 83 or (ext is not None and ext.sparse_size is not None):
            size = sparse_size(hdr, ext, name, hoff)
            loc = -1
            if flag == 83 and hdr[482]:
                base, end, pos = _skip_sparse_maps(stream, mv, buf, base, end, pos, name)
        if kind is _SYMLINK:
            size = len(target.encode("utf-8", "surrogateescape")) if target else 0
        elif kind is not _FILE:
            size = 0
        ext = None
        long_name = long_link = None
        entry = Entry(
            path, kind, mode, uid, gid, size, mtime, target, rdev, xattrs, 0, hardlink, loc
        )
        if data_size:
            data_start = base + pos
            data_end = data_start + data_size
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
