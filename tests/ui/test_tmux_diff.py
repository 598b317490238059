"""The real `layerscope diff A B` on a terminal (tmux, TERM=xterm, NO_COLOR, 80x24): the diff
screen opens, `m` shows the metadata tab, `q` quits with diff(1)'s status 1."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from layerscope.ui.keys import DIFF_KEYS, VIEW_KEYS
from tests.conftest import ROOT, require_tool
from tests.ui.test_tmux import Term

A, B = "fixtures/sif/stage2.sif", "fixtures/sif/final.sif"


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Term]:
    tmux = require_tool("tmux")
    socket = f"layerscope-diff-{os.getpid()}-{time.monotonic_ns()}"
    rc_file = tmp_path / "rc"
    env = f"-u COLUMNS -u LINES TERM=xterm NO_COLOR=1 PYTHONPATH={shlex.quote(str(ROOT))}"
    command = (
        f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
        f"-m layerscope diff {A} {B}; echo $? > {shlex.quote(str(rc_file))}; sleep 30"
    )
    t = Term(tmux, socket, rc_file)
    # the session is named "view": Term sends its keys there
    t.run("-f", "/dev/null", "new-session", "-d", "-s", "view", "-x", "80", "-y", "24", command)
    try:
        yield t
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True, timeout=20)


def test_diff_screen_metadata_and_exit_status(term: Term) -> None:
    t = term
    t.has("A → B: changes")
    t.has("Diff summary")
    t.has("M      ")  # a modified entry's marker, readable without colour
    t.key("m")
    t.has("Metadata differences")
    t.has("Definition file")
    t.key("m")
    t.lacks("Metadata differences")
    t.key("question_mark")
    t.has("Metadata differences (definition")  # the help screen lists `m`
    t.key("escape")
    t.lacks("Where")
    # every key the diff screen adds to the view's was sent (the view's are in test_tmux)
    new = {n for k in DIFF_KEYS if k not in VIEW_KEYS for n in k.keys.split(",")}
    assert new <= t.sent
    t.key("q")
    assert t.exit_status() == 1
