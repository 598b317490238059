"""`ls --json` of every OCI/Docker encoding equals the rootfs `umoci unpack` made."""

from __future__ import annotations

import json

import pytest

from tests.cli.run import cli
from tests.cli.test_diff import OCI_SOURCES
from tests.conftest import EXPECTED, FIXTURES
from tests.reference import parse_rootfs_tsv

CASES = [(name, ref, "1.0") for name, ref in OCI_SOURCES.items()] + [
    ("layout-1.1", f"oci:{FIXTURES / 'oci' / 'app-layout'}:1.1", "1.1"),
    (
        "docker-archive-1.1",
        f"docker-archive:{FIXTURES / 'docker' / 'app-1.1.docker-archive.tar'}",
        "1.1",
    ),
]


@pytest.mark.parametrize(("name", "ref", "tag"), CASES, ids=[c[0] for c in CASES])
def test_merged_tree_equals_umoci_rootfs(
    capsysbinary: pytest.CaptureFixture[bytes], name: str, ref: str, tag: str
) -> None:
    r = cli(capsysbinary, "ls", ref, "--json")
    assert r.code == 0, r.err
    got = {e["path"]: e for e in r.json()["entries"]}
    root = got.pop("/")  # a listing names the path asked for first (the reference has no root)
    assert root["type"] == "dir" and r.json()["entries"][0] is not None
    want = parse_rootfs_tsv(EXPECTED / "oci" / f"app-{tag}.rootfs.tsv")
    assert sorted(got) == sorted(want)
    for path, w in want.items():
        e = got[path]
        assert (e["type"], e["mode"], e["uid"], e["gid"], e["target"]) == (
            w["type"], w["mode"], w["uid"], w["gid"], w["target"],
        ), path  # fmt: skip
        if w["type"] in ("file", "symlink"):
            assert e["size"] == w["size"], path
        if w["type"] == "file":
            assert e["links"] == w["links"], path
    counts = json.loads((EXPECTED / "oci" / f"app-{tag}.rootfs.counts.json").read_text())
    assert len(got) == counts["total"]


def test_layer_n_tree_and_cat(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    ref = OCI_SOURCES["layout"]
    r = cli(capsysbinary, "ls", ref, "/root", "--layer", "1", "--json")
    assert r.code == 0, r.err
    paths = {e["path"] for e in r.json()["entries"]}
    assert "/root/.ssh/id_rsa" in paths  # added in layer 1, whited out in layer 2
    r = cli(capsysbinary, "ls", ref, "/root/.ssh", "--json")
    assert r.code == 2  # a path not in the image: a name that does not exist
    r = cli(capsysbinary, "cat", ref, "/etc/app/config.yml")
    assert r.code == 0 and len(r.out) == 431


def test_single_layer_blobs_show_whiteouts(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    for blob in ("app-1.0-layer3-whiteouts.tar.gz", "app-1.0-layer3-whiteouts.tar.zst"):
        r = cli(capsysbinary, "ls", str(FIXTURES / "oci" / "layers" / blob), "--json")
        assert r.code == 0, r.err
        names = {e["path"].rsplit("/", 1)[1] for e in r.json()["entries"]}
        tv = (EXPECTED / "oci" / "app-1.0.layer3.tv.txt").read_text()
        assert {n for n in names if n.startswith(".wh.")} == {
            line.rsplit("/", 1)[1] for line in tv.splitlines() if "/.wh." in line
        }


def test_truncated_layer_exits_3_naming_it(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    blob = FIXTURES / "oci" / "layers" / "quirks" / "umoci-0.4.7-insert-opaque-truncated.tar.gz"
    r = cli(capsysbinary, "ls", str(blob))
    assert r.code == 3
    assert r.err.count("\n") == 1 and blob.name in r.err


def test_multiarch_platforms(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    layout = f"oci:{FIXTURES / 'oci' / 'multiarch-layout'}"
    for plat, arch in (
        ("linux/amd64", "amd64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/arm64", "arm64"),
    ):
        r = cli(capsysbinary, "cat", layout, "/etc/arch", "--platform", plat)
        assert r.code == 0, r.err
        assert r.out.strip() == arch.encode()
    r = cli(capsysbinary, "ls", layout, "--platform", "linux/s390x")
    assert r.code == 2
    assert "linux/amd64" in r.err and "linux/arm64" in r.err
