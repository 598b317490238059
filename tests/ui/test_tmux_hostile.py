"""The real `layerscope view` in tmux on a sandbox whose file names hold terminal escapes:
browsing every entry, previewing them and saving one leaves the pane's title and tmux's
paste buffers as they were (`ESC ] 2` would set the title, `ESC ] 52` a paste buffer with
`set-clipboard on`), and the saved file carries the escaped name, not the raw one."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.test_hostile_text import NAMES, _write_tree
from tests.conftest import ROOT, require_tool


def test_browsing_and_saving_hostile_names_leaves_the_terminal_alone(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    tree = tmp_path / "sandbox"
    tree.mkdir()
    _write_tree(tree)
    out = tmp_path / "saved"
    out.mkdir()
    socket = f"layerscope-hostile-{os.getpid()}-{time.monotonic_ns()}"

    def run(*args: str) -> str:
        r = subprocess.run([tmux, "-L", socket, *args], capture_output=True, text=True,
                           timeout=20)  # fmt: skip
        return r.stdout

    def screen() -> str:
        return run("capture-pane", "-p", "-t", "view")

    def wait(needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = screen()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {needle!r}; screen:\n{screen()}")

    env = f"-u COLUMNS -u LINES TERM=xterm PYTHONPATH={shlex.quote(str(ROOT))}"
    command = (
        f"cd {shlex.quote(str(out))} && env {env} {shlex.quote(sys.executable)} "
        f"-m layerscope view --no-cache {shlex.quote(str(tree))}; sleep 30"
    )
    run("-f", "/dev/null", "new-session", "-d", "-s", "view", "-x", "160", "-y", "50",
        "sh -c 'printf READY; sleep 60'")  # fmt: skip
    try:
        run("set-option", "-g", "set-clipboard", "on")  # OSC 52 would make a paste buffer
        run("set-option", "-g", "allow-rename", "on")
        wait("READY")
        title = run("display-message", "-p", "-t", "view", "#{pane_title}")
        buffers = run("list-buffers")
        run("respawn-pane", "-k", "-t", "view", command)
        wait("title\\x1b]2;pwned\\x07")  # the names show, escaped
        run("send-keys", "-t", "view", "Tab")  # to the tree
        for _ in range(len(NAMES) + 10):  # every entry under the cursor, previewed
            run("send-keys", "-t", "view", "Down")
            time.sleep(0.15)
        wait("Preview: text")  # the last entry, a file named with a title sequence
        run("send-keys", "-t", "view", "s")
        wait("Save the file")
        run("send-keys", "-t", "view", "Enter")
        wait("saved 5 B")
        run("send-keys", "-t", "view", "q")
        time.sleep(0.5)
        assert run("display-message", "-p", "-t", "view", "#{pane_title}") == title
        assert run("list-buffers") == buffers
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True, timeout=20)
    saved = list(out.iterdir())
    assert len(saved) == 1 and saved[0].read_bytes() == b"data\n"
    name = os.fsencode(saved[0].name)
    assert not any(b < 0x20 or b == 0x7F for b in name), name  # the escaped name, not raw
