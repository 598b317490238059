"""Tar layer mutations: header fields (checksum usually fixed so the damage gets past the
checksum test), PAX and GNU long-name payloads, truncation; then stored plain, gzip or
zstd, and sometimes the compressed stream itself is damaged (header, trailer, body).
"""

from __future__ import annotations

import functools
import gzip
import io
import tarfile
from dataclasses import dataclass

import zstandard
from hypothesis import strategies as st

from tests.conftest import FIXTURES
from tests.fuzz.mutate import interesting

BLOCK = 512
# ustar header fields: (offset, length, kind)
FIELDS = (
    (0, 100, "name"),
    (100, 8, "num"),  # mode
    (108, 8, "num"),  # uid
    (116, 8, "num"),  # gid
    (124, 12, "num"),  # size
    (136, 12, "num"),  # mtime
    (148, 8, "num"),  # chksum
    (156, 1, "type"),
    (157, 100, "name"),  # linkname
    (257, 8, "magic"),  # magic + version
    (329, 8, "num"),  # devmajor
    (337, 8, "num"),  # devminor
    (345, 155, "name"),  # prefix
    (483, 12, "num"),  # GNU realsize (old sparse)
    (482, 1, "type"),  # GNU isextended
)
TYPES = b"0123456789ADgxLKSVX\x00\xff"
NAMES = (
    b"..", b"../../etc/passwd", b"/", b"a//b/./c", b".wh..wh..opq", b".wh.x", b"./", b"",
    b"\xff\xfe", b"a/" * 60, b"x" * 100, b"dir/", b"./.", b"\x00abc",
)  # fmt: skip


@dataclass(frozen=True)
class TarSeed:
    name: str
    data: bytes
    headers: tuple[int, ...]  # offsets of 512-byte header blocks
    payloads: tuple[tuple[int, int], ...]  # PAX / GNU long-name payload ranges


