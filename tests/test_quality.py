"""Static checks are part of the test suite: ruff, mypy --strict, import contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff() -> None:
    r = _run(sys.executable, "-m", "ruff", "check", "layerscope", "tests", "benchmarks")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_strict() -> None:
    r = _run(sys.executable, "-m", "mypy", "--strict")
    assert r.returncode == 0, r.stdout + r.stderr


def test_import_contracts() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    r = _run(str(lint) if lint.exists() else "lint-imports")
    assert r.returncode == 0, r.stdout + r.stderr


def test_model_readers_cli_do_not_load_textual() -> None:
    code = (
        "import sys, layerscope.model.layers, layerscope.readers, layerscope.engine.loading, "
        "layerscope.cli.commands\n"
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stdout + r.stderr
