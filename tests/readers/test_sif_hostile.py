"""Hostile SIFs: no filesystem partition to list, thousands of overlay partitions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from layerscope.readers.sif import format as sf
from tests.conftest import FIXTURES, require_tool
from tests.readers.ext3_reference import SIF as OVERLAY_SIF
from tests.readers.ext3_reference import overlay_span
from tests.readers.hostile import run_cli

SQFS = FIXTURES / "sqfs" / "plain.sqfs"


def _siftool(*args: str) -> None:
    subprocess.run([require_tool("siftool"), *args], check=True, capture_output=True)


def _retype_first_descriptor(sif: Path, data_type: int) -> None:
    """Give the first descriptor of a siftool-made SIF a data type siftool refuses to write."""
    raw = bytearray(sif.read_bytes())
    header = sf.SifHeader.parse(bytes(raw[: sf.HEADER.size]))
    raw[header.descriptors_offset : header.descriptors_offset + 4] = data_type.to_bytes(4, "little")
    sif.write_bytes(bytes(raw))


def test_sif_without_a_filesystem_partition(tmp_path: Path) -> None:
    """The partition siftool wrote becomes a data object of an unknown type: `ls` says the
    image has nothing to list (exit 3), `inspect` still shows the descriptor table."""
    sif = tmp_path / "unknown.sif"
    _siftool("new", str(sif))
    _siftool("add", str(sif), str(SQFS), "--datatype", "4", "--partfs", "1", "--parttype", "2",
             "--partarch", "2")  # fmt: skip
    _retype_first_descriptor(sif, 0x4042)
    for command in ("ls", "cat", "check"):
        args = ("cat", str(sif), "/etc/os-release") if command == "cat" else (command, str(sif))
        r = run_cli(args[0], "--no-cache", *args[1:], timeout=60)
        line = r.one_error_line()
        assert r.code == 3, r.err
        assert "no readable filesystem partition" in line and "type 0x4042" in line, line
    r = run_cli("inspect", "--json", "--no-cache", str(sif), timeout=60)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["layers"] == []
    assert [(d["id"], d["type"]) for d in doc["sif"]["descriptors"]] == [(1, "Unknown")]


def test_sif_without_any_object(tmp_path: Path) -> None:
    sif = tmp_path / "empty.sif"
    _siftool("new", str(sif))
    r = run_cli("ls", "--no-cache", str(sif), timeout=60)
    assert r.code == 3 and "no data objects" in r.one_error_line(), r.err


def _many_overlays(dest: Path, count: int) -> Path:
    """A SIF whose `count` overlay descriptors all point at one ext3 image (the overlay of
    the with-overlay fixture, made by Apptainer): 1 MB on disk, `count` layers to read."""
    offset, size = overlay_span()
    with open(OVERLAY_SIF, "rb") as f:
        f.seek(offset)
        ext3 = f.read(size)
    table_at = 4096
    data_at = -(-(table_at + count * sf.DESCRIPTOR.size) // 4096) * 4096
    extra = (sf.FS_EXT3.to_bytes(4, "little") + sf.PART_OVERLAY.to_bytes(4, "little")
             + sf.ARCH_CODES["amd64"])  # fmt: skip
    row = (sf.GROUP_MASK | 1, 0, data_at, size, size, 0, 0, 0, 0, b"overlay", extra)
    descriptors = [sf.SifDescriptor(sf.PARTITION, True, i + 1, *row) for i in range(count)]
    header = sf.SifHeader(
        launch_script=b"#!/usr/bin/env run-singularity\n",
        magic=sf.MAGIC,
        version=sf.VERSION_01,
        arch=sf.ARCH_CODES["amd64"],
        id=bytes(16),
        created_at=0,
        modified_at=0,
        descriptors_free=0,
        descriptors_total=count,
        descriptors_offset=table_at,
        descriptors_size=count * sf.DESCRIPTOR.size,
        data_offset=data_at,
        data_size=size,
    )
    with open(dest, "wb") as out:
        out.write(header.pack())
        out.seek(table_at)
        out.write(b"".join(d.pack() for d in descriptors))
        out.seek(data_at)
        out.write(ext3)
    return dest


@pytest.mark.parametrize(("count", "limit"), [(2000, "1000"), (4097, None)])
def test_overlay_partitions_count_against_max_layers(
    tmp_path: Path, count: int, limit: str | None
) -> None:
    """Overlays of one ext3 image (2,000 took 5 GB) count against max_layers like an OCI
    manifest's layers, for every command, before any partition is read: over the default
    (4096), and over a lowered limit."""
    sif = _many_overlays(tmp_path / "overlays.sif", count)
    assert sif.stat().st_size < 8 << 20
    env = {} if limit is None else {"LAYERSCOPE_MAX_LAYERS": limit}
    for command in ("ls", "inspect"):
        r = run_cli(command, "--no-cache", str(sif), env=env)
        line = r.one_error_line()
        assert r.code == 3, r.err
        assert f"{count} filesystem partitions" in line and "LAYERSCOPE_MAX_LAYERS" in line
        assert r.rss < 300 << 20, f"{command}: {r.rss >> 20} MiB"


def test_overlay_partitions_within_the_limit_are_read(tmp_path: Path) -> None:
    small = _many_overlays(tmp_path / "three.sif", 3)
    r = run_cli("ls", "--no-cache", str(small), env={"LAYERSCOPE_MAX_LAYERS": "3"})
    assert r.code == 0 and r.err == "", r.err
    assert r.out.strip()
