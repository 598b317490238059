"""SquashFS reader vs the reference tools (unsquashfs, siftool and rdsquashfs output) on the
fixtures, and on hostile input. Images built with mksquashfs: test_squashfs_built.py."""

from __future__ import annotations

import json
import os
import random
import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from layerscope.errors import (
    CorruptImageError,
    LayerscopeError,
    LimitExceededError,
    ReaderError,
    UnsupportedFormatError,
    UsageError,
)
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.layers import apply_layers
from layerscope.model.tree import FileTree
from layerscope.readers.squashfs.reader import SquashFS, SquashfsImageReader
from tests.conftest import EXPECTED, FIXTURES
from tests.readers.sqfs_reference import (
    entry_row,
    looping_squashfs,
    parse_lln,
    read_all,
    reference_cat,
)

_FS_ROW = re.compile(r"\|(\d+)-(\d+)\s+\|FS \(Squashfs")

# --- fixture cases -------------------------------------------------------------------------


def _fixture_cases() -> list[tuple[str, Path, int, int | None, Path]]:
    cases: list[tuple[str, Path, int, int | None, Path]] = []
    for name in ("plain", "tar2sqfs-ng"):
        cases.append((name, FIXTURES / "sqfs" / f"{name}.sqfs", 0, None, EXPECTED / "sqfs" / name))
    sifs = sorted((FIXTURES / "sif").glob("*.sif")) + sorted(
        (FIXTURES / "sif" / "compression").glob("*.sif")
    )
    for sif in sifs:
        key = sif.stem if sif.parent.name == "sif" else f"compression__{sif.stem}"
        m = _FS_ROW.search((EXPECTED / "sif" / f"{key}.siftool.txt").read_text())
        assert m, key
        start, end = int(m.group(1)), int(m.group(2))
        cases.append((key, sif, start, end - start, EXPECTED / "sif" / key))
    return cases


CASES = _fixture_cases()
CASE_IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module", params=CASES, ids=CASE_IDS)
def case(request: pytest.FixtureRequest) -> tuple[str, Path, int, int | None, Path]:
    return request.param  # type: ignore[no-any-return]


def test_listing_matches_unsquashfs(case: tuple[str, Path, int, int | None, Path]) -> None:
    _, image, offset, size, stem = case
    expected = parse_lln(stem.with_suffix(".lln.txt").read_bytes())
    with SquashFS(str(image), offset, size) as fs:
        entries = list(fs.iter_entries())
    got = {e.path: entry_row(e) for e in entries}
    assert len(got) == len(entries), "duplicate paths"
    assert got == expected
    seen = {"/"}
    for e in entries:  # parents before children
        assert (e.path.rsplit("/", 1)[0] or "/") in seen, e.path
        seen.add(e.path)


def test_column_tree_equals_entry_tree(case: tuple[str, Path, int, int | None, Path]) -> None:
    """FileTree.adopt of the column walk (how loading builds a squashfs tree) gives the same
    nodes, ids, attributes and hard-link groups as applying the Entry stream."""
    _, image, offset, size, _ = case
    with SquashFS(str(image), offset, size) as fs:
        adopted = FileTree.adopt(fs.columns(), 0)
        applied = apply_layers([(fs.iter_entries(), "none")])

    def rows(tree: FileTree) -> list[tuple[int, str, Entry, int]]:
        return [(n, p, tree.entry(n, p), tree.layer[n]) for n, p in tree.walk_paths()]

    assert rows(adopted) == rows(applied) != []
    assert adopted.link_group == applied.link_group
    assert len(adopted) == len(applied) and adopted.layer_count == applied.layer_count == 1
    assert adopted.total_size() == applied.total_size()


def test_column_walk_stops_when_cancelled() -> None:
    with SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs")) as fs:
        assert len(fs.columns(lambda: True)) == 1  # the root row only
        assert len(fs.columns(lambda: False)) > 1


