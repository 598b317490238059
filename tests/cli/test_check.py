"""`layerscope check`: the config file and --rule reach the rules, per-rule lines, JSON,
exit codes. (How a `.dive-ci` is read: tests/check/.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.check.test_config import DIVE_REPO_CI
from tests.cli.run import cli, proc
from tests.conftest import FIXTURES

APP = f"oci:{FIXTURES}/oci/app-layout:1.0"
STAGE1 = str(FIXTURES / "sif" / "stage1.sif")
STAGE2 = str(FIXTURES / "sif" / "stage2.sif")


PASSING = """\
# dive's own example keys
rules:
  lowestEfficiency: 0.1
  highestWastedBytes: 1MB
  highestUserWastedPercent: 0.99
  highest-reclaimable-bytes: 1MiB
"""
FAILING = """\
rules:
  lowest-efficiency: 0.99
  highest-wasted-bytes: 20KB
  highest-user-wasted-percent: disabled
  no-secrets: true
"""


def _lines(out: bytes) -> dict[str, str]:
    """rule -> status, from the per-rule lines."""
    found = re.findall(r"^  (PASS|FAIL|SKIP)  ([a-z-]+): ", out.decode(), re.MULTILINE)
    return {key: status for status, key in found}


def test_passing_dive_ci_in_the_working_directory(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".dive-ci").write_text(PASSING)
    monkeypatch.chdir(tmp_path)
    r = cli(capsysbinary, "check", APP)
    assert r.code == 0, r.err
    assert _lines(r.out) == {
        "lowest-efficiency": "PASS",
        "highest-wasted-bytes": "PASS",
        "highest-user-wasted-percent": "PASS",
        "highest-reclaimable-bytes": "PASS",
        "max-image-size": "SKIP",
        "no-secrets": "SKIP",
        "no-caches": "SKIP",
        # the portability rules, disabled unless configured (tests/portability/test_cli.py)
        "signed": "SKIP",
        "max-isa": "SKIP",
        "architecture": "SKIP",
        "min-kernel": "SKIP",
        "mpi": "SKIP",
        "no-bundled-gpu-driver": "SKIP",
    }
    assert b"Config:       .dive-ci" in r.out
    assert b"Result: PASS [pass:4 fail:0 skip:9]" in r.out


def test_failing_config_file(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    cfg = tmp_path / "ci.yaml"
    cfg.write_text(FAILING)
    r = cli(capsysbinary, "check", APP, "--ci-config", str(cfg))
    assert r.code == 1, r.err
    lines = _lines(r.out)
    assert lines["lowest-efficiency"] == "FAIL"
    assert lines["highest-wasted-bytes"] == "FAIL"
    assert lines["highest-user-wasted-percent"] == "SKIP"
    assert lines["no-secrets"] == "FAIL"
    assert b"Result: FAIL" in r.out
    # the deleted secrets are named, their values are not printed
    assert b"/root/.ssh/id_rsa" in r.out and b"recoverable" in r.out
    assert b"layerscope-dummy-token-0000" not in r.out
    assert b"layerscope-dummy-password" not in r.out


def test_json_report(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    cfg = tmp_path / "ci.yaml"
    cfg.write_text(FAILING)
    r = cli(capsysbinary, "check", APP, "--ci-config", str(cfg), "--json")
    assert r.code == 1, r.err
    doc = r.json()
    assert doc["schema"] == "layerscope.check/1" and doc["result"] == "FAIL"
    assert doc["config"] == {
        "path": str(cfg),
        "warnings": [],
        "rules": doc["config"]["rules"],
        "allow": {},
        "package_secrets": False,
    }
    assert doc["accepted"] == []
    assert doc["config"]["rules"][1] == {
        "key": "highest-wasted-bytes",
        "configured": "20KB",
        "threshold": 20_000,
        "source": str(cfg),
    }
    assert [x["key"] for x in doc["config"]["rules"]] == [x["key"] for x in doc["rules"]]
    assert all(
        set(x) == {"key", "status", "value", "threshold", "configured", "message"}
        for x in doc["rules"]
    )
    rules = {x["key"]: x for x in doc["rules"]}
    assert rules["highest-wasted-bytes"]["threshold"] == 20_000
    assert rules["highest-wasted-bytes"]["value"] == doc["analysis"]["dive"]["wasted_bytes"]
    a = doc["analysis"]
    assert a["sizes"]["reclaimable_bytes"] == sum(i["size"] for i in a["reclaimable"]["items"])
    secrets = a["secrets"]["findings"]
    assert {s["location"] for s in secrets} == {"/root/.ssh/id_rsa", "/app/.env"}
    assert all(s["recoverable"] and not s["visible"] for s in secrets)
    assert rules["no-secrets"]["value"] == len(secrets)
    assert b"layerscope-dummy" not in r.out


@pytest.mark.parametrize(("image", "code"), [(STAGE1, 1), (STAGE2, 0)])
def test_no_caches_on_the_sif_chain(
    capsysbinary: pytest.CaptureFixture[bytes], image: str, code: int
) -> None:
    r = cli(capsysbinary, "check", image, "--rule", "no-caches=true", "--ci-config", "/dev/null")
    assert r.code == code, r.err
    assert _lines(r.out)["no-caches"] == ("FAIL" if code else "PASS")
    assert (b"/var/cache/apt" in r.out) == (code == 1)


def test_bad_config_is_exit_2_before_the_image_is_opened(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    cfg = tmp_path / "bad"
    cfg.write_text("rules:\n  lowestEfficiency: 2\n")
    r = cli(capsysbinary, "check", "/nonexistent.sif", "--ci-config", str(cfg))
    assert r.code == 2 and "lowest-efficiency" in r.err
    r = cli(capsysbinary, "check", APP, "--ci-config", str(tmp_path / "missing"))
    assert r.code == 2 and "missing" in r.err
    cfg.write_text("rules:\n  - lowestEfficiency: 0.5\n")
    r = cli(capsysbinary, "check", APP, "--ci-config", str(cfg))
    assert r.code == 2 and "line 1: 'rules' must be a mapping" in r.err
    cfg.write_text("rules:\n  lowestEfficiency: 0.5\n  lowestEfficiency: 0.6\n")
    r = cli(capsysbinary, "check", APP, "--ci-config", str(cfg))
    assert r.code == 2 and "line 3: duplicate key 'lowestEfficiency'" in r.err


def test_bad_rule_option_names_value_and_rule(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    r = cli(capsysbinary, "check", "/nonexistent.sif", "--rule", "max-image-size=abc")
    assert r.code == 2
    assert r.err.startswith("layerscope: error: --rule max-image-size=abc: 'abc' is not a size")
    assert r.err.count("\n") == 1
    r = cli(capsysbinary, "check", "/nonexistent.sif", "--rule", "maxImageSize")
    assert r.code == 2 and "expected RULE=VALUE" in r.err


def test_dives_own_dive_ci_runs_with_warnings(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    cfg = tmp_path / ".dive-ci"
    cfg.write_text(DIVE_REPO_CI)
    r = cli(capsysbinary, "check", APP, "--ci-config", str(cfg), "--rule", "no-secrets=false")
    assert r.code == 1, r.err  # the fixture's efficiency is below dive's 0.95
    assert _lines(r.out)["lowest-efficiency"] == "FAIL"
    assert _lines(r.out)["highest-wasted-bytes"] == "PASS"  # 20Mb
    assert f"warning: {cfg}: line 2: unknown key 'plugins' ignored" in r.err
    assert f"warning: {cfg}: line 15: unknown rule 'plugin1/rule1' ignored" in r.err


def test_bad_image_is_exit_3() -> None:
    r = proc("check", str(FIXTURES / "sif" / "corrupt" / "bad-magic.sif"))
    assert r.code == 3 and r.err.startswith("layerscope: error:")
