"""A reader of stdout that goes away never changes the exit status (issue: `| head -1`).

`set -o pipefail` makes a CI step fail on any non-zero status in a pipeline, so a passing
`check` piped into `head` must stay 0 and a failing one 1, whatever was written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

SIF = str(FIXTURES / "sif" / "alpine-like-base.sif")
STAGES = (str(FIXTURES / "sif" / "stage1.sif"), str(FIXTURES / "sif" / "stage2.sif"))


def _closed_stdout(*args: str) -> tuple[int, str]:
    """Run with stdout a pipe whose reader is gone before anything is written: every
    write fails with EPIPE, deterministically (no race with a `head` exiting)."""
    rd, wr = os.pipe()
    os.close(rd)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "layerscope", *args],
            cwd=ROOT,
            stdout=wr,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    finally:
        os.close(wr)
    return r.returncode, r.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("ls", SIF), 0),
        (("ls", "--json", SIF), 0),
        (("inspect", SIF), 0),
        (("cat", SIF, "/.singularity.d/Singularity"), 0),
        (("check", SIF), 0),
        (("check", SIF, "--rule", "max-image-size=1"), 1),
        (("diff", "--summary", *STAGES), 1),
        (("diff", "--json", SIF, SIF), 0),
    ],
)
def test_closed_pipe_keeps_the_exit_status(args: tuple[str, ...], code: int) -> None:
    got, err = _closed_stdout(*args)
    assert got == code, err
    assert "Traceback" not in err and "Broken pipe" not in err, err


def test_head_under_pipefail(tmp_path: Path) -> None:
    """The way a CI step writes it: a listing far larger than a pipe's buffer, cut short."""
    sandbox = tmp_path / "sandbox"
    for i in range(40):
        d = sandbox / f"dir-{i:03d}"
        d.mkdir(parents=True)
        for j in range(100):
            (d / f"file-with-a-long-name-{j:04d}.txt").write_bytes(b"x")
    script = (
        "set -o pipefail; "
        f'"{sys.executable}" -m layerscope ls "{sandbox}" | head -1 >/dev/null; echo "ls=$?"; '
        f'"{sys.executable}" -m layerscope check "{sandbox}" | head -1 >/dev/null; '
        'echo "check=$?"'
    )
    r = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.stdout.split() == ["ls=0", "check=0"], r.stdout + r.stderr
