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


def test_only_the_tui_loads_textual() -> None:
    """`import layerscope`, every module of the rooms below ui/ and the CLI's entry point
    load neither Textual nor rich (a script using the API pays for no UI)."""
    code = (
        "import importlib, pkgutil, sys, layerscope\n"
        "assert 'layerscope.engine' not in sys.modules, 'import layerscope must stay light'\n"
        "for room in ('model', 'readers', 'cache', 'engine', 'present', 'check'):\n"
        "    pkg = importlib.import_module('layerscope.' + room)\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import layerscope.cli.commands\n"
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    r = _run(sys.executable, "-c", code)
    assert r.returncode == 0, r.stdout + r.stderr
