"""Block decompressors: round trips through each library's own compressor, size limits,
garbage input, the zlib fallback, and LZO (lzallright) against real LZO data written by
mksquashfs and liblzo2's two compressor families."""

from __future__ import annotations

import lzma
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from layerscope.model.entry import EntryKind
from layerscope.readers.squashfs import codecs
from layerscope.readers.squashfs.codecs import DecompressError, decompressor
from layerscope.readers.squashfs.reader import SquashFS
from tests.conftest import FIXTURES, require_tool

DATA = (b"squashfs block " * 300) + bytes(range(256)) * 8 + random.Random(3).randbytes(3000)


def _legacy_lzma(data: bytes) -> bytes:
    """What squashfs-tools writes for compressor 2: an lzma 'alone' stream whose 13-byte
    header carries the real uncompressed size (liblzma writes 'unknown' there)."""
    raw = lzma.compress(data, format=lzma.FORMAT_ALONE)
    return raw[:5] + struct.pack("<Q", len(data)) + raw[13:]


def _compressed(name: str, data: bytes) -> list[bytes]:
    """Every encoding of `data` a squashfs writer may produce with compressor `name`."""
    if name == "gzip":
        small_window = zlib.compressobj(1, wbits=12)  # mksquashfs -Xwindow-size 12
        return [zlib.compress(data, 9), small_window.compress(data) + small_window.flush()]
    if name == "xz":
        bcj = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}]
        return [lzma.compress(data), lzma.compress(data, filters=bcj)]
    if name == "lzma":
        return [_legacy_lzma(data), lzma.compress(data, format=lzma.FORMAT_ALONE)]
    if name == "lz4":
        import lz4.block

        return [
            lz4.block.compress(data, store_size=False),
            lz4.block.compress(data, mode="high_compression", store_size=False),
        ]
    if name == "lzo":
        from lzallright import LZOCompressor

        return [LZOCompressor().compress(data)]
    if name == "zstd":
        import zstandard

        return [
            zstandard.ZstdCompressor(level=15).compress(data),
            zstandard.ZstdCompressor(write_content_size=False).compress(data),
        ]
    raise AssertionError(name)


CODECS = ["gzip", "xz", "lzma", "lz4", "zstd", "lzo"]


@pytest.mark.parametrize("name", CODECS)
def test_round_trip(name: str) -> None:
    dec = decompressor(name)
    for blob in _compressed(name, DATA):
        assert dec(blob, len(DATA)) == DATA
        assert dec(memoryview(blob), 1 << 20) == DATA


@pytest.mark.parametrize("name", CODECS)
def test_output_limit(name: str) -> None:
    dec = decompressor(name)
    blob = _compressed(name, DATA)[0]
    with pytest.raises(DecompressError):
        dec(blob, len(DATA) - 1)


@pytest.mark.parametrize("name", CODECS)
def test_garbage(name: str) -> None:
    dec = decompressor(name)
    for junk in (b"", b"\x00" * 3, b"not compressed at all" * 10):
        with pytest.raises(DecompressError):
            dec(junk, 8192)


