"""The public Python API: what the README shows works, and it agrees with the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import layerscope
from layerscope.errors import EntryNotFoundError, ExitCode, NotFoundError, exit_code_for
from tests.cli.run import cli
from tests.conftest import FIXTURES, ROOT

FINAL = str(FIXTURES / "sif" / "final.sif")
STAGE1 = str(FIXTURES / "sif" / "stage1.sif")


def test_readme_example_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S)
    assert code is not None
    text = code.group(1).replace('"final.sif"', repr(FINAL)).replace('"stage1.sif"', repr(STAGE1))
    r = subprocess.run([sys.executable, "-c", text], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "/etc/os-release" in r.stdout


def test_open_ls_read_agree_with_the_cli(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    listed = cli(capsysbinary, "ls", "--json", FINAL, "/etc").json()["entries"]
    with layerscope.open(FINAL) as img:
        assert img.format == "sif" and len(img.layers) == 1
        got = list(img.ls("/etc"))
        assert [e.path for e in got] == [e["path"] for e in listed]
        for e, want in zip(got, listed, strict=True):
            assert (e.mode, e.uid, e.gid) == (want["mode"], want["uid"], want["gid"])
            if want["type"] == "file":
                assert e.size == want["size"]
        data = img.read_path("/.singularity.d/Singularity")
    assert data == (FIXTURES / "sif" / "defs" / "final.def").read_bytes()


def test_diff_and_analyze_agree_with_the_cli(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    doc = cli(capsysbinary, "diff", "--json", STAGE1, FINAL).json()
    check = cli(capsysbinary, "check", "--json", FINAL).json()["analysis"]
    with layerscope.open(STAGE1) as a, layerscope.open(FINAL) as b:
        d = a.diff(b)
        assert sorted(p for p, _ in d.tree.added) == sorted(e["path"] for e in doc["added"])
        assert sorted(m.path for m in d.tree.modified) == sorted(m["path"] for m in doc["modified"])
        report = b.analyze()
    assert report.final_bytes == check["sizes"]["final_bytes"]
    assert report.waste.total == check["sizes"]["reclaimable_bytes"]


def test_errors_carry_their_exit_codes() -> None:
    with pytest.raises(NotFoundError) as missing:
        layerscope.open(FINAL + ".nope")
    assert exit_code_for(missing.value) == ExitCode.USAGE
    with layerscope.open(FINAL) as img, pytest.raises(EntryNotFoundError) as absent:
        img.entry("/no/such/file")
    assert exit_code_for(absent.value) == ExitCode.USAGE


def test_import_is_light() -> None:
    code = (
        "import sys, json, layerscope\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('layerscope'))))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ["layerscope"]
