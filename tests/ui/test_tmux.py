"""The real `layerscope view` in a real terminal (tmux, TERM=xterm, NO_COLOR): every default
key is sent as bytes and its effect read back with `capture-pane`; `q` quits with status 0.

Every key name of ui/keys.py must be exercised here (the last assertion), so a new binding
cannot be added without checking that a terminal can send it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerscope.ui.keys import ALL_KEYS
from tests.conftest import ROOT, require_tool

BASE = "fixtures/sif/alpine-like-base.sif"
# Textual key name -> tmux key name
TMUX = {
    "tab": "Tab",
    "shift+tab": "BTab",
    "escape": "Escape",
    "enter": "Enter",
    "space": "Space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pageup": "PPage",
    "pagedown": "NPage",
    "home": "Home",
    "end": "End",
    "f1": "F1",
    "slash": "/",
    "question_mark": "?",
    "ctrl+space": "C-Space",
    "ctrl+@": "C-Space",
}


TOP_LIB = re.compile(r"kB [█▉▊▋▌▍▎▏ ]+├── lib")  # /lib, open, on the first level


def top_lib(screen: str) -> bool:
    return TOP_LIB.search(screen) is not None


def tmux_key(name: str) -> str:
    if name in TMUX:
        return TMUX[name]
    if name.startswith("ctrl+"):
        return "C-" + name[5:]
    return name


class Term:
    def __init__(self, tmux: str, socket: str, rc_file: Path) -> None:
        self.tmux = tmux
        self.socket = socket
        self.rc_file = rc_file
        self.sent: set[str] = set()

    def run(self, *args: str) -> str:
        return subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "view")

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")

    def has(self, needle: str, timeout: float = 15) -> str:
        return self.wait(lambda s: needle in s, repr(needle), timeout)

    def lacks(self, needle: str) -> str:
        return self.wait(lambda s: needle not in s, f"no {needle!r}")

    def key(self, *names: str) -> None:
        for name in names:
            self.sent.add(name)
            self.run("send-keys", "-t", "view", tmux_key(name))

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "view", "-l", text)

    def exit_status(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rc_file.exists() and self.rc_file.read_text().strip():
                return int(self.rc_file.read_text())
            time.sleep(0.05)
        raise AssertionError("the app did not exit; screen:\n" + self.screen())


@pytest.fixture
def term(tmp_path: Path) -> Iterator[Term]:
    tmux = require_tool("tmux")
    socket = f"layerscope-test-{os.getpid()}-{time.monotonic_ns()}"  # never reuse a dying one
    rc_file = tmp_path / "rc"
    # COLUMNS/LINES leak into tmux from some parents and would pin the app to 80x24
    env = f"-u COLUMNS -u LINES TERM=xterm NO_COLOR=1 PYTHONPATH={shlex.quote(str(ROOT))}"
    command = (
        f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.quote(sys.executable)} "
        f"-m layerscope view {BASE}; echo $? > {shlex.quote(str(rc_file))}; sleep 30"
    )
    t = Term(tmux, socket, rc_file)
    t.run("-f", "/dev/null", "new-session", "-d", "-s", "view", "-x", "120", "-y", "40", command)
    try:
        yield t
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True, timeout=20)


def test_every_key_under_tmux(term: Term) -> None:
    t = term
    t.has("Bootstrap: docker From: alpine")
    t.wait(top_lib, "/lib at the top")
    t.has("Preview: dir")
    # panes and cursor
    t.key("tab", "j")
    t.has("Preview: hex")  # /lib/ld-musl-x86_64.so.1
    t.key("k")
    t.has("Preview: dir")
    t.key("down")
    t.has("Preview: hex")
    t.key("up")
    t.has("Preview: dir")
    t.key("space")
    t.has("⊕ lib")
    t.key("enter")
    t.lacks("⊕ lib")
    t.key("h")
    t.has("⊕ lib")
    t.key("l")
    t.lacks("⊕ lib")
    t.key("right")
    t.has("Preview: hex")
    t.key("left")
    t.has("Preview: dir")
    t.key("end")
    t.wait(lambda s: not top_lib(s), "/lib scrolled away")
    t.key("home")
    t.wait(top_lib, "/lib at the top")
    t.key("pagedown")
    t.wait(lambda s: not top_lib(s), "/lib scrolled away")
    t.key("pageup")
    t.wait(top_lib, "/lib at the top")
    # columns, sort, modes
    t.key("ctrl+b")
    t.has("A drwxr-xr-x")
    t.key("ctrl+b")
    t.lacks("A drwxr-xr-x")
    t.key("ctrl+o")
    t.has("sort: name")
    t.key("ctrl+o")
    t.has("sort: size")
    t.key("ctrl+a")
    t.has("showing: A M D U")
    t.key("ctrl+l")
    t.lacks("showing: A M D U")
    for key, shows in (
        ("1", "showing: M D"),
        ("1", "showing: A M D"),
        ("2", "showing: A M ─"),
        ("2", "showing: A M D"),
        ("ctrl+r", "showing: A M ─"),
        ("ctrl+r", "showing: A M D"),
        ("3", "showing: A D"),
        ("3", "showing: A M D"),
        ("4", "showing: A M D U"),
        ("4", "showing: A M D ─"),
        ("ctrl+u", "showing: A M D U"),
        ("ctrl+u", "showing: A M D ─"),
    ):
        t.key(key)
        t.has(shows)
    # collapse / expand all: c, and dive's Ctrl+Space (a NUL byte)
    for key in ("c", "ctrl+space"):
        t.key(key)
        t.wait(lambda s: "⊕ lib" in s and "busybox" not in s, "everything closed")
        t.key(key)
        t.has("busybox")
    t.sent.add("ctrl+@")  # Ctrl+Space sends NUL, which Textual names ctrl+@
    # filter
    t.key("slash")
    t.has("regex on the full path")
    t.type("os-release$")
    t.key("enter")
    t.wait(lambda s: "os-release" in s and "busybox" not in s, "filtered tree")
    t.key("j")
    t.has("Preview: text")
    t.key("x")
    t.has("Preview: hex")
    t.key("x")
    t.has("Preview: text")
    t.key("p")
    t.lacks("Preview:")
    t.key("p")
    t.has("Preview: text")
    t.key("escape")
    t.has("busybox")
    t.key("ctrl+f")
    t.has("regex on the full path")
    t.key("escape")
    t.lacks("regex on the full path")
    # dialogs and screens
    t.key("s")
    t.has("Save the file")
    t.key("escape")
    t.lacks("Save the file")
    t.key("i")
    t.has("SIF descriptors")
    t.key("i")
    t.lacks("SIF descriptors")
    t.has("f: findings")  # the analysis is done: the image details say so
    t.key("f")
    t.has("Largest files")
    t.key("f")
    t.lacks("Largest files")
    t.key("r")  # the portability panel: read in a worker, opened when it is done
    t.has("ELF files: 6 amd64", timeout=60)
    t.key("r")
    t.lacks("ELF files: 6 amd64")
    t.key("g")  # what made it big: counted in a worker, opened when it is done
    t.has("Directories that grew most", timeout=60)
    t.key("g")
    t.lacks("Directories that grew most")
    for key in ("question_mark", "f1"):
        t.key(key)
        t.has("Show/hide attributes")
        t.key("escape")
        t.lacks("Show/hide attributes")
    t.key("ctrl+p")
    t.has("Search for commands")
    t.key("escape")
    t.lacks("Search for commands")
    # shift+tab: back to the layers pane, where j no longer moves the tree
    t.key("home")
    t.has("Preview: dir")
    t.key("shift+tab", "j")
    time.sleep(0.3)
    assert "Preview: dir" in t.screen()
    t.key("q")
    assert t.exit_status() == 0
    names = {n for k in ALL_KEYS for n in k.keys.split(",")} - {"ctrl+c"}
    assert names <= t.sent, f"keys never sent under tmux: {sorted(names - t.sent)}"


def test_ctrl_c_quits(term: Term) -> None:
    term.wait(top_lib, "the tree")
    term.key("ctrl+c")
    assert term.exit_status() == 0


def hues(raw: str) -> set[str]:
    """Colours with a hue in the SGR sequences of `raw` (greys and defaults are fine)."""
    found = set()
    grey_16 = {30, 37, 39, 40, 47, 49, 90, 97, 100, 107}
    for seq in re.findall(r"\x1b\[([0-9;]*)m", raw):
        params = [int(p) for p in seq.split(";") if p]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48) and i + 1 < len(params):
                if params[i + 1] == 5 and i + 2 < len(params):
                    n = params[i + 2]
                    if not (n in (0, 7, 8, 15, 16, 231) or 232 <= n <= 255):
                        found.add(seq)
                    i += 3
                    continue
                if params[i + 1] == 2 and i + 4 < len(params):
                    r, g, b = params[i + 2 : i + 5]
                    if not (r == g == b):
                        found.add(seq)
                    i += 5
                    continue
            if (30 <= p <= 49 or 90 <= p <= 107) and p not in grey_16:
                found.add(seq)
            i += 1
    return found


def test_no_color_means_no_hue(term: Term) -> None:
    """NO_COLOR: Textual draws in greys only; the A/M/D/U letters carry the meaning."""
    term.wait(top_lib, "the tree")
    raw = term.run("capture-pane", "-p", "-e", "-t", "view")
    assert not hues(raw), sorted(hues(raw))[:5]
    assert re.search(r"A +4\d\.\d kB", term.screen())  # the letter says "added" without colour
    term.key("q")
    assert term.exit_status() == 0