def test_counts_match(case: tuple[str, Path, int, int | None, Path]) -> None:
    _, image, offset, size, stem = case
    expected = json.loads(stem.with_suffix(".counts.json").read_text())
    with SquashFS(str(image), offset, size) as fs:
        entries = list(fs.iter_entries())
    names = {EntryKind.CHAR: "chardev", EntryKind.BLOCK: "blockdev"}
    counts = Counter(names.get(e.kind, e.kind.json_name) for e in entries)
    got = {k: counts.get(k, 0) for k in expected if k not in ("total", "file_bytes")}
    got["total"] = len(entries)
    got["file_bytes"] = sum(e.size for e in entries if e.kind is EntryKind.FILE)
    assert got == expected


def test_content_matches_unsquashfs_cat(
    case: tuple[str, Path, int, int | None, Path], tmp_path: Path
) -> None:
    _, image, offset, size, _ = case
    part = image
    if offset or size is not None:
        part = tmp_path / "part.sqfs"
        with open(image, "rb") as f:
            f.seek(offset)
            part.write_bytes(f.read(size))
    with SquashFS(str(image), offset, size) as fs:
        files = [e for e in fs.iter_entries() if e.kind is EntryKind.FILE]
        ours = [read_all(fs, e) for e in files]
    assert [len(b) for b in ours] == [e.size for e in files]
    assert b"".join(ours) == reference_cat(part, [e.path for e in files])


def test_xattrs_and_hard_links() -> None:
    image = FIXTURES / "sif" / "alpine-like-base.sif"
    text = (EXPECTED / "sif" / "alpine-like-base.xattrs.txt").read_text()
    section = text.split("## rdsquashfs -s")[0]
    expected: dict[str, dict[str, bytes]] = {}
    current = ""
    for line in section.splitlines()[1:]:
        if line.endswith(":") and line.startswith("/"):
            current = line[:-1]
        elif "=" in line:
            key, value = line.split("=", 1)
            raw = bytes.fromhex(value[2:]) if value.startswith("0x") else value.encode()
            expected.setdefault(current, {})[key] = raw
    m = _FS_ROW.search((EXPECTED / "sif" / "alpine-like-base.siftool.txt").read_text())
    assert m and expected
    start, end = int(m.group(1)), int(m.group(2))
    with SquashFS(str(image), start, end - start) as fs:
        by_path = {e.path: e for e in fs.iter_entries()}
    for path, attrs in expected.items():
        assert by_path[path].xattrs == attrs
    inos = set(re.findall(r"Inode number: (\d+)", text))
    a, b = by_path["/etc/ssl/certs/ca-certificates.crt"], by_path["/etc/ssl/cert.pem"]
    assert a.ino == b.ino and {str(a.ino)} == inos
    others = [e for e in by_path.values() if e.path not in (a.path, b.path)]
    assert a.ino not in {e.ino for e in others}


def test_image_reader_protocol() -> None:
    path = str(FIXTURES / "sqfs" / "plain.sqfs")
    reader = SquashfsImageReader(path)
    try:
        meta = reader.describe()
        assert meta.format == "squashfs" and len(meta.layers) == 1
        layer = meta.layers[0]
        assert layer.media_type == "squashfs" and layer.id == path
        assert layer.stored_size == layer.extra["bytes_used"] <= os.path.getsize(path)
        assert layer.extra["compressor"] == "gzip"
        entries = list(reader.iter_entries(0))
        hosts = next(e for e in entries if e.path == "/etc/passwd")
        assert b"".join(reader.read_content(0, hosts.loc, hosts.size)).startswith(b"root:")
        with pytest.raises(UsageError):
            list(reader.iter_entries(1))
    finally:
        reader.close()


def test_read_content_without_listing() -> None:
    """A reader reopened from a cached index reads content from the loc alone."""
    path = str(FIXTURES / "sqfs" / "plain.sqfs")
    with SquashFS(path) as fs:
        files = [e for e in fs.iter_entries() if e.kind is EntryKind.FILE]
        want = {e.path: read_all(fs, e) for e in files}
    with SquashFS(path) as fresh:
        assert {e.path: read_all(fresh, e) for e in files} == want


# --- hostile input --------------------------------------------------------------------------


def _patched(tmp_path: Path, offset: int, data: bytes) -> str:
    raw = bytearray((FIXTURES / "sqfs" / "plain.sqfs").read_bytes())
    raw[offset : offset + len(data)] = data
    out = tmp_path / "bad.sqfs"
    out.write_bytes(bytes(raw))
    return str(out)


