"""`inspect --json` lists what siftool lists; the SIF metadata objects are all there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.run import cli
from tests.conftest import FIXTURES
from tests.readers.sif_expected import UPSTREAM, parse_siftool, siftool_view, upstream_sections
from tests.reference import unique_inode_bytes


@pytest.mark.parametrize("name", UPSTREAM)
def test_inspect_json_descriptor_table_matches_siftool(
    capsysbinary: pytest.CaptureFixture[bytes], name: str
) -> None:
    r = cli(capsysbinary, "inspect", "--json", str(FIXTURES / "sif" / "upstream-sylabs" / name))
    doc = r.json()
    broken = [layer for layer in doc["layers"] if layer["error"]]
    # The legacy-signature images carry a 4-byte stand-in where a squashfs should be:
    # still listed, and the exit status says the partition is unreadable.
    assert r.code == (3 if broken else 0), r.err
    if broken:
        assert r.err.count("\n") == 1 and "squashfs" in r.err
    assert doc["schema"] == "layerscope.inspect/1"
    want_header, want_rows = parse_siftool(upstream_sections()[name])
    got_header, got_rows = siftool_view(doc["sif"])
    assert got_rows == want_rows
    assert got_header == want_header


def test_inspect_sif_metadata(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    r = cli(capsysbinary, "inspect", "--json", str(FIXTURES / "sif" / "final.sif"))
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["definition"] == (FIXTURES / "sif" / "defs" / "final.def").read_text()
    assert doc["labels"]["org.example.stage"] == "final"
    assert doc["runscript"].startswith("#!/bin/sh")
    assert "final stage of the layerscope SIF fixture chain" in doc["help"]
    assert "PKGX_CONFIG" in doc["environment"]
    [layer] = doc["layers"]
    assert layer["entries"] == 118 and layer["index"] == 0
    assert layer["stored_size"] > 0 and layer["size"] == unique_inode_bytes(
        FIXTURES / "sif" / "final.sif", tmp_path
    )


def test_inspect_signed(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    r = cli(
        capsysbinary, "inspect", "--json", str(FIXTURES / "sif" / "alpine-like-base-signed.sif")
    )
    assert r.code == 0, r.err
    [sig] = r.json()["signatures"]
    assert sig["entity"] == "12045C8C0B1004D058DE4BEDA20C27EE7FF7BA84"
    assert sig["hash"] == "SHA-256"


def test_inspect_analyze_reports_dive_numbers_and_secrets(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    ref = f"oci:{FIXTURES / 'oci' / 'app-layout'}:1.0"
    r = cli(capsysbinary, "inspect", "--json", "--analyze", ref)
    assert r.code == 0, r.err
    a = r.json()["analysis"]
    # layers 2 and 3 delete caches, secrets and a directory: dive's score drops below 1
    assert 0 < a["efficiency"] < 1 and a["wasted_bytes"] > 0
    assert a["reclaimable_bytes"] >= 131967  # the whiteout-deleted bytes of layer 2 alone
    assert a["secrets_recoverable"] >= 2
    plain = cli(capsysbinary, "inspect", "--json", ref).json()
    assert "analysis" not in plain
