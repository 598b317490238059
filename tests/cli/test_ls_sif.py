"""`ls --json` of every SIF and squashfs fixture equals unsquashfs -lln's listing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.cli.run import cli, proc
from tests.conftest import EXPECTED, FIXTURES
from tests.reference import counts, parse_lln

SIF_NAMES = ["alpine-like-base", "alpine-like-base-signed", "stage1", "stage2", "final"]
COMPRESSION = ["gzip", "lzo", "lz4", "xz", "zstd", "lzma", "uncompressed", "block4k"]

CASES: list[tuple[Path, str]] = (
    [(FIXTURES / "sif" / f"{n}.sif", f"sif/{n}") for n in SIF_NAMES]
    + [
        (FIXTURES / "sif" / "compression" / f"{c}.sif", f"sif/compression__{c}")
        for c in COMPRESSION
    ]
    + [(FIXTURES / "sqfs" / f"{n}.sqfs", f"sqfs/{n}") for n in ("plain", "tar2sqfs-ng")]
)


def _ls(capsysbinary: pytest.CaptureFixture[bytes], image: Path) -> dict[str, dict[str, Any]]:
    r = cli(capsysbinary, "ls", str(image), "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["schema"] == "layerscope.ls/1"
    return {e["path"]: e for e in doc["entries"]}


@pytest.mark.parametrize(("image", "ref"), CASES, ids=[c[1] for c in CASES])
def test_ls_json_equals_unsquashfs(
    capsysbinary: pytest.CaptureFixture[bytes], image: Path, ref: str
) -> None:
    expected = parse_lln(EXPECTED / f"{ref}.lln.txt")
    got = _ls(capsysbinary, image)
    assert got.pop("/")["type"] == "dir"  # the listing's first entry: the root (not in the file)
    assert sorted(got) == sorted(expected)
    for path, want in expected.items():
        e = got[path]
        assert e["type"] == want["type"], path
        assert e["mode"] == want["mode"], path
        assert (e["uid"], e["gid"]) == (want["uid"], want["gid"]), path
        assert want["mtime_minute"] <= e["mtime"] < want["mtime_minute"] + 60, path
        assert e["target"] == want["target"], path
        assert e["rdev"] == want["rdev"], path
        if want["type"] in ("file", "symlink"):
            assert e["size"] == want["size"], path
        assert e["layer"] == 0
    c = counts(ref)
    kinds = [e["type"] for e in got.values()]
    assert len(got) == c["total"]
    for json_name, count_name in (
        ("dir", "dir"),
        ("file", "file"),
        ("symlink", "symlink"),
        ("char", "chardev"),
        ("block", "blockdev"),
        ("fifo", "fifo"),
        ("socket", "socket"),
    ):
        assert kinds.count(json_name) == c[count_name], json_name
    assert sum(e["size"] for e in got.values() if e["type"] == "file") == c["file_bytes"]


def test_ls_json_xattrs_and_hard_links(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    got = _ls(capsysbinary, FIXTURES / "sif" / "alpine-like-base.sif")
    ref = (EXPECTED / "sif" / "alpine-like-base.xattrs.txt").read_text()
    cap = ref.split("security.capability=0x", 1)[1].split()[0]
    assert base64.b64decode(got["/bin/ping"]["xattrs"]["security.capability"]).hex() == cap
    origin = got["/etc/os-release"]["xattrs"]["user.layerscope.origin"]
    assert base64.b64decode(origin) == b"alpine-like-base"
    # rdsquashfs: both names share inode 49 with link count 2
    assert "Hard link count: 2" in ref
    assert got["/etc/ssl/cert.pem"]["links"] == 2
    assert got["/etc/ssl/certs/ca-certificates.crt"]["links"] == 2
    assert got["/etc/hosts"]["links"] == 1
    # hard-linked content counts once in the rolled-up directory size
    etc_files = [e for p, e in got.items() if p.startswith("/etc/") and e["type"] == "file"]
    assert got["/etc"]["size"] == sum(e["size"] for e in etc_files) - 2200


def test_ls_text_and_subpath(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    r = cli(capsysbinary, "ls", str(FIXTURES / "sif" / "alpine-like-base.sif"), "/dev")
    assert r.code == 0, r.err
    lines = r.out.decode().splitlines()
    assert [ln.split()[-1] for ln in lines] == ["/dev", "/dev/loop0", "/dev/null", "/dev/zero"]
    assert lines[0].startswith("drwx")  # the directory asked for, then what is in it
    assert lines[2].startswith("crw-rw-rw- ")
    assert "   1,  3 " in lines[2]  # unsquashfs: "%3d,%3d"


def test_named_things_that_do_not_exist_exit_2(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A path not in the image, a directory given to cat and a missing image file are one
    kind of mistake (a name that does not exist or is not a file): one code, 2."""
    sif = str(FIXTURES / "sif" / "alpine-like-base.sif")
    for args in (("ls", sif, "/nope"), ("cat", sif, "/etc"), ("ls", sif + ".missing")):
        r = cli(capsysbinary, *args)
        assert r.code == 2, args
        assert r.err.count("\n") == 1 and r.err.startswith("layerscope: error:"), args


def test_cat_matches_reference_listing_size(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    image = FIXTURES / "sif" / "alpine-like-base.sif"
    r = cli(capsysbinary, "cat", str(image), "/.singularity.d/Singularity")
    assert r.code == 0, r.err
    assert r.out == (FIXTURES / "sif" / "defs" / "alpine-like-base.def").read_bytes()
    r = cli(capsysbinary, "cat", str(image), "/bin/sh")
    assert r.code == 2 and "symlink" in r.err


CORRUPT = [
    *sorted((FIXTURES / "sif" / "corrupt").glob("*.sif")),
    FIXTURES / "sqfs" / "corrupt-superblock.sqfs",
]


@pytest.mark.parametrize("image", CORRUPT, ids=[p.name for p in CORRUPT])
@pytest.mark.parametrize("command", ["ls", "inspect"])
def test_corrupt_inputs_exit_3_with_one_line(image: Path, command: str) -> None:
    r = proc(command, str(image), "--json", timeout=10)
    assert r.code == 3, (r.code, r.err)
    assert r.err.count("\n") == 1, r.err
    assert r.err.startswith("layerscope: error: ")
    assert "Traceback" not in r.err
    if command == "ls":
        assert r.out == b""


def test_load_can_be_cancelled_inside_a_layer() -> None:
    import threading

    from layerscope.engine.loading import load_image
    from layerscope.errors import Cancelled
    from layerscope.readers import OpenOptions

    cancel = threading.Event()
    seen = 0

    def progress(_msg: str, _i: int, _n: int) -> None:
        nonlocal seen
        seen += 1
        cancel.set()  # cancel as soon as layer 0 starts: the layer itself must stop

    with pytest.raises(Cancelled):
        load_image(
            str(FIXTURES / "sif" / "alpine-like-base.sif"),
            OpenOptions(use_cache=False),
            progress=progress,
            cancel=cancel,
        )
    assert seen == 1
