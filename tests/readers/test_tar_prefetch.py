"""A layer inflated on a thread (readers.tar.prefetch) gives the bytes, positions and
errors the codec gives on the caller's thread: layers written by GNU tar and gzip / zstd,
read with assorted request sizes, cut short, and abandoned half-way."""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import cast

import pytest

from layerscope.errors import CorruptImageError
from layerscope.model.entry import Entry
from layerscope.readers.tar.inflate import DecodedStream, open_decoded
from layerscope.readers.tar.prefetch import BLOCK, PrefetchedStream
from layerscope.readers.tar.reader import iter_layer_entries, iter_tar
from tests.conftest import require_tool

SIZES = [1, 511, 512, 4096, 65536, BLOCK - 3, BLOCK, BLOCK + 7, 3 * BLOCK]


def _layer(tmp_path: Path, codec: str) -> Path:
    """A tar layer of ~6 MiB (several prefetch blocks), half random, half text."""
    tar, comp = require_tool("tar"), require_tool(codec)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    rng = random.Random(16)
    for i in range(12):
        (root / f"bin{i}").write_bytes(rng.randbytes(rng.randrange(1, 300_000)))
        (root / "etc" / f"conf{i}").write_text(f"key{i} = value\n" * rng.randrange(1, 20_000))
    plain = tmp_path / "layer.tar"
    subprocess.run([tar, "-C", str(root), "-cf", str(plain), "."], check=True)
    subprocess.run([comp, "-k", "-q", str(plain)], check=True)
    return plain.with_name(plain.name + (".gz" if codec == "gzip" else ".zst"))


def _read_all(stream: DecodedStream, rng: random.Random) -> tuple[bytes, list[int]]:
    """Everything `stream` gives with mixed readinto and skip calls (skipped bytes as
    NULs), and tell() after each call."""
    out, tells = bytearray(), []
    while True:
        n = rng.choice(SIZES)
        if rng.random() < 0.3:
            got = stream.skip(n)
            out += bytes(got)
        else:
            buf = memoryview(bytearray(n))
            got = stream.readinto(buf)
            out += buf[:got]
        tells.append(stream.tell())
        if got < n:
            return bytes(out), tells


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_bytes_and_positions_equal_the_codec_on_the_callers_thread(
    tmp_path: Path, codec: str
) -> None:
    blob = _layer(tmp_path, codec)
    with open(blob, "rb") as raw:
        direct = open_decoded(raw, "layer", blob.stat().st_size)
        want, want_tells = _read_all(direct, random.Random(1))
        direct.close()
    with open(blob, "rb") as raw:
        stream = PrefetchedStream(open_decoded(raw, "layer", blob.stat().st_size))
        got, tells = _read_all(stream, random.Random(1))
        stream.close()
    assert len(want) > 3 * BLOCK
    assert got == want
    assert tells == want_tells
    assert stream.compression == codec


def test_a_cut_layer_gives_its_bytes_then_the_codecs_error(tmp_path: Path) -> None:
    blob = _layer(tmp_path, "gzip")
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(blob.read_bytes()[: blob.stat().st_size * 2 // 3])
    whole = subprocess.run(["gzip", "-dc", str(blob)], capture_output=True, check=True).stdout
    with open(cut, "rb") as raw:
        stream = PrefetchedStream(open_decoded(raw, "cut layer", cut.stat().st_size))
        got = bytearray()
        buf = memoryview(bytearray(65536))
        with pytest.raises(CorruptImageError, match="cut layer"):
            while n := stream.readinto(buf):
                got += buf[:n]
        stream.close()
    assert len(got) > BLOCK
    assert whole.startswith(bytes(got))
    # the listing names the same members before the error as without the thread
    with open(cut, "rb") as raw:
        listed = _until_error(iter_layer_entries(raw, "cut layer", cut.stat().st_size))
    with open(cut, "rb") as raw:
        bare = open_decoded(raw, "cut layer", cut.stat().st_size)
        assert _until_error(iter_tar(bare, "cut layer")) == listed
        bare.close()
    assert len(listed) > 2


def _until_error(entries: Iterator[Entry]) -> list[str]:
    paths: list[str] = []
    with pytest.raises(CorruptImageError):
        for e in entries:
            paths.append(e.path)
    return paths


def test_an_abandoned_listing_stops_its_thread(tmp_path: Path) -> None:
    blob = _layer(tmp_path, "gzip")
    with open(blob, "rb") as raw:
        # a generator (typed as an Iterator), so it can be abandoned with close()
        entries = cast(
            Generator[Entry, None, None], iter_layer_entries(raw, "layer", blob.stat().st_size)
        )
        assert next(entries).path == "/"
        closer = threading.Thread(target=entries.close)
        closer.start()
        closer.join(timeout=60)  # a hang guard, not a speed test
        assert not closer.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "tar-inflate"]
