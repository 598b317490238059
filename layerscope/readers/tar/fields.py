"""Tar header fields off the parser's hot path: numbers, names, checksums, PAX records."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from layerscope.errors import CorruptImageError, where
from layerscope.model.entry import decode_name, normalize_path

# What the model's columns hold (uid/gid: u32; size, mtime: i64). GNU base-256 and PAX
# numbers can say anything; beyond these ranges the header is damaged, not exotic.
MAX_ID = (1 << 32) - 1
MAX_SIZE = (1 << 63) - 1
MIN_TIME = -(1 << 63)


def _checked(value: int, low: int, high: int, what: str, name: str, hoff: int) -> int:
    if not low <= value <= high:
        raise CorruptImageError(f"{where(name, hoff)}: tar {what} {value} out of range")
    return value


class PaxRecords:
    """The PAX keys layerscope uses, merged over the records seen so far."""

    __slots__ = ("gid", "linkpath", "mtime", "path", "size", "sparse_size", "uid", "xattrs")

    def __init__(self) -> None:
        self.path: str | None = None
        self.linkpath: str | None = None
        self.size: int | None = None
        self.uid: int | None = None
        self.gid: int | None = None
        self.mtime: int | None = None
        self.sparse_size: int | None = None
        self.xattrs: dict[str, bytes] = {}


def parse_num(field: bytes | bytearray, name: str, hoff: int, what: str) -> int:
    """A tar numeric field: octal (NUL/space terminated, possibly empty) or GNU base-256."""
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:  # negative: two's complement over the whole field
            value = int.from_bytes(field, "big") - (1 << (8 * len(field)))
        else:
            value |= (field[0] & 0x3F) << (8 * (len(field) - 1))
        return value
    text = bytes(field).split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise CorruptImageError(
            f"{where(name, hoff)}: bad tar {what} field {bytes(field)!r}"
        ) from None


def parse_pax(data: bytes, name: str, hoff: int, into: PaxRecords | None = None) -> PaxRecords:
    """Parse "<len> <key>=<value>\\n" records; later records override earlier ones."""
    rec = into if into is not None else PaxRecords()
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:  # some writers pad the payload with NULs
            break
        sp = data.find(b" ", pos, pos + 24)
        try:
            length = int(data[pos:sp]) if sp > pos else -1
        except ValueError:
            length = -1
        if length <= 0 or pos + length > n or data[pos + length - 1] != 0x0A:
            raise CorruptImageError(f"{where(name, hoff)}: bad PAX record at payload byte {pos}")
        key, eq, value = data[sp + 1 : pos + length - 1].partition(b"=")
        if not eq:
            raise CorruptImageError(f"{where(name, hoff)}: PAX record without '=' ({key!r})")
        _apply(rec, key, value, name, hoff)
        pos += length
    return rec


def _apply(rec: PaxRecords, key: bytes, value: bytes, name: str, hoff: int) -> None:
    try:
        if key == b"path" or key == b"GNU.sparse.name":
            rec.path = decode_name(value)
        elif key == b"linkpath":
            rec.linkpath = decode_name(value)
        elif key == b"size":
            rec.size = _checked(int(value), 0, MAX_SIZE, "PAX size", name, hoff)
        elif key == b"uid":
            rec.uid = _checked(int(value), 0, MAX_ID, "PAX uid", name, hoff)
        elif key == b"gid":
            rec.gid = _checked(int(value), 0, MAX_ID, "PAX gid", name, hoff)
        elif key == b"mtime":
            # "1700000000.123456789": the fraction is dropped; int() of the whole part avoids
            # float rounding on large values.
            mtime = int(value.split(b".", 1)[0] or b"0")
            rec.mtime = _checked(mtime, MIN_TIME, MAX_SIZE, "PAX mtime", name, hoff)
        elif key.startswith(b"SCHILY.xattr."):
            rec.xattrs[decode_name(key[13:])] = value
        elif key.startswith(b"LIBARCHIVE.xattr."):
            xname = decode_name(unquote_to_bytes(key[17:]))
            rec.xattrs[xname] = base64.b64decode(value + b"=" * (-len(value) % 4))
        elif key in (b"GNU.sparse.size", b"GNU.sparse.realsize"):
            rec.sparse_size = _checked(int(value), 0, MAX_SIZE, "sparse size", name, hoff)
    except (ValueError, binascii.Error) as e:
        raise CorruptImageError(
            f"{where(name, hoff)}: bad PAX value for {decode_name(key)}: {value[:40]!r}"
        ) from e


def path_of(raw: bytes) -> str:
    """normalize_path(decode_name(raw)), with a fast path for the usual 'a/b/c' or 'a/b/'.
    '..' is resolved lexically and never climbs above the root, as runtimes extract."""
    if raw[:2] == b"./":
        raw = raw[2:]
    if raw[-1:] == b"/":
        raw = raw[:-1]
    if (
        raw
        and raw[0] != 47
        and raw.find(b"//") < 0  # find, not `in`: see members.Members.entry
        and raw.find(b"/./") < 0
        and raw.find(b"..") < 0
        and raw != b"."
        and raw[-2:] != b"/."
    ):
        return "/" + raw.decode("utf-8", "surrogateescape")
    return normalize_path(decode_name(raw))


def has_dotdot(name: str) -> bool:
    """Whether a member name has a '..' component: cleaning it moves the member elsewhere
    (the other cleanings, './', '//', a leading or trailing '/', leave it in place)."""
    return ".." in name and ".." in name.split("/")


def parse_ids(field: bytes, name: str, hoff: int) -> tuple[int, int, int]:
    return (
        parse_num(field[0:8], name, hoff, "mode") & 0o7777,
        _checked(parse_num(field[8:16], name, hoff, "uid"), 0, MAX_ID, "uid", name, hoff),
        _checked(parse_num(field[16:24], name, hoff, "gid"), 0, MAX_ID, "gid", name, hoff),
    )


def parse_size(field: bytes, name: str, hoff: int) -> int:
    return _checked(parse_num(field, name, hoff, "size"), 0, MAX_SIZE, "size", name, hoff)


def parse_mtime(field: bytes, name: str, hoff: int) -> int:
    return _checked(parse_num(field, name, hoff, "mtime"), MIN_TIME, MAX_SIZE, "mtime", name, hoff)


def pax_overrides(
    glob: PaxRecords | None, ext: PaxRecords | None, uid: int, gid: int, mtime: int, size: int
) -> tuple[int, int, int, int, dict[str, bytes] | None]:
    """Apply PAX global then per-member records over the header's values."""
    xattrs: dict[str, bytes] | None = None
    for rec in (glob, ext):
        if rec is None:
            continue
        uid = rec.uid if rec.uid is not None else uid
        gid = rec.gid if rec.gid is not None else gid
        mtime = rec.mtime if rec.mtime is not None else mtime
        if rec.xattrs:
            xattrs = {**(xattrs or {}), **rec.xattrs}
    if ext is not None and ext.size is not None:
        size = ext.size
    return uid, gid, mtime, size, xattrs