def test_corrupt_superblock_fixture() -> None:
    with pytest.raises(CorruptImageError, match="block"):
        SquashFS(str(FIXTURES / "sqfs" / "corrupt-superblock.sqfs"))


def test_zeroed_magic(tmp_path: Path) -> None:
    with pytest.raises(CorruptImageError, match="magic"):
        SquashFS(_patched(tmp_path, 0, b"\0\0\0\0"))


def test_unsupported_version_and_compressor(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"version 3\.1"):
        SquashFS(_patched(tmp_path, 28, b"\x03\x00\x01\x00"))
    with pytest.raises(UnsupportedFormatError, match="compressor"):
        SquashFS(_patched(tmp_path, 20, b"\x09\x00"))


@pytest.mark.parametrize("keep", [50, 4096, 60000, 91000])
def test_truncated_copy(tmp_path: Path, keep: int) -> None:
    bad = tmp_path / "cut.sqfs"
    bad.write_bytes((FIXTURES / "sqfs" / "plain.sqfs").read_bytes()[:keep])
    with pytest.raises(CorruptImageError):
        SquashFS(str(bad))
    with pytest.raises(CorruptImageError, match="truncated"):
        SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs"), 0, keep)


def test_sif_corrupt_partitions() -> None:
    for name, error in (
        ("bad-squashfs-magic", CorruptImageError),
        ("bad-squashfs-superblock", CorruptImageError),
        ("truncated-partition", CorruptImageError),
    ):
        path = FIXTURES / "sif" / "corrupt" / f"{name}.sif"
        with pytest.raises(error):
            SquashFS(str(path), 36864, 131072 - 36864)


def test_directory_loop_is_an_error(tmp_path: Path) -> None:
    image = looping_squashfs(tmp_path)
    with SquashFS(str(image)) as fs, pytest.raises(CorruptImageError, match="loop"):
        list(fs.iter_entries())


def test_entry_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_MAX_ENTRIES", "10")  # layerscope.limits
    with (
        SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs")) as fs,
        pytest.raises(LimitExceededError, match="LAYERSCOPE_MAX_ENTRIES"),
    ):
        list(fs.iter_entries())


def test_metadata_block_over_8k(tmp_path: Path) -> None:
    raw = (FIXTURES / "sqfs" / "plain.sqfs").read_bytes()
    (inode_table,) = struct.unpack_from("<Q", raw, 64)
    bomb = zlib.compress(bytes(9000))
    fs = SquashFS(_patched(tmp_path, inode_table + 2, bomb))
    with fs, pytest.raises(CorruptImageError, match="more than 8192"):
        list(fs.iter_entries())


def test_entries_have_every_slot() -> None:
    """The listing loop fills Entry's slots directly: none may be left unset."""
    with SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs")) as fs:
        for e in fs.iter_entries():
            for slot in Entry.__slots__:
                getattr(e, slot)
            assert e.hardlink is None and e.loc >= 0


def test_mutated_metadata_never_escapes(tmp_path: Path) -> None:
    """Random byte flips in the tables: a typed error or a listing, never a raw exception."""
    good = (FIXTURES / "sqfs" / "plain.sqfs").read_bytes()
    with SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs")) as fs:
        start, end = fs._sb.inode_table, fs._sb.bytes_used
    rng = random.Random(1234)
    target = tmp_path / "m.sqfs"
    for _ in range(150):
        raw = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(start, end)] = rng.randrange(256)
        target.write_bytes(bytes(raw))
        try:
            with SquashFS(str(target)) as fs:
                for e in fs.iter_entries():
                    if e.kind is EntryKind.FILE:
                        read_all(fs, e)
        except LayerscopeError:
            pass


def test_closed_reader_refuses_reads() -> None:
    fs = SquashFS(str(FIXTURES / "sqfs" / "plain.sqfs"))
    entry = next(e for e in fs.iter_entries() if e.kind is EntryKind.FILE and e.size)
    fs.close()
    fs.close()  # idempotent
    with pytest.raises(ReaderError, match="closed"):
        b"".join(fs.read_content(entry.loc, entry.size))
    with pytest.raises(ReaderError, match="closed"):
        list(fs.iter_entries())
