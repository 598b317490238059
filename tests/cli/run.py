"""Run the CLI in-process or as a real process and capture what it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from layerscope.cli import main
from tests.conftest import ROOT


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(capsysbinary: pytest.CaptureFixture[bytes], *args: str) -> Result:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    cap = capsysbinary.readouterr()
    return Result(code, cap.out, cap.err.decode("utf-8", "replace"))


def proc(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> Result:
    r = subprocess.run(
        [sys.executable, "-m", "layerscope", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    return Result(r.returncode, r.stdout, r.stderr.decode("utf-8", "replace"))