@pytest.mark.parametrize("name", ["gzip", "xz", "zstd", "lzo"])
def test_truncated(name: str) -> None:
    dec = decompressor(name)
    blob = _compressed(name, DATA)[0]
    with pytest.raises(DecompressError):
        dec(blob[: len(blob) // 2], len(DATA))


def test_zstd_declared_size_checked_before_allocating() -> None:
    import zstandard

    blob = zstandard.ZstdCompressor().compress(bytes(1 << 20))
    with pytest.raises(DecompressError, match="more than"):
        decompressor("zstd")(blob, 8192)


def test_zlib_fallback_without_isal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "isal", None)  # makes `from isal import ...` fail
    dec = decompressor("gzip")
    assert dec(zlib.compress(DATA), len(DATA)) == DATA
    with pytest.raises(DecompressError):
        dec(zlib.compress(DATA), 100)


def test_unknown_compressor() -> None:
    assert codecs.COMPRESSOR_NAMES == {
        1: "gzip",
        2: "lzma",
        3: "lzo",
        4: "xz",
        5: "lz4",
        6: "zstd",
    }
    with pytest.raises(ValueError):
        decompressor("brotli")


# --- LZO ---------------------------------------------------------------------------------------


def test_lzo_minimal_streams() -> None:
    lzo = decompressor("lzo")
    # literal run of 4 ("abcd") as the first instruction, then the end marker 0x11 0 0
    assert lzo(b"\x15abcd\x11\x00\x00", 100) == b"abcd"
    assert lzo(b"\x11\x00\x00", 0) == b""
    with pytest.raises(DecompressError, match="more than 3 bytes"):
        lzo(b"\x15abcd\x11\x00\x00", 3)
    with pytest.raises(DecompressError, match="bytes follow the end"):
        lzo(b"\x15abcd\x11\x00\x00!", 100)
    with pytest.raises(DecompressError, match="truncated"):
        lzo(b"\x15abcd\x11\x00", 100)
    # an M2 match reaching before the start of the output
    with pytest.raises(DecompressError, match="before the start"):
        lzo(b"\x15abcd\x7f\xff\x11\x00\x00", 100)


def test_lzo_bomb_is_refused() -> None:
    """A metadata-sized block (8 KiB) whose one match is extended by zero bytes to 2 MB:
    refused by size (lzallright grows its buffer itself, LZO's ~255x bounds what that
    costs), not returned."""
    # 5 literals, an M3 match (distance 1) extended by 8,000 zero bytes, the end marker
    bomb = b"\x16abcde\x20" + bytes(8000) + b"\xff\x00\x00\x11\x00\x00"
    with pytest.raises(DecompressError, match="more than 8192 bytes"):
        decompressor("lzo")(bomb, 8192)


def test_lzo_fixture_matches_unsquashfs(tmp_path: Path) -> None:
    """Every metadata and data block of the lzo fixture (made by mksquashfs)."""
    sif = FIXTURES / "sif" / "compression" / "lzo.sif"
    start, end = 36864, 131072  # expected/sif/compression__lzo.siftool.txt
    part = tmp_path / "lzo.sqfs"
    with open(sif, "rb") as f:
        f.seek(start)
        part.write_bytes(f.read(end - start))
    with SquashFS(str(part)) as fs:
        assert fs.info["compressor"] == "lzo"
        files = [e for e in fs.iter_entries() if e.kind is EntryKind.FILE]
        ours = b"".join(b"".join(fs.read_content(e.loc, e.size)) for e in files)
    tool = require_tool("unsquashfs")
    paths = [os.fsencode(e.path) for e in files]
    ref = subprocess.run([tool.encode(), b"-cat", bytes(part), *paths], capture_output=True)
    assert ref.returncode == 0 and ours == ref.stdout


@pytest.mark.parametrize("algorithm", ["lzo1x_1", "lzo1x_999"])
def test_lzo_varied_data(tmp_path: Path, algorithm: str) -> None:
    """Long runs, long literal runs, near and far matches: the length extensions and all
    match kinds of the format, as liblzo2's two compressor families emit them."""
    rng = random.Random(11)
    src = tmp_path / "src"
    src.mkdir()
    chunks = {
        "zeros": bytes(200_000),
        "random": rng.randbytes(100_000),
        "text": b"".join(b"line %d of a text file\n" % (i % 500) for i in range(8000)),
        "mixed": b"".join(
            rng.randbytes(rng.randrange(1, 300)) * rng.randrange(1, 60) for _ in range(400)
        ),
        "far": (rng.randbytes(40_000) + b"x" * 7) * 3,
    }
    for name, body in chunks.items():
        (src / name).write_bytes(body)
    image = tmp_path / "lzo.sqfs"
    tool = require_tool("mksquashfs")
    cmd = [tool, str(src), str(image), "-comp", "lzo", "-Xalgorithm", algorithm, "-noappend"]
    subprocess.run([*cmd, "-no-progress", "-quiet"], check=True, capture_output=True)
    with SquashFS(str(image)) as fs:
        got = {
            e.path[1:]: b"".join(fs.read_content(e.loc, e.size))
            for e in fs.iter_entries()
            if e.kind is EntryKind.FILE
        }
    assert got == chunks
