"""Run the CLI on a hostile input in a child process: exit code, output, peak memory.

The child reports its own peak resident set at exit: VmHWM where /proc exists, else
getrusage's ru_maxrss (on Linux ru_maxrss would also carry the high-water mark of the
process it was forked from, pytest itself, which is why /proc comes first). Timeouts are
generous hang guards, never speed goals.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

_WRAPPER = """
import atexit, os, re, resource, sys
def _report():
    try:
        with open('/proc/self/status') as f:
            kib = int(re.search(r'VmHWM:\\s+(\\d+)', f.read()).group(1))
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = peak // 1024 if sys.platform == 'darwin' else peak
    with open(os.environ['LAYERSCOPE_TEST_RSS_FILE'], 'w') as out:
        out.write(str(kib))
atexit.register(_report)
from layerscope.cli import main
main(sys.argv[1:])
"""


@dataclass
class Run:
    code: int
    out: bytes
    err: str
    rss: int  # peak resident set of the child, bytes

    def one_error_line(self) -> str:
        """The single stderr line of a refused input (fails on a traceback or several)."""
        assert "Traceback" not in self.err, self.err
        lines = self.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("layerscope: error: "), self.err
        return lines[0]


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> Run:
    """layerscope ARGS in a child process (no cache unless the caller's env says so)."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        try:
            r = subprocess.run(
                [sys.executable, "-c", _WRAPPER, *args],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env={**os.environ, **(env or {}), "LAYERSCOPE_TEST_RSS_FILE": str(rss_file)},
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"layerscope {' '.join(args)}: still running after {timeout} s")
        rss = int(rss_file.read_text()) << 10 if rss_file.exists() else -1
        return Run(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"), rss)
