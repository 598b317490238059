"""`layerscope diff` against the sqfsdiff/umoci references in fixtures/expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.run import cli
from tests.conftest import EXPECTED, FIXTURES

# sqfsdiff's words for what changed -> ours ("inode format" is squashfs-internal: no change).
SQFSDIFF_WORDS = {
    "content": "content",
    "permissions": "mode",
    "ownership": "owner",
    "link target": "target",
    "inode format (link count)": None,
}
SIF_PAIRS = sorted(p.name for p in (EXPECTED / "sif").glob("*__*.changes.json"))


def _paths(doc: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    return (
        {e["path"] for e in doc["added"]},
        {e["path"] for e in doc["removed"]},
        {e["path"] for e in doc["modified"]},
    )


def _diff(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> tuple[int, dict[str, Any]]:
    r = cli(capsysbinary, "diff", *args, "--json")
    assert r.code in (0, 1), r.err
    doc = r.json()
    assert doc["schema"] == "layerscope.diff/2"
    return r.code, doc


@pytest.mark.parametrize("name", SIF_PAIRS)
def test_sif_pairs_equal_sqfsdiff(capsysbinary: pytest.CaptureFixture[bytes], name: str) -> None:
    a, b = name.removesuffix(".changes.json").split("__")
    expected = json.loads((EXPECTED / "sif" / name).read_text())
    code, doc = _diff(
        capsysbinary, str(FIXTURES / "sif" / f"{a}.sif"), str(FIXTURES / "sif" / f"{b}.sif")
    )
    assert code == 1
    assert _paths(doc) == _paths(expected)
    want = {
        m["path"]: {SQFSDIFF_WORDS[w] for w in m["what"]} - {None} for m in expected["modified"]
    }
    for m in doc["modified"]:
        # sqfsdiff says "content" where sizes differ too; our "changes" add "size" then.
        assert set(m["changes"]) - {"size"} == want[m["path"]], m["path"]
    summary = doc["summary"]
    assert summary["added"] == len(expected["added"])
    assert summary["bytes_added"] == sum(
        e["size"] or 0 for e in expected["added"] if e["type"] == "file"
    )
    assert summary["bytes_removed"] == sum(
        e["size"] or 0 for e in expected["removed"] if e["type"] == "file"
    )
    # The definition files differ: a unified diff of them is reported.
    assert doc["metadata"]["definition"].startswith("--- a/Singularity")


def test_sif_definition_diff_content(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    _, doc = _diff(
        capsysbinary, str(FIXTURES / "sif" / "stage2.sif"), str(FIXTURES / "sif" / "final.sif")
    )
    old = (FIXTURES / "sif" / "defs" / "stage2.def").read_text().splitlines()
    new = (FIXTURES / "sif" / "defs" / "final.def").read_text().splitlines()
    text = doc["metadata"]["definition"].splitlines()
    removed = {ln[1:] for ln in text if ln.startswith("-") and not ln.startswith("---")}
    added = {ln[1:] for ln in text if ln.startswith("+") and not ln.startswith("+++")}
    removed.discard("")
    added.discard("")
    assert removed and removed <= set(old) and not removed & set(new)
    assert added and added <= set(new) and not added & set(old)


def test_same_image_sif_vs_bare_squashfs(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, doc = _diff(
        capsysbinary,
        str(FIXTURES / "sif" / "alpine-like-base.sif"),
        str(FIXTURES / "sqfs" / "plain.sqfs"),
    )
    assert (doc["added"], doc["removed"], doc["modified"], doc["metadata"]) == ([], [], [], {})
    assert code == 0


def test_identical_image_exit_0(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    img = str(FIXTURES / "sif" / "stage1.sif")
    code, doc = _diff(capsysbinary, img, img)
    assert code == 0 and doc["summary"]["added"] == 0


def test_compare_and_ignore_fields(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    a, b = str(FIXTURES / "sif" / "stage2.sif"), str(FIXTURES / "sif" / "final.sif")
    _, doc = _diff(capsysbinary, a, b, "--ignore", "owner,mode")
    assert "/opt/data/model.sha256" not in {m["path"] for m in doc["modified"]}
    assert "/usr/local/bin/pkgx-helper" not in {m["path"] for m in doc["modified"]}
    r = cli(capsysbinary, "diff", a, b, "--compare", "colour")
    assert r.code == 2 and "unknown field" in r.err


def test_overlay_partition_changes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    img = str(FIXTURES / "sif" / "with-overlay.sif")
    code, doc = _diff(capsysbinary, img, "--layer", "1")
    assert code == 1
    added, removed, modified = _paths(doc)
    assert added == {
        "/opt", "/opt/tools", "/opt/tools/bin", "/opt/tools/bin/tool",
        "/home/user/overlay-note.txt", "/usr/share/doc/layerscope-base/NEW.txt",
    }  # fmt: skip
    assert removed == {"/etc/motd", "/usr/share/doc/layerscope-base/README"}
    assert "/etc/hostname" in modified
    r = cli(capsysbinary, "cat", img, "/etc/hostname")
    assert r.out == b"layerscope-overlay\n"


def _oci_layer_cases() -> list[tuple[str, int, Path]]:
    out = []
    for p in sorted((EXPECTED / "oci").glob("app-*.layer*.changes.json")):
        tag = p.name.split(".layer")[0].removeprefix("app-")
        n = int(p.name.split(".layer")[1].split(".")[0])
        out.append((tag, n, p))
    return out


@pytest.mark.parametrize(("tag", "n", "ref"), _oci_layer_cases(), ids=lambda v: str(v)[-30:])
def test_oci_layer_changes(
    capsysbinary: pytest.CaptureFixture[bytes], tag: str, n: int, ref: Path
) -> None:
    expected = json.loads(ref.read_text())
    # expected files number layers from 1; --layer is 0-based
    _, doc = _diff(
        capsysbinary, f"oci:{FIXTURES / 'oci' / 'app-layout'}:{tag}", "--layer", str(n - 1)
    )
    assert _paths(doc) == _paths(expected)


OCI_SOURCES = {
    "layout": f"oci:{FIXTURES / 'oci' / 'app-layout'}:1.0",
    "oci-archive": f"oci-archive:{FIXTURES / 'oci' / 'app-1.0.oci-archive.tar'}",
    "docker-archive": f"docker-archive:{FIXTURES / 'docker' / 'app-1.0.docker-archive.tar'}",
    "zstd": f"oci:{FIXTURES / 'oci' / 'app-1.0-zstd'}",
    "dir": f"dir:{FIXTURES / 'dir' / 'app-1.0-uncompressed'}",
}


def test_app_10_vs_11(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    expected = json.loads((EXPECTED / "oci" / "app-1.0__app-1.1.changes.json").read_text())
    layout = FIXTURES / "oci" / "app-layout"
    code, doc = _diff(capsysbinary, f"oci:{layout}:1.0", f"oci:{layout}:1.1")
    assert code == 1
    assert _paths(doc) == _paths(expected)
    labels = doc["metadata"]["config"]["Labels"]["changed"]
    assert labels["org.opencontainers.image.version"] == {"old": "1.0", "new": "1.1"}
    assert "history" in doc["metadata"]
    # layer 0 is the same blob in both: recognised as shared
    assert len(doc["shared_layers"]) == 1


@pytest.mark.parametrize("other", ["oci-archive", "docker-archive", "zstd", "dir"])
def test_same_image_in_two_formats(capsysbinary: pytest.CaptureFixture[bytes], other: str) -> None:
    code, doc = _diff(capsysbinary, OCI_SOURCES["layout"], OCI_SOURCES[other])
    assert (doc["added"], doc["removed"], doc["modified"]) == ([], [], [])
    assert code == 0, doc["metadata"]


def test_undecodable_names_in_diff_json(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    """Names that are not UTF-8 come out JSON-escaped, in added, removed and modified."""
    import io
    import tarfile

    def layer(name: str, members: dict[str, bytes]) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, errors="surrogateescape") as t:
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return path

    a = layer("a.tar", {"d/same-\udcff": b"x", "d/gone-\udcfe": b"1"})
    b = layer("b.tar", {"d/same-\udcff": b"yy", "d/new-\udcfd": b"2"})
    r = cli(capsysbinary, "diff", "--json", str(a), str(b))
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert [e["path"] for e in doc["added"]] == ["/d/new-\udcfd"]
    assert [e["path"] for e in doc["removed"]] == ["/d/gone-\udcfe"]
    assert [(m["path"], m["old"]["size"], m["new"]["size"]) for m in doc["modified"]] == [
        ("/d/same-\udcff", 1, 2)
    ]
    assert doc["summary"]["bytes_added"] == 1 and doc["summary"]["bytes_removed"] == 1
