"""`layerscope check`: .dive-ci parsing as dive reads it, per-rule lines, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layerscope.check.config import (
    build_config,
    load_ci_config,
    parse_dive_bytes,
    parse_go_float,
)
from layerscope.check.yaml_subset import parse
from layerscope.errors import UsageError
from tests.cli.run import cli, proc
from tests.conftest import FIXTURES

APP = f"oci:{FIXTURES}/oci/app-layout:1.0"
STAGE1 = str(FIXTURES / "sif" / "stage1.sif")
STAGE2 = str(FIXTURES / "sif" / "stage2.sif")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # go-humanize's own documented examples (ParseBytes doc comment)
        ("42MB", 42_000_000),
        ("42mib", 44_040_192),
        ("20MB", 20_000_000),
        ("20 MiB", 20 * 1024**2),
        ("1.5GB", 1_500_000_000),
        ("100", 100),
        ("2k", 2000),
        ("3Ki", 3072),
        ("0.5kb", 500),
    ],
)
def test_byte_sizes_as_go_humanize_parses_them(text: str, value: int) -> None:
    assert parse_dive_bytes(text) == value


@pytest.mark.parametrize("text", ["", "MB", "-5MB", "12XB", "1e3", " 5MB", "1.2.3MB"])
def test_bad_byte_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dive_bytes(text)


def test_go_floats() -> None:
    assert parse_go_float("0.95") == 0.95
    assert parse_go_float(".5") == 0.5
    assert parse_go_float("1e-1") == 0.1
    for bad in (" 0.5", "1_0", "0.5 ", "", "abc"):
        with pytest.raises(ValueError):
            parse_go_float(bad)


def _rules(text: str) -> dict[str, float | int | None]:
    return {r.key: r.threshold for r in build_config(parse(text), "cfg").rules}


def test_defaults_are_dives() -> None:
    got = {r.key: (r.threshold, r.source) for r in load_ci_config(None, Path("/nonexistent")).rules}
    assert got["lowest-efficiency"] == (0.9, "default")
    assert got["highest-wasted-bytes"] == (None, "default")
    assert got["highest-user-wasted-percent"] == (0.1, "default")
    assert all(got[k][0] is None for k in ("no-secrets", "no-caches", "max-image-size"))


def test_camel_kebab_case_and_disabled_forms() -> None:
    got = _rules(
        "rules:\n"
        "  lowest-efficiency: 0.5\n"
        "  lowestEfficiency: 0.7\n"  # dive: the legacy camelCase key wins when set
        "  HIGHEST-WASTED-BYTES: 20MB\n"  # keys match case-insensitively
        "  highestUserWastedPercent: 'off'\n"
        "  no-secrets: true\n"
        "  maxImageSize: 1GiB\n"
    )
    assert got["lowest-efficiency"] == 0.7
    assert got["highest-wasted-bytes"] == 20_000_000
    assert got["highest-user-wasted-percent"] is None
    assert got["no-secrets"] == 0
    assert got["max-image-size"] == 1024**3
    for off in ("disabled", "off", "false", "''", "Disabled"):
        assert _rules(f"rules:\n  lowest-efficiency: {off}\n")["lowest-efficiency"] is None


@pytest.mark.parametrize(
    "text",
    [
        "rules:\n  lowestEfficiency: 1.5\n",
        "rules:\n  highestUserWastedPercent: -0.1\n",
        "rules:\n  highestWastedBytes: lots\n",
        "rules:\n  no-caches: maybe\n",
        "rules: 3\n",
    ],
)
def test_bad_values_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        build_config(parse(text), "cfg")


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
    }
    assert b"Config:       .dive-ci" in r.out
    assert b"Result: PASS [pass:4 fail:0 skip:3]" in r.out


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
    assert r.code == 2 and "line 2" in r.err


def test_bad_image_is_exit_3() -> None:
    r = proc("check", str(FIXTURES / "sif" / "corrupt" / "bad-magic.sif"))
    assert r.code == 3 and r.err.startswith("layerscope: error:")
