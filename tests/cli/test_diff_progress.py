"""`layerscope diff A B` compares contents with a progress line on stderr when stderr is a
terminal (a real pty here), erased at the end; what it prints on stdout (text or --json)
is the whole answer either way, and it matches sqfsdiff."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.pending_stages import Stage, build_stages, sqfsdiff_differs


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> list[Stage]:
    return build_stages(tmp_path_factory.mktemp("cli-stages"))


def run(args: list[str], cache: Path, tty_stderr: bool) -> tuple[int, bytes, str]:
    """The real CLI; stdout piped, stderr a pty or a pipe. Every run with its own cache
    dir, so each one compares contents itself."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "layerscope", *args]
    if not tty_stderr:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, env=env, timeout=300,
                           stdin=subprocess.DEVNULL)  # fmt: skip
        return r.returncode, r.stdout, r.stderr.decode()
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=slave, env=env,
                             stdin=subprocess.DEVNULL)  # fmt: skip
        os.close(slave)
        err = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            err += chunk
        assert p.stdout is not None
        out = p.stdout.read()
        code = p.wait(timeout=300)
    finally:
        os.close(master)
    return code, out, err.decode()


@pytest.mark.parametrize("as_json", [True, False])
def test_progress_on_a_terminal_and_the_same_answer(
    stages: list[Stage], tmp_path: Path, as_json: bool
) -> None:
    args = ["diff", str(stages[0].sif), str(stages[1].sif)] + (["--json"] if as_json else [])
    code_tty, out_tty, err_tty = run(args, tmp_path / "a", tty_stderr=True)
    code_pipe, out_pipe, err_pipe = run(args, tmp_path / "b", tty_stderr=False)
    assert code_tty == code_pipe == 1, (err_tty, err_pipe)
    assert out_tty == out_pipe  # the whole answer, progress or not
    assert "comparing contents" not in err_pipe  # piped stderr: no progress line
    assert "comparing contents: " in err_tty and " files, " in err_tty
    assert err_tty.rstrip("\n").endswith("\r\x1b[K")  # erased at the end
    if as_json:
        doc = json.loads(out_tty)
        content = {m["path"] for m in doc["modified"] if "content" in m["changes"]}
        assert content == sqfsdiff_differs(stages[0].sqfs, stages[1].sqfs)
        assert "pending" not in out_tty.decode()
