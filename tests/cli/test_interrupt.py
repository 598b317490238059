"""Ctrl+C: exit 130 with exactly one line on stderr (click's own handler printed a blank
line first), whatever the command was waiting for."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

from tests.conftest import ROOT


def test_sigint_is_one_line_and_130() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        conn, _ = server.accept()  # a registry that answers nothing: the pull waits
        held.append(conn)
        accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    child = subprocess.Popen(
        [sys.executable, "-m", "layerscope", "ls", "--no-cache", "--tls-verify=false",
         f"docker://127.0.0.1:{port}/app:1.0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        # a shell's background job ignores SIGINT and children inherit that: give the
        # child the default, as an interactive terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert accepted.wait(60), "layerscope never connected"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        server.close()
        for conn in held:
            conn.close()
    assert child.returncode == 130
    assert err == b"layerscope: error: interrupted\n"
    assert out == b""