def _seed(name: str, data: bytes) -> TarSeed:
    headers: list[int] = []
    payloads: list[tuple[int, int]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        try:
            for m in tf:
                headers.append(m.offset)
                first_data = m.offset_data - BLOCK
                if first_data != m.offset:
                    headers.append(first_data)
                    payloads.append((m.offset + BLOCK, first_data))
        except tarfile.ReadError:  # a truncated quirk: keep what was listed
            pass
    return TarSeed(name, data, tuple(headers), tuple(payloads))


def _synthetic() -> bytes:
    """A tar with what the fixtures lack: PAX records and xattrs, GNU long names and
    links, global headers, devices, hard links, base-256 numbers."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        glob = tarfile.TarInfo("pax_global_header")
        glob.type = tarfile.XGLTYPE
        glob.pax_headers = {"mtime": "1700000000.5", "uid": "7"}
        tf.addfile(glob)
        for name, kind, extra in (
            ("dir", tarfile.DIRTYPE, {}),
            ("dir/" + "long-name-" * 12, tarfile.REGTYPE, {"SCHILY.xattr.user.a": "1"}),
            ("dir/link", tarfile.SYMTYPE, {}),
            ("dir/hard", tarfile.LNKTYPE, {}),
            ("dev/null", tarfile.CHRTYPE, {}),
            ("fifo", tarfile.FIFOTYPE, {"LIBARCHIVE.xattr.user.b": "YWJj"}),
            ("dir/.wh.gone", tarfile.REGTYPE, {}),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.pax_headers = extra
            info.linkname = "dir/" + "target-" * 20 if kind in (b"1", b"2") else ""
            info.devmajor, info.devminor = (1, 3) if kind == tarfile.CHRTYPE else (0, 0)
            data = b"payload\n" * 9 if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    gnu = io.BytesIO()
    with tarfile.open(fileobj=gnu, mode="w", format=tarfile.GNU_FORMAT) as tf:
        info = tarfile.TarInfo("gnu/" + "n" * 120)
        info.size, info.uid = 3, 1 << 30  # base-256 uid
        tf.addfile(info, io.BytesIO(b"abc"))
    return buf.getvalue()[: -2 * BLOCK] + gnu.getvalue()


@functools.cache
def tar_seeds() -> tuple[TarSeed, ...]:
    out = [_seed("synthetic.tar", _synthetic())]
    for path in sorted((FIXTURES / "oci" / "layers").rglob("*.tar.gz")):
        out.append(_seed(path.name, gzip.decompress(path.read_bytes())))
    for path in sorted((FIXTURES / "dir" / "app-1.0-uncompressed").iterdir()):
        raw = path.read_bytes()
        if raw[257:262] == b"ustar" and len(raw) < 64 << 10:
            out.append(_seed(path.name, raw))
    return tuple(out)


def fix_checksum(data: bytearray, off: int) -> None:
    hdr = data[off : off + BLOCK]
    if len(hdr) < BLOCK:
        return
    total = sum(hdr) - sum(hdr[148:156]) + 8 * 32
    data[off + 148 : off + 156] = b"%06o\x00 " % (total & 0o777777)


@st.composite
def _field_value(draw: st.DrawFn, kind: str, length: int, size: int) -> bytes:
    if kind == "num":
        choice = draw(st.integers(0, 4))
        if choice == 0:  # octal, maybe too wide for the field
            v = draw(st.sampled_from(interesting(size, 8)))
            return (b"%o" % v)[: length + 2]
        if choice == 1:  # GNU base-256, positive or negative
            v = draw(st.integers(0, (1 << (8 * (length - 1))) - 1))
            head = draw(st.sampled_from((b"\x80", b"\xff")))
            return head + v.to_bytes(length - 1, "big")
        if choice == 2:
            return draw(st.binary(min_size=length, max_size=length))
        if choice == 3:
            return draw(st.sampled_from((b"", b" ", b"0" * length, b"-1", b"8" * 7, b"7" * 11)))
        return b"%0*o" % (length - 1, draw(st.integers(0, 8**7)))
    if kind == "type":
        return bytes([draw(st.sampled_from(TYPES))])
    if kind == "magic":
        return draw(st.sampled_from((b"ustar\x0000", b"ustar  \x00", b"\x00" * 8, b"ustax\x0000")))
    if draw(st.booleans()):
        return draw(st.sampled_from(NAMES))
    return draw(st.binary(max_size=length))


@st.composite
def _tar_edit(draw: st.DrawFn, seed: TarSeed, data: bytearray) -> None:
    op = draw(st.integers(0, 9))
    if op <= 5 and seed.headers:
        off = draw(st.sampled_from(seed.headers))
        foff, length, kind = draw(st.sampled_from(FIELDS))
        value = draw(_field_value(kind, length, len(data)))
        end = off + foff + length
        if end <= len(data):
            data[off + foff : end] = value[:length].ljust(length, b"\x00")
            if draw(st.integers(0, 4)) > 0:
                fix_checksum(data, off)
        return
    if op <= 7 and seed.payloads:  # a PAX record or GNU long name: bytes inside it
        start, end = draw(st.sampled_from(seed.payloads))
        pos = draw(st.integers(start, max(start, end - 1)))
        chunk = draw(st.binary(min_size=1, max_size=16))
        if draw(st.booleans()):
            chunk = draw(st.sampled_from((b" ", b"=", b"\n", b"99999999 ", b"0 ", b"path=")))
        data[pos : pos + len(chunk)] = chunk[: max(0, len(data) - pos)]
        return
    if data:
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= 1 << draw(st.integers(0, 7))


@dataclass(frozen=True)
class LayerCase:
    compression: str
    blob: bytes

    def __repr__(self) -> str:
        return f"LayerCase({self.compression}, {len(self.blob)} bytes)"


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, compresslevel=1, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor(level=1, write_content_size=True).compress(data)
    return data


@st.composite
def layer_cases(draw: st.DrawFn) -> LayerCase:
    seed = draw(st.sampled_from(tar_seeds()))
    data = bytearray(seed.data)
    for _ in range(draw(st.integers(1, 4))):
        draw(_tar_edit(seed, data))
    if draw(st.integers(0, 7)) == 0:
        del data[draw(st.integers(0, len(data))) :]
    how = draw(st.sampled_from(("plain", "gzip", "zstd")))
    blob = bytearray(compress(bytes(data), how))
    if how != "plain" and draw(st.integers(0, 4)) == 0:  # damage the stream itself
        for _ in range(draw(st.integers(1, 3))):
            near_end = draw(st.booleans())
            pos = draw(st.integers(0, min(len(blob) - 1, 24)))
            pos = len(blob) - 1 - pos if near_end else pos
            blob[pos] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            del blob[draw(st.integers(0, len(blob))) :]
    return LayerCase(how, bytes(blob))