def ext_path(hdr: bytes, ext: PaxRecords | None, long_name: bytes | None) -> str:
    if ext is not None and ext.path is not None:
        return normalize_path(ext.path)
    if long_name is not None:
        return normalize_path(decode_name(long_name))
    raw_name = hdr[0:100].split(b"\0", 1)[0]
    if hdr[345] and hdr[257:263] == b"ustar\0":
        raw_name = hdr[345:500].split(b"\0", 1)[0] + b"/" + raw_name
    return normalize_path(decode_name(raw_name))


def chksum(field: bytes, name: str, hoff: int) -> int:
    try:
        return int(field.replace(b"\0", b" "), 8)
    except ValueError:
        raise CorruptImageError(
            f"{where(name, hoff)}: not a tar header (bad checksum field)"
        ) from None


def adler_for(field: bytes, name: str, hoff: int) -> int:
    """The adler32 low half of a header whose checksum field is `field` and is right."""
    return (1 + chksum(field, name, hoff) - 256 + sum(field)) % 65521


def check_header(hdr: bytes, name: str, hoff: int) -> None:
    """The slow, exact check for headers the fast path did not accept."""
    stored = chksum(hdr[148:156], name, hoff)
    unsigned = sum(hdr) - sum(hdr[148:156]) + 256
    # Old Sun/BSD tars summed signed chars: every byte > 127 counts 256 less.
    high = sum(1 for b in hdr if b > 127) - sum(1 for b in hdr[148:156] if b > 127)
    signed = unsigned - 256 * high
    if stored not in (unsigned, signed):
        raise CorruptImageError(f"{where(name, hoff)}: not a tar header (checksum mismatch)")


def sparse_size(hdr: bytes, ext: PaxRecords | None, name: str, hoff: int) -> int:
    if ext is not None and ext.sparse_size is not None:
        return ext.sparse_size
    real = parse_num(hdr[483:495], name, hoff, "realsize")
    return _checked(real, 0, MAX_SIZE, "realsize", name, hoff)
