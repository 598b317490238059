"""SIF partitions read in place (squashfs primary, ext3 overlay, encrypted), and the
benchmark SIF writer checked against the library's layout and unsquashfs."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import pytest

from layerscope.errors import EncryptedError
from layerscope.model.entry import EntryKind
from layerscope.readers.sif import format as sf
from layerscope.readers.sif.reader import SifReader
from tests.conftest import EXPECTED, FIXTURES, require_tool
from tests.readers.sif_expected import (
    ALL_LOCAL,
    CHAIN,
    SIF,
    count_entries,
    describe_sif,
    load_gen_sif,
)

# -- encrypted partitions (made with the benchmark writer: no fixture has one) ------------------


def test_encrypted_partition(tmp_path: Path) -> None:
    g = load_gen_sif()
    out = str(tmp_path / "enc.sif")
    g.write_objects(
        out,
        [
            g.SifObject(
                sf.PARTITION,
                data=b"\x00" * 8192,
                extra=g.partition_extra(sf.FS_ENCRYPTED_SQUASHFS, sf.PART_PRIMSYS, "arm64"),
            ),
            g.SifObject(
                sf.CRYPTO_MESSAGE, data=b"key", raw_link=1, extra=struct.pack("<ii", 2, 0x200)
            ),
        ],
    )
    with SifReader(out) as r:
        meta = r.describe()
        assert meta.architecture == "arm64"
        assert meta.layers[0].encrypted and meta.layers[0].media_type == "squashfs-encrypted"
        assert meta.encryption == [
            {"partition": 1, "fs": "Encrypted squashfs", "crypto_messages": [2]}
        ]
        assert meta.sif is not None
        assert meta.sif["descriptors"][1]["type_label"] == "Cryptographic Message (PEM/RSA-OAEP)"
        with pytest.raises(EncryptedError, match="encrypted partition: contents cannot be read"):
            r.iter_entries(0)


# -- the benchmark writer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture", ["alpine-like-base.sif", "with-overlay.sif", "upstream-sylabs/two-groups-signed.sif"]
)
def test_writer_layout_matches_library(tmp_path: Path, fixture: str) -> None:
    assert load_gen_sif().check(SIF / fixture, str(tmp_path / "rewrite.sif")) == []


def test_write_sif_wraps_a_squashfs(tmp_path: Path) -> None:
    out = tmp_path / "bench.sif"
    definition = "Bootstrap: scratch\n"
    load_gen_sif().write_sif(str(out), str(FIXTURES / "sqfs/plain.sqfs"), definition)
    meta = describe_sif(out)
    assert meta.definition == definition and meta.architecture == "amd64"
    assert [d["type_label"] for d in meta.sif["descriptors"]] == [
        "Def.FILE",
        "FS (Squashfs/*System/amd64)",
    ]
    part = meta.sif["descriptors"][1]
    assert part["offset"] % 4096 == 0
    assert part["size"] == (FIXTURES / "sqfs/plain.sqfs").stat().st_size
    assert meta.layers[0].stored_size == part["size"] and meta.warnings == []


def test_write_sif_partition_lists_with_unsquashfs(tmp_path: Path) -> None:
    unsquashfs = require_tool("unsquashfs")
    out = tmp_path / "bench.sif"
    load_gen_sif().write_sif(str(out), str(FIXTURES / "sqfs/plain.sqfs"), "Bootstrap: scratch\n")
    offset = describe_sif(out).layers[0].extra["offset"]
    cmd = [unsquashfs, "-o", str(offset), "-lln", "-d", "", str(out)]
    listing = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    assert listing.splitlines()[1:] == (EXPECTED / "sqfs/plain.lln.txt").read_text().splitlines()


# -- partition contents (need the squashfs and ext3 readers) ------------------------------------


@pytest.mark.parametrize("fixture", sorted(ALL_LOCAL))
def test_primary_partition_counts(fixture: str) -> None:
    pytest.importorskip("layerscope.readers.squashfs.reader")
    key, _ = ALL_LOCAL[fixture]
    want = json.loads((EXPECTED / f"sif/{key}.counts.json").read_text())
    with SifReader(str(SIF / fixture)) as r:
        assert count_entries(r, 0) == want


def test_write_sif_partition_is_readable(tmp_path: Path) -> None:
    pytest.importorskip("layerscope.readers.squashfs.reader")
    out = tmp_path / "bench.sif"
    load_gen_sif().write_sif(str(out), str(FIXTURES / "sqfs/plain.sqfs"), "Bootstrap: scratch\n")
    want = json.loads((EXPECTED / "sqfs/plain.counts.json").read_text())
    with SifReader(str(out)) as r:
        assert count_entries(r, 0) == want


@pytest.mark.parametrize("name", CHAIN)
def test_read_content_in_place(name: str) -> None:
    pytest.importorskip("layerscope.readers.squashfs.reader")
    with SifReader(str(SIF / f"{name}.sif")) as r:
        entries = {e.path: e for e in r.iter_entries(0)}
        for inner, ref in (
            ("/.singularity.d/Singularity", f"{name}.def"),
            ("/.singularity.d/labels.json", f"{name}.labels.json"),
        ):
            e = entries[inner]
            assert b"".join(r.read_content(0, e.loc, e.size)) == (SIF / "defs" / ref).read_bytes()


def test_overlay_layer_entries() -> None:
    pytest.importorskip("layerscope.readers.ext3.reader")
    listing = (EXPECTED / "sif/with-overlay.upper-etc.debugfs.txt").read_text().splitlines()
    etc = {cols[-1]: cols for cols in (line.split() for line in listing) if cols}
    xattr = (EXPECTED / "sif/with-overlay.opaque-xattr.debugfs.txt").read_text()
    name, value = re.search(r"^\s*(\S+) \(\d+\) = \"(.*)\"", xattr, re.M).groups()  # type: ignore[union-attr]
    with SifReader(str(SIF / "with-overlay.sif")) as r:
        entries = {e.path: e for e in r.iter_entries(1)}
        hostname = entries["/etc/hostname"]
        assert hostname.kind is EntryKind.FILE and hostname.size == int(etc["hostname"][5])
        content = b"".join(r.read_content(1, hostname.loc, hostname.size))
        assert content == b"layerscope-overlay\n"
    motd = entries["/etc/motd"]
    assert etc["motd"][1].startswith("20")  # debugfs: character device
    assert motd.kind is EntryKind.CHAR and motd.rdev == (0, 0)
    opaque = entries["/usr/share/doc/layerscope-base"]
    assert opaque.kind is EntryKind.DIR
    assert (opaque.xattrs or {}).get(name) == value.encode()
    assert not any(p == "/upper" or p.startswith(("/upper/", "/work")) for p in entries)
