"""Accepting findings: allowlists in the config's `layerscope:` section and baselines of
fingerprints (`--baseline`, `--write-baseline`); exit codes unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerscope.check.accept import glob_regex
from tests.cli.run import Result, cli
from tests.conftest import FIXTURES

APP = f"oci:{FIXTURES}/oci/app-layout:1.0"  # a deleted id_rsa and .env (5 findings)


@pytest.mark.parametrize(
    ("glob", "path", "hit"),
    [
        ("/root/.ssh/*", "/root/.ssh/id_rsa", True),
        ("/root/*", "/root/.ssh/id_rsa", False),
        ("/root/**", "/root/.ssh/id_rsa", True),
        ("/app/.env?", "/app/.env", False),
        ("/usr/share/doc/**/*.pem", "/usr/share/doc/x/y/k.pem", True),
        ("config.Env*", "config.Env[2]", True),
        ("/a/[!b]c", "/a/xc", True),
        ("/a/[!b]c", "/a/bc", False),
    ],
)
def test_globs(glob: str, path: str, hit: bool) -> None:
    assert bool(glob_regex(glob).match(path)) is hit


def _check(capsys: pytest.CaptureFixture[bytes], tmp_path: Path, config: str, *args: str) -> Result:
    cfg = tmp_path / "ci.yaml"
    cfg.write_text(config)
    return cli(capsys, "check", "--json", "--ci-config", str(cfg), *args, APP)


def test_allowlist_accepts_by_path(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    rules = "rules:\n  no-secrets: true\n  lowestEfficiency: 0\n  highestUserWastedPercent: 1\n"
    failing = _check(capsysbinary, tmp_path, rules)
    assert failing.code == 1, failing.err
    partly = _check(capsysbinary, tmp_path, rules + "layerscope:\n  allow:\n    no-secrets:\n"
                    "      - /root/.ssh/*\n")  # fmt: skip
    assert partly.code == 1
    doc = partly.json()
    assert {a["location"] for a in doc["accepted"]} == {"/root/.ssh/id_rsa"}
    assert all(a["why"] == "allowlist /root/.ssh/*" for a in doc["accepted"])
    rule = next(r for r in doc["rules"] if r["key"] == "no-secrets")
    assert rule["value"] == len(doc["analysis"]["secrets"]["findings"]) - len(doc["accepted"])
    passing = _check(capsysbinary, tmp_path, rules + "layerscope:\n  allow:\n    noSecrets:"
                     " ['/root/**', '/app/.env']\n")  # fmt: skip
    assert passing.code == 0, passing.out
    text = cli(capsysbinary, "check", "--ci-config", str(tmp_path / "ci.yaml"), APP).out
    assert b"Accepted findings (not counted by their rule): 5" in text


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("layerscope: [1]", "'layerscope' must be a mapping"),
        ("layerscope:\n  allow:\n    lowest-efficiency: ['/x']", "counts no findings"),
        ("layerscope:\n  allow:\n    no-such-rule: ['/x']", "unknown rule"),
        ("layerscope:\n  allow:\n    no-secrets: 3", "must be a list of path globs"),
        ("layerscope:\n  package-secrets: maybe", "must be true or false"),
    ],
)
def test_bad_layerscope_section_exits_2(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, section: str, message: str
) -> None:
    r = _check(capsysbinary, tmp_path, section + "\n")
    assert r.code == 2
    assert message in r.err and r.out == b""


def test_baseline_round_trip(capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path) -> None:
    rules = "rules:\n  no-secrets: true\n  lowestEfficiency: 0\n  highestUserWastedPercent: 1\n"
    base = tmp_path / "baseline.json"
    wrote = _check(capsysbinary, tmp_path, rules, "--write-baseline", str(base))
    assert wrote.code == 0, wrote.out  # everything known is accepted
    saved = json.loads(base.read_text())
    assert saved["schema"] == "layerscope.baseline/1"
    assert len(saved["findings"]) == 5
    assert "layerscope-dummy" not in base.read_text()  # fingerprints, never the secret
    again = _check(capsysbinary, tmp_path, rules, "--baseline", str(base))
    assert again.code == 0
    assert {a["why"] for a in again.json()["accepted"]} == {"baseline"}
    # a baseline that misses one finding: that one fails the rule
    saved["findings"] = saved["findings"][1:]
    base.write_text(json.dumps(saved))
    assert _check(capsysbinary, tmp_path, rules, "--baseline", str(base)).code == 1
    # the config can name the baseline, relative to itself
    named = _check(capsysbinary, tmp_path, rules + "layerscope:\n  baseline: baseline.json\n")
    assert named.code == 1 and len(named.json()["accepted"]) == 4


@pytest.mark.parametrize(
    "content", ["{", '{"schema": "other"}', '{"schema": "layerscope.baseline/1", "findings": [1]}']
)
def test_bad_baseline_exits_2(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, content: str
) -> None:
    base = tmp_path / "b.json"
    base.write_text(content)
    r = _check(capsysbinary, tmp_path, "", "--baseline", str(base))
    assert r.code == 2 and "baseline" in r.err
    missing = _check(capsysbinary, tmp_path, "", "--baseline", str(tmp_path / "none.json"))
    assert missing.code == 2
