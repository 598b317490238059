"""Contents compared by stored form (readers.base.StoredForms) on real squashfs images made
by mksquashfs and tar2sqfs, checked against sqfsdiff on the same pairs.

Two images written with one codec store an unchanged file as the same compressed blocks:
the diff must decide those files without inflating a data block, find every changed file
(same size included), and agree with sqfsdiff whatever the compressors."""

from __future__ import annotations

import random
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from layerscope.readers.squashfs.reader import SquashFS
from tests.cli.run import cli
from tests.conftest import require_tool
from tests.sqfsdiff_reference import Changes, layerscope_changes, sqfsdiff

BLOCK = 128 << 10  # mksquashfs's and tar2sqfs's default block size


def _data(rng: random.Random, size: int) -> bytes:
    """Bytes that compress like a program's (words and some noise), `size` long."""
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(300)]
    parts, n = [], 0
    while n < size:
        chunk = rng.randbytes(64) if rng.random() < 0.1 else b" ".join(rng.choices(words, k=16))
        parts.append(chunk)
        n += len(chunk)
    return b"".join(parts)[:size]


def _flip(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x20
    path.write_bytes(bytes(raw))


@dataclass
class Pair:
    a: Path  # stage A, gzip (mksquashfs)
    b: Path  # stage B, gzip (mksquashfs)
    a_tails: Path  # stage A, gzip, tail ends packed into fragments (mksquashfs -tailends)
    b_tails: Path  # stage B, the same
    b_zstd: Path  # stage B, zstd (mksquashfs)
    b_tar2sqfs: Path  # stage B, gzip (tar2sqfs)
    mid_changed: int  # size of the big file changed in a middle block
    tail_changed: int  # size of the big file changed in its fragment tail


def _mksquashfs(src: Path, out: Path, comp: str, *opts: str) -> Path:
    tool = require_tool("mksquashfs")
    subprocess.run(
        [tool, str(src), str(out), "-comp", comp, "-noappend", "-quiet", "-no-progress", *opts],
        check=True,
        timeout=300,
    )
    return out


def _tar2sqfs(src: Path, out: Path) -> Path:
    tool = require_tool("tar2sqfs")
    tar = subprocess.run(
        ["tar", "-C", str(src), "--sort=name", "--numeric-owner", "-cf", "-", "."],
        check=True,
        capture_output=True,
        timeout=300,
    ).stdout
    subprocess.run([tool, "-q", "-f", "-c", "gzip", str(out)], input=tar, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Stage A: 300 small files, 8 multi-block files (one a whole number of blocks, the
    rest with a fragment tail). Stage B: A with same-size changes (small files, a middle
    block of a big file, a big file's tail), a grown file, a chmod, a removal, an add."""
    work = tmp_path_factory.mktemp("stored")
    rng = random.Random(15)
    a = work / "a"
    for d in range(6):
        (a / f"lib{d}").mkdir(parents=True)
        for i in range(50):
            (a / f"lib{d}" / f"f{i:02d}.txt").write_bytes(_data(rng, rng.randint(1, 3000)))
    (a / "big").mkdir()
    sizes = [3 * BLOCK + 777, 5 * BLOCK + 10, 2 * BLOCK, 7 * BLOCK + 4000, BLOCK + 1]
    sizes += [4 * BLOCK + 99, 6 * BLOCK + 12345, 3 * BLOCK + 5]
    for i, size in enumerate(sizes):
        (a / "big" / f"lib{i}.so").write_bytes(_data(rng, size))
    (a / "empty").write_bytes(b"")
    b = work / "b"
    shutil.copytree(a, b, symlinks=True)
    for d, i in ((0, 3), (2, 17), (5, 49)):
        path = b / f"lib{d}" / f"f{i:02d}.txt"
        _flip(path, path.stat().st_size // 2)
    _flip(b / "big" / "lib1.so", 2 * BLOCK + 5)  # a middle block
    _flip(b / "big" / "lib3.so", 7 * BLOCK + 100)  # the tail, in a fragment
    with (b / "lib1" / "f05.txt").open("ab") as f:
        f.write(b"grown")
    (b / "lib3" / "f08.txt").chmod(0o600)
    (b / "lib4" / "f10.txt").unlink()
    (b / "lib4" / "new.txt").write_bytes(b"added in stage B\n")
    return Pair(
        _mksquashfs(a, work / "a.sqfs", "gzip"),
        _mksquashfs(b, work / "b.sqfs", "gzip"),
        _mksquashfs(a, work / "a-tails.sqfs", "gzip", "-tailends"),
        _mksquashfs(b, work / "b-tails.sqfs", "gzip", "-tailends"),
        _mksquashfs(b, work / "b-zstd.sqfs", "zstd"),
        _tar2sqfs(b, work / "b-tar2sqfs.sqfs"),
        sizes[1],
        sizes[3],
    )


@pytest.fixture
def inflated(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts what the squashfs reader inflates: files' data blocks (by file size) and
    whole-file reads."""
    counts: Counter[str] = Counter()
    blocks, read = SquashFS._blocks, SquashFS.read_content

    def counted_blocks(
        self: SquashFS, start: int, fsize: int, sizes: tuple[int, ...]
    ) -> Iterator[bytes]:
        counts[f"blocks {fsize}"] += 1
        return blocks(self, start, fsize, sizes)

    def counted_read(self: SquashFS, loc: int, size: int) -> Iterator[bytes]:
        counts["read_content"] += 1
        return read(self, loc, size)

    monkeypatch.setattr(SquashFS, "_blocks", counted_blocks)
    monkeypatch.setattr(SquashFS, "read_content", counted_read)
    return counts


def _diff(capsysbinary: pytest.CaptureFixture[bytes], a: Path, b: Path, *opts: str) -> Any:
    r = cli(capsysbinary, "diff", "--json", *opts, str(a), str(b))
    assert r.code == 1, r.err
    return r.json()


def _expected_modified(pair: Pair) -> set[str]:
    return {
        "/lib0/f03.txt",
        "/lib2/f17.txt",
        "/lib5/f49.txt",
        "/big/lib1.so",
        "/big/lib3.so",
        "/lib1/f05.txt",
        "/lib3/f08.txt",
    }


def _assert_same(ours: Changes, ref: Changes) -> None:
    assert ours.added == ref.added
    assert ours.removed == ref.removed
    assert ours.modified == ref.modified


def test_same_codec_inflates_only_blocks_stored_differently(
    pair: Pair, inflated: Counter[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    doc = _diff(capsysbinary, pair.a, pair.b, "--no-cache")
    ours = layerscope_changes(doc)
    _assert_same(ours, sqfsdiff(pair.a, pair.b))
    assert set(ours.modified) == _expected_modified(pair)
    # Unchanged big files are decided from their raw blocks (mksquashfs is deterministic:
    # the same bytes store the same); the two changed ones are confirmed by inflating
    # them, on each side. By default mksquashfs stores a big file's tail as a short
    # block: both changes are in blocks.
    want = {f"blocks {pair.mid_changed}": 2, f"blocks {pair.tail_changed}": 2}
    assert inflated == Counter(want), inflated


def test_same_blocks_other_fragment_tail_is_a_change_without_inflating(
    pair: Pair, inflated: Counter[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """With -tailends, a big file's tail lives in a fragment: equal raw blocks and an
    unequal tail prove a change, and nothing but the fragment blocks is inflated."""
    doc = _diff(capsysbinary, pair.a_tails, pair.b_tails, "--no-cache")
    ours = layerscope_changes(doc)
    _assert_same(ours, sqfsdiff(pair.a_tails, pair.b_tails))
    assert set(ours.modified) == _expected_modified(pair)
    assert inflated == Counter({f"blocks {pair.mid_changed}": 2}), inflated


def test_different_codecs_compare_contents(
    pair: Pair, inflated: Counter[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    doc = _diff(capsysbinary, pair.a, pair.b_zstd, "--no-cache")
    ours = layerscope_changes(doc)
    _assert_same(ours, sqfsdiff(pair.a, pair.b_zstd))
    assert set(ours.modified) == _expected_modified(pair)
    # no stored form to share: every big file present in both is inflated, on both sides,
    # each once, in bulk (never a read_content per file)
    assert inflated["read_content"] == 0
    assert sum(n for k, n in inflated.items() if k.startswith("blocks ")) == 2 * 8


def test_other_writer_same_compressor_still_exact(
    pair: Pair, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """tar2sqfs and mksquashfs both write gzip blocks of 128 KiB; whether or not their
    blocks come out byte for byte the same, the contents decide where they differ."""
    doc = _diff(capsysbinary, pair.a, pair.b_tar2sqfs, "--no-cache")
    _assert_same(layerscope_changes(doc), sqfsdiff(pair.a, pair.b_tar2sqfs))


def test_second_diff_reads_no_content(
    pair: Pair, inflated: Counter[str], capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    first = _diff(capsysbinary, pair.a, pair.b)
    assert inflated, "the first diff must read something"
    inflated.clear()
    forms = Counter[str]()
    stored_forms = SquashFS.stored_forms

    def counted(self: SquashFS, locs: Any, inflate: bool = False) -> Any:
        forms["calls"] += 1
        return stored_forms(self, locs, inflate)

    monkeypatch.setattr(SquashFS, "stored_forms", counted)
    second = _diff(capsysbinary, pair.a, pair.b)
    assert not inflated and not forms, (inflated, forms)
    assert layerscope_changes(second) == layerscope_changes(first)


def test_corrupt_fragment_table_is_one_line_exit_3(
    pair: Pair, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A fragment table pointing past the image: the listing never reads it, the stored
    forms do; the diff ends with one line and exit 3, not a traceback."""
    from layerscope.readers.squashfs.format import SUPERBLOCK_SIZE, parse_superblock

    bad = tmp_path / "bad.sqfs"
    raw = bytearray(pair.b.read_bytes())
    sb = parse_superblock(bytes(raw[:SUPERBLOCK_SIZE]), len(raw), str(bad), 0)
    raw[sb.fragment_table : sb.fragment_table + 8] = (len(raw) + 4096).to_bytes(8, "little")
    bad.write_bytes(bytes(raw))
    assert cli(capsysbinary, "ls", "--no-cache", str(bad)).code == 0  # listing is fine
    r = cli(capsysbinary, "diff", "--json", "--no-cache", str(pair.a), str(bad))
    assert r.code == 3, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), r.err
    assert "runs past the image end" in lines[0] and str(bad) in lines[0]
