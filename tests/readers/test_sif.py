"""SifReader's header, descriptor table and metadata against siftool's output for the
fixtures (expected/sif/*.siftool.txt), and its refusals of corrupt input."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from layerscope.errors import (
    CorruptImageError,
    LayerscopeError,
    LimitExceededError,
    UnsupportedFormatError,
    UsageError,
)
from layerscope.readers.sif.reader import SifReader
from tests.conftest import EXPECTED
from tests.readers.sif_expected import (
    ALL_LOCAL,
    SIF,
    UPSTREAM,
    describe_sif,
    parse_siftool,
    siftool_view,
    upstream_sections,
)

# -- descriptor tables and headers --------------------------------------------------------------


def test_upstream_reference_covers_all_images() -> None:
    assert sorted(upstream_sections()) == UPSTREAM and len(UPSTREAM) == 17


@pytest.mark.parametrize("name", UPSTREAM)
def test_upstream_matches_siftool(name: str) -> None:
    want_header, want_rows = parse_siftool(upstream_sections()[name])
    meta = describe_sif(SIF / "upstream-sylabs" / name)
    got_header, got_rows = siftool_view(meta.sif)
    assert got_rows == want_rows
    assert got_header == want_header


@pytest.mark.parametrize("fixture", sorted(ALL_LOCAL))
def test_fixture_matches_siftool(fixture: str) -> None:
    key, _ = ALL_LOCAL[fixture]
    want_header, want_rows = parse_siftool((EXPECTED / f"sif/{key}.siftool.txt").read_text())
    meta = describe_sif(SIF / fixture)
    got_header, got_rows = siftool_view(meta.sif)
    assert got_rows == want_rows
    assert got_header == want_header
    assert meta.architecture == want_header["Primary Architecture"]


@pytest.mark.parametrize("fixture", sorted(ALL_LOCAL))
def test_definition_and_labels(fixture: str) -> None:
    _, defs = ALL_LOCAL[fixture]
    meta = describe_sif(SIF / fixture)
    assert meta.definition == (SIF / f"defs/{defs}.def").read_text()
    want_labels = json.loads((SIF / f"defs/{defs}.labels.json").read_text())
    assert meta.labels == want_labels
    assert meta.generic_json["labels.json"] == want_labels
    assert meta.warnings == []


def test_oci_config_object_is_the_config() -> None:
    meta = describe_sif(SIF / "alpine-like-base.sif")
    assert meta.config["Cmd"] == ["/bin/sh"]
    assert meta.config is meta.generic_json["oci-config.json"]
    assert describe_sif(SIF / "stage1.sif").config == {}


def test_signed_image_signature() -> None:
    verify = (EXPECTED / "sif/alpine-like-base-signed.verify.txt").read_text()
    fingerprint = verify.split("signed by")[1].strip()
    meta = describe_sif(SIF / "alpine-like-base-signed.sif")
    assert fingerprint == "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84"
    assert meta.signatures == [
        {
            "id": 5,
            "hash": "SHA-256",
            "entity": fingerprint,
            "linked_group": 1,
            "linked_object": None,
            # verified only on request (inspect, check): tests/readers/test_sif_signatures.py
            "format": None,
            "signed_objects": None,
            "signer": None,
            "status": None,
            "reason": None,
        }
    ]
    sig = meta.sif["descriptors"][-1]
    assert (sig["group"], sig["linked_id"], sig["linked_is_group"]) == (None, 1, True)


def test_legacy_signatures_link_objects() -> None:
    meta = describe_sif(SIF / "upstream-sylabs/one-group-signed-legacy-all.sif")
    assert [
        (s["id"], s["hash"], s["linked_object"], s["linked_group"]) for s in meta.signatures
    ] == [(3, "SHA-384", 1, None), (4, "SHA-384", 2, None)]


def test_sbom_and_crypto_message_fields() -> None:
    sbom = describe_sif(SIF / "upstream-sylabs/one-object-sbom.sif").sif["descriptors"][0]
    assert sbom["sbom_format"] == "cyclonedx-json"
    msg = describe_sif(SIF / "upstream-sylabs/one-object-crypt-message.sif").sif["descriptors"][0]
    assert (msg["format"], msg["message"]) == ("OpenPGP", "Clear Signature")


# -- layers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", sorted(ALL_LOCAL))
def test_layers_follow_the_partitions(fixture: str) -> None:
    key, _ = ALL_LOCAL[fixture]
    _, rows = parse_siftool((EXPECTED / f"sif/{key}.siftool.txt").read_text())
    parts = [r for r in rows if "/*System/" in r[4]] + [r for r in rows if "/Overlay/" in r[4]]
    meta = describe_sif(SIF / fixture)
    assert [layer.id for layer in meta.layers] == [f"descriptor {r[0]}" for r in parts]
    for layer, row in zip(meta.layers, parts, strict=True):
        start, end = map(int, row[3].split("-"))
        assert layer.stored_size == end - start
        assert layer.extra["offset"] == start and start % 4096 == 0
        assert not layer.encrypted
    assert meta.layers[0].media_type == "squashfs"
    assert meta.layers[0].created_by is not None
    assert meta.layers[0].created_by.startswith("Bootstrap:")
    if fixture == "with-overlay.sif":
        assert meta.layers[1].media_type == "ext3-overlay"


@pytest.mark.parametrize(
    "name", ["empty.sif", "one-object-sbom.sif", "one-object-generic-json.sif"]
)
def test_no_primary_partition(name: str) -> None:
    with SifReader(str(SIF / "upstream-sylabs" / name)) as r:
        assert r.describe().layers == []
        with pytest.raises(UsageError):
            r.iter_entries(0)


# -- corrupt input ------------------------------------------------------------------------------

# (fixture, error from SifReader() itself, or None when describe() works and iteration fails)
CORRUPT_OPEN = {
    "bad-magic.sif": UnsupportedFormatError,
    "empty.sif": UnsupportedFormatError,
    "not-a-sif.sif": UnsupportedFormatError,
    "truncated-header.sif": CorruptImageError,
    "truncated-descriptors.sif": CorruptImageError,
}
CORRUPT_PARTITION = ["descriptor-past-eof.sif", "truncated-partition.sif"]
CORRUPT_SQUASHFS = ["bad-squashfs-magic.sif", "bad-squashfs-superblock.sif"]


def test_corrupt_table_is_complete() -> None:
    names = sorted(p.name for p in (SIF / "corrupt").iterdir())
    assert names == sorted([*CORRUPT_OPEN, *CORRUPT_PARTITION, *CORRUPT_SQUASHFS])


@pytest.mark.parametrize("name", sorted(CORRUPT_OPEN))
def test_corrupt_header_fails_on_open(name: str) -> None:
    path = SIF / "corrupt" / name
    with pytest.raises(CORRUPT_OPEN[name]) as info:
        SifReader(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", CORRUPT_PARTITION)
def test_partition_outside_file(name: str) -> None:
    path = SIF / "corrupt" / name
    _, rows = parse_siftool(
        (EXPECTED / "corrupt/reference-tool-output.txt")
        .read_text()
        .split(f"### sif/corrupt/{name}")[1]
        .split("###")[0]
    )
    with SifReader(str(path)) as r:
        meta = r.describe()
        assert meta.sif is not None
        assert [d["id"] for d in meta.sif["descriptors"]] == [int(row[0]) for row in rows]
        end = rows[-1][3].split("-")[1]
        assert len(meta.warnings) == 1 and "descriptor 4" in meta.warnings[0]
        assert end in meta.warnings[0]
        with pytest.raises(CorruptImageError) as info:
            list(r.iter_entries(0))
    msg = str(info.value)
    assert str(path) in msg and "descriptor 4" in msg and end in msg and "\n" not in msg


@pytest.mark.parametrize("name", CORRUPT_SQUASHFS)
def test_bad_squashfs_fails_on_iteration(name: str) -> None:
    pytest.importorskip("layerscope.readers.squashfs.reader")
    path = str(SIF / "corrupt" / name)
    with SifReader(path) as r:
        meta = r.describe()
        assert len(meta.layers) == 1 and len(meta.warnings) == 1
        assert path in meta.warnings[0] and "descriptor 4" in meta.warnings[0]
        with pytest.raises(LayerscopeError) as info:
            list(r.iter_entries(0))
    assert str(info.value) == meta.warnings[0]


def patched(tmp_path: Path, src: str, edits: dict[int, bytes]) -> str:
    out = tmp_path / "patched.sif"
    shutil.copy(SIF / src, out)
    with open(out, "r+b") as f:
        for at, data in edits.items():
            f.seek(at)
            f.write(data)
    return str(out)


DESC = 4096  # descriptor table offset of the local fixtures; entries are 585 bytes
OFFSET_FIELD = 4 + 1 + 4 + 4 + 4  # where Offset sits in a descriptor


def test_unused_descriptor_is_ignored(tmp_path: Path) -> None:
    path = patched(tmp_path, "alpine-like-base.sif", {DESC + 2 * 585 + 4: b"\x00"})
    meta = describe_sif(Path(path))
    assert [d["id"] for d in meta.sif["descriptors"]] == [1, 2, 4]
    assert meta.config == {} and "oci-config.json" not in meta.generic_json


def test_object_over_descriptor_table(tmp_path: Path) -> None:
    at = DESC + 3 * 585 + OFFSET_FIELD
    path = patched(tmp_path, "alpine-like-base.sif", {at: struct.pack("<q", 8192)})
    with SifReader(path) as r:
        assert "overlaps the descriptor table" in r.describe().warnings[0]
        with pytest.raises(CorruptImageError, match="descriptor 4"):
            r.iter_entries(0)


def test_bad_labels_json_is_a_warning(tmp_path: Path) -> None:
    labels = describe_sif(SIF / "stage1.sif").sif["descriptors"][1]
    assert labels["name"] == "labels.json"
    path = patched(tmp_path, "stage1.sif", {labels["offset"]: b"{{"})
    meta = describe_sif(Path(path))
    assert meta.labels == {} and "labels.json" not in meta.generic_json
    assert "not valid JSON" in meta.warnings[0]


@pytest.mark.parametrize(
    ("at", "data", "error"),
    [
        (42, b"02\x00", UnsupportedFormatError),  # SIF version
        (88, struct.pack("<q", 1 << 40), LimitExceededError),  # descriptors total
        (96, struct.pack("<q", 64), CorruptImageError),  # table over the header
        (104, struct.pack("<q", 585), CorruptImageError),  # table size < total * 585
    ],
)
def test_bad_header_fields(tmp_path: Path, at: int, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        SifReader(patched(tmp_path, "alpine-like-base.sif", {at: data}))
