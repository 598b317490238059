"""Text an image's author wrote never drives the user's terminal.

Names, link targets, labels, environment values, history lines, definition files and
runscripts holding ESC sequences (window title, OSC 52 clipboard, clear screen), BEL, CR,
LF, C1 controls, bytes that are not UTF-8 and bidirectional overrides go through every text
command and every error message; the output must hold no raw control byte (the escapes
show as `\\x1b`, `\\n`...), decode as UTF-8, and keep one line per entry. The images are
built here by real tools: a sandbox directory, mksquashfs + siftool for a SIF, umoci for an
OCI layout."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.cli.run import Result, proc
from tests.conftest import require_tool

# File names as bytes (what a file system and a tar member can hold)
NAMES = [
    b"title\x1b]2;pwned\x07",
    b"clip\x1b]52;c;cHduZWQ=\x07",
    b"clear\x1b[2J\x1b[H",
    b"cr\rfake",
    b"lf\nfake-entry",
    "c1\u009b31m".encode(),  # a C1 CSI, as UTF-8
    b"raw\x9b31m",  # the same byte raw: not UTF-8
    b"bad\xff\xfe",
    "bidi\u202egnp.exe".encode(),
    b"del\x7fbel\x07",
]
# Text for labels, environment, history, definition files, runscripts
TEXT = "x\x1b]2;pwned\x07 \x1b]52;c;cHduZWQ=\x07 \x1b[2J\r\nfake \u009b31m \u202eevil \x07"

# What may appear in output: printable text, newline (line ends) and tab (indentation in
# definition files and scripts). Everything below 0x20 else, DEL, C1 and bidi controls
# must have been escaped.
_RAW = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def assert_no_raw_control(data: bytes, what: str) -> None:
    text = data.decode("utf-8")  # strict: an undecodable byte must not reach the terminal
    found = _RAW.search(text)
    assert found is None, (
        f"{what}: raw {found.group()!r} in {text[max(found.start() - 40, 0) : found.end() + 40]!r}"
    )


def assert_clean(r: Result, what: str) -> None:
    assert "Traceback" not in r.err, f"{what}: {r.err}"
    assert_no_raw_control(r.out, what + " stdout")
    assert_no_raw_control(r.err.encode("utf-8", "surrogateescape"), what + " stderr")


def _write_tree(root: Path) -> None:
    broot = os.fsencode(root)
    os.makedirs(os.path.join(broot, b"dir"))
    for name in NAMES:
        with open(os.path.join(broot, b"dir", name), "wb") as f:
            f.write(b"data\n")
    os.symlink(b"target\x1b]2;link\x07\nfake", os.path.join(broot, b"dir", b"link"))
    meta = root / ".singularity.d"
    meta.mkdir()
    (meta / "labels.json").write_text(json.dumps({f"k{TEXT}": TEXT, "plain": "value"}))
    (meta / "runscript").write_text(f"#!/bin/sh\n\techo {TEXT}\n")
    (meta / "Singularity").write_text(f"Bootstrap: scratch\n%runscript\n\techo {TEXT}\n")
    env = meta / "env"
    env.mkdir()
    (env / "90-environment.sh").write_text(f"export HOSTILE='{TEXT}'\n")


def _sif(tree: Path, work: Path) -> Path:
    mksquashfs, siftool = require_tool("mksquashfs"), require_tool("siftool")
    sqfs = work / "root.sqfs"
    subprocess.run([mksquashfs, str(tree), str(sqfs), "-noappend", "-quiet", "-all-root"],
                   check=True, capture_output=True)  # fmt: skip
    sif = work / "hostile.sif"
    deffile = work / "def"
    deffile.write_text(f"Bootstrap: scratch\n%labels\n\tk {TEXT}\n")
    labels = work / "labels.json"
    labels.write_text(json.dumps({"org.label-schema.x": TEXT}))
    run = [siftool]
    subprocess.run([*run, "new", str(sif)], check=True, capture_output=True)
    subprocess.run([*run, "add", "--datatype", "1", str(sif), str(deffile)],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([*run, "add", "--datatype", "3", str(sif), str(labels)],
                   check=True, capture_output=True)  # fmt: skip
    partition = ["--datatype", "4", "--parttype", "2", "--partfs", "1", "--partarch", "2"]
    subprocess.run([*run, "add", *partition, str(sif), str(sqfs)], check=True, capture_output=True)
    return sif


def _oci(work: Path) -> str:
    umoci = require_tool("umoci")
    layout = work / "layout"
    layer = work / "layer.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
        for name in NAMES:
            info = tarfile.TarInfo("etc/" + name.decode("utf-8", "surrogateescape"))
            info.size = 5
            t.addfile(info, io.BytesIO(b"data\n"))
        link = tarfile.TarInfo("etc/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "target\x1b]2;link\x07\nfake"
        t.addfile(link)

    def run(*args: str) -> None:
        subprocess.run([umoci, *args], check=True, capture_output=True)

    run("init", "--layout", str(layout))
    run("new", "--image", f"{layout}:t")
    run("raw", "add-layer", "--image", f"{layout}:t", str(layer))
    run("config", "--image", f"{layout}:t",
        "--config.label", f"k{TEXT}={TEXT}",
        "--config.env", f"HOSTILE={TEXT}",
        "--history.created_by", f"RUN {TEXT}")  # fmt: skip
    return f"oci:{layout}:t"


@pytest.fixture(scope="module")
def refs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("hostile")
    tree = work / "sandbox"
    tree.mkdir()
    _write_tree(tree)
    return {"sandbox": str(tree), "sif": str(_sif(tree, work)), "oci": _oci(work)}


KINDS = ("sandbox", "sif", "oci")


@pytest.mark.parametrize("kind", KINDS)
def test_ls_text_escapes_names_and_keeps_one_line_per_entry(
    refs: dict[str, str], kind: str
) -> None:
    text = proc("ls", "--no-cache", refs[kind])
    assert text.code == 0, text.err
    assert_clean(text, f"ls {kind}")
    entries = proc("ls", "--no-cache", "--json", refs[kind]).json()["entries"]
    assert len(text.out.decode().splitlines()) == len(entries)
    out = text.out.decode()
    assert "\\x1b]2;pwned\\x07" in out and "lf\\nfake-entry" in out and "\\u202e" in out
    # JSON stays exact: every byte of the names round-trips
    names = {e["path"].rsplit("/", 1)[1] for e in entries}
    assert {n.decode("utf-8", "surrogateescape") for n in NAMES} <= names


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "command",
    [("inspect",), ("inspect", "--analyze"), ("check",), ("check", "--rule", "no-secrets=true")],
    ids=" ".join,
)
def test_reports_escape_image_text(
    refs: dict[str, str], kind: str, command: tuple[str, ...]
) -> None:
    r = proc(*command, "--no-cache", refs[kind])
    assert r.code in (0, 1), r.err
    assert_clean(r, f"{' '.join(command)} {kind}")


def test_inspect_shows_the_escapes(refs: dict[str, str]) -> None:
    out = proc("inspect", "--no-cache", refs["oci"]).out.decode()
    assert "\\x1b]52;c;cHduZWQ=\\x07" in out  # the label value, visibly escaped
    out = proc("inspect", "--no-cache", refs["sif"]).out.decode()
    assert "\\x1b]2;pwned\\x07" in out  # definition file and labels


@pytest.mark.parametrize(("a", "b"), [("sandbox", "sif"), ("sif", "oci"), ("oci", "sandbox")])
def test_diff_summary_escapes(refs: dict[str, str], a: str, b: str) -> None:
    r = proc("diff", "--summary", "--no-cache", refs[a], refs[b])
    assert r.code == 1, r.err
    assert_clean(r, f"diff {a} {b}")


@pytest.mark.parametrize("kind", KINDS)
def test_error_messages_escape_names(refs: dict[str, str], kind: str) -> None:
    missing = "/dir/gone\x1b]2;pwned\x07\nlayerscope: fake second line"
    for args in (("cat", refs[kind], missing), ("ls", refs[kind], missing),
                 ("cat", refs[kind], "/dir/link")):  # fmt: skip
        r = proc(*args, "--no-cache")
        assert r.code == 2, r.err
        assert_clean(r, " ".join(args))
        assert r.err.count("\n") == 1, r.err  # one line, however many newlines the name held


def test_missing_image_name_is_escaped(tmp_path: Path) -> None:
    r = proc("ls", str(tmp_path / "gone\x1b[2J\x9b.sif"))
    assert r.code == 2
    assert_clean(r, "ls missing image")
