"""The CI config: `.dive-ci` read as dive reads it, `--rule` on top, bad input named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerscope.check.config import (
    MAX_FILE_BYTES,
    CiConfig,
    build_config,
    load_ci_config,
    parse_overrides,
)
from layerscope.check.dive_yaml import load
from layerscope.check.rules import RULES
from layerscope.errors import UsageError

# dive's own example, verbatim: wagoodman/dive `.data/.dive-ci` (commit 1fb9b31c). dive runs
# with it: `plugins:` and the `plugin1/rule1` rule are ignored, the three rules apply.
DIVE_REPO_CI = """\
---
plugins:
  - plugin1

rules:
  # If the efficiency is measured below X%, mark as failed. (expressed as a percentage between 0-1)
  lowestEfficiency: 0.95

  # If the amount of wasted space is at least X or larger than X, mark as failed. (expressed in B, KB, MB, and GB)
  highestWastedBytes: 20Mb

  # If the amount of wasted space makes up for X% of the image, mark as failed. (fail if the threshold is met or crossed; expressed as a percentage between 0-1)
  highestUserWastedPercent: 0.10

  plugin1/rule1: error
"""  # noqa: E501 - dive's lines, as dive wrote them

# wagoodman/dive `cmd/dive/cli/testdata/default-ci-config/.dive-ci` (its CLI test input)
DIVE_TESTDATA_CI = """\
rules:
  # If the efficiency is measured below X%, mark as failed. (expressed as a percentage between 0-1)
  lowestEfficiency: 0.96

  # If the amount of wasted space is at least X or larger than X, mark as failed. (expressed in B, KB, MB, and GB)
  highestWastedBytes: 19Mb

  # If the amount of wasted space makes up for X% of the image, mark as failed. (fail if the threshold is met or crossed; expressed as a percentage between 0-1)
  highestUserWastedPercent: 0.6
"""  # noqa: E501


def _config(text: str, overrides: dict[str, str] | None = None) -> CiConfig:
    return build_config(load(text.encode()), "cfg", overrides)


def _thresholds(text: str) -> dict[str, float | int | str | None]:
    return {r.key: r.threshold for r in _config(text).rules}


def _error(text: str, overrides: dict[str, str] | None = None) -> str:
    with pytest.raises(UsageError) as e:
        _config(text, overrides)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_dives_own_dive_ci_with_its_plugins_list(tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text(DIVE_REPO_CI)
    config = load_ci_config(None, tmp_path)
    got = {r.key: (r.threshold, r.configured, r.source) for r in config.rules}
    assert got["lowest-efficiency"] == (0.95, "0.95", ".dive-ci")
    assert got["highest-wasted-bytes"] == (20_000_000, "20Mb", ".dive-ci")
    assert got["highest-user-wasted-percent"] == (0.1, "0.1", ".dive-ci")  # "0.10": a float
    assert got["no-secrets"] == (None, "disabled", "default")
    assert config.warnings == [
        ".dive-ci: line 2: unknown key 'plugins' ignored",
        ".dive-ci: line 15: unknown rule 'plugin1/rule1' ignored",
    ]


def test_dives_cli_testdata() -> None:
    got = _thresholds(DIVE_TESTDATA_CI)
    assert got["lowest-efficiency"] == 0.96
    assert got["highest-wasted-bytes"] == 19_000_000
    assert got["highest-user-wasted-percent"] == 0.6


def test_flow_style() -> None:
    got = _thresholds("rules: {lowestEfficiency: 0.5, highestWastedBytes: 20MiB}\n")
    assert got["lowest-efficiency"] == 0.5
    assert got["highest-wasted-bytes"] == 20 * 1024**2
    assert _thresholds("{rules: {no-secrets: true}}")["no-secrets"] == 0


def test_defaults_are_dives() -> None:
    config = load_ci_config(None, Path("/nonexistent"))
    got = {r.key: (r.threshold, r.source) for r in config.rules}
    assert got["lowest-efficiency"] == (0.9, "default")
    assert got["highest-wasted-bytes"] == (None, "default")
    assert got["highest-user-wasted-percent"] == (0.1, "default")
    assert all(got[k][0] is None for k in ("no-secrets", "no-caches", "max-image-size"))
    assert config.path is None and config.warnings == []
    assert _config("").rules == _config("# only a comment\n").rules == config.rules


def test_camel_kebab_case_and_disabled_forms() -> None:
    got = _thresholds(
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
    for off in ("disabled", "off", "false", "''", "Disabled", "FALSE"):
        assert _thresholds(f"rules:\n  lowest-efficiency: {off}\n")["lowest-efficiency"] is None


def test_legacy_key_wins_whatever_the_order() -> None:
    text = "rules:\n  lowestEfficiency: 0.7\n  lowest-efficiency: 0.5\n"
    assert _thresholds(text)["lowest-efficiency"] == 0.7
    assert _thresholds("rules:\n  LOWESTEFFICIENCY: 0.3\n")["lowest-efficiency"] == 0.3


def test_a_null_value_leaves_the_default() -> None:
    # dive 0.13.1 runs `lowestEfficiency:` with its default threshold of 0.9
    got = _config("rules:\n  lowestEfficiency:\n  lowest-efficiency: 0.5\n")
    assert got.rule("lowest-efficiency").threshold == 0.5
    got = _config("rules:\n  lowestEfficiency: ~\n")
    assert (got.rule("lowest-efficiency").threshold, got.rule("lowest-efficiency").source) == (
        0.9,
        "default",
    )
    assert _config("rules:\n").rules == _config("").rules


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "rules:\n  lowestEfficiency: 1.5\n",
            ["line 2", "rules.lowestEfficiency", "'1.5'", "0..1"],
        ),
        ("rules:\n  highestUserWastedPercent: -0.1\n", ["line 2", "'-0.1'", "0..1"]),
        ("rules:\n\n  highestWastedBytes: lots\n", ["line 3", "highestWastedBytes", "'lots'"]),
        ("rules: {max-image-size: 12XB}\n", ["line 1", "max-image-size", "'12XB'", "unit"]),
        ("rules:\n  no-caches: maybe\n", ["line 2", "no-caches", "'maybe'", "true or false"]),
        ("rules:\n  lowestEfficiency: .nan\n", ["lowestEfficiency", "'NaN'"]),
        ("rules:\n  lowestEfficiency: yes\n", ["lowestEfficiency", "'yes'", "not a number"]),
        ("rules:\n  highestWastedBytes: 1:30\n", ["highestWastedBytes", "'1:30'"]),
        ("rules:\n  highestWastedBytes: [1]\n", ["line 2", "highestWastedBytes", "list"]),
        ("rules:\n  lowestEfficiency: {a: 1}\n", ["line 2", "lowestEfficiency", "mapping"]),
        ("rules: 3\n", ["line 1", "'rules' must be a mapping"]),
        ("- rules\n", ["cfg", "mapping"]),
    ],
)
def test_bad_values_name_file_line_rule_and_value(text: str, fragments: list[str]) -> None:
    message = _error(text)
    assert message.startswith("cfg")
    for fragment in fragments:
        assert fragment in message, message


def test_a_bad_file_value_is_an_error_even_when_overridden() -> None:
    message = _error("rules:\n  lowestEfficiency: 2\n", {"lowest-efficiency": "0.5"})
    assert "line 2" in message and "'2'" in message


def test_overrides_win_and_name_their_errors() -> None:
    config = _config("rules:\n  lowestEfficiency: 0.7\n", {"lowestefficiency": "0.2"})
    setting = config.rule("lowest-efficiency")
    assert (setting.threshold, setting.configured, setting.source) == (0.2, "0.2", "--rule")
    overrides = parse_overrides(["max-image-size=abc"])
    message = _error("", overrides)
    assert message.startswith("--rule max-image-size=abc: ") and "'abc' is not a size" in message
    message = _error("", parse_overrides(["lowestEfficiency=1.5"]))
    assert message.startswith("--rule lowestEfficiency=1.5: ") and "0..1" in message


def test_parse_overrides() -> None:
    assert parse_overrides([" no-secrets = true ", "maxImageSize=1GB"]) == {
        "no-secrets": "true",
        "maxImageSize": "1GB",
    }
    # a later option for the same rule wins, under either of its names
    got = parse_overrides(["lowest-efficiency=0.1", "lowestEfficiency=0.2"])
    assert got == {"lowestEfficiency": "0.2"}
    assert build_config(None, None, got).rule("lowest-efficiency").threshold == 0.2
    with pytest.raises(UsageError, match=r"--rule lowest-efficiency: expected RULE=VALUE"):
        parse_overrides(["lowest-efficiency"])
    with pytest.raises(UsageError, match=r"unknown rule 'bogus' \(known: lowest-efficiency, "):
        parse_overrides(["bogus=1"])


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"rules:\n  lowestEfficiency: [0.5\n", "line 3"),  # unclosed flow sequence
        (b"rules:\n\tlowestEfficiency: 0.5\n", "line 2"),  # a tab in indentation
        (b"rules:\n  a: 1\n b: 2\n", "line 3"),
        (b"rules: {}\n---\nrules: {}\n", "line 2: expected a single document"),
        (b"rules:\n  x: \x07\n", "line 2: character #x0007 is not allowed"),
        (b"rules:\n  x: \xff\n", "line 2: not utf-8 text"),
        (b"[" * 100_000, "nests too deeply"),
    ],
)
def test_malformed_yaml_is_one_line_with_its_place(
    tmp_path: Path, data: bytes, fragment: str
) -> None:
    cfg = tmp_path / "ci.yaml"
    cfg.write_bytes(data)
    with pytest.raises(UsageError) as e:
        load_ci_config(str(cfg))
    message = str(e.value)
    assert message.startswith(f"{cfg}: ") and "\n" not in message
    assert fragment in message, message


def test_files_that_are_not_configs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the CI config"):
        load_ci_config(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="not a regular file"):
        load_ci_config(str(tmp_path))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):  # refused, not waited on
        load_ci_config(str(fifo))
    big = tmp_path / "big"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES)
    with pytest.raises(UsageError, match="larger than"):
        load_ci_config(str(big))
    assert load_ci_config("/dev/null").rules == load_ci_config(None, tmp_path).rules


def test_an_explicit_file_wins_over_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text("rules: {lowestEfficiency: 0.1}\n")
    other = tmp_path / "other.yaml"
    other.write_text("rules: {lowestEfficiency: 0.2}\n")
    assert load_ci_config(None, tmp_path).rule("lowest-efficiency").threshold == 0.1
    config = load_ci_config(str(other), tmp_path)
    assert config.rule("lowest-efficiency").threshold == 0.2 and config.path == str(other)


_YAMLISH = st.sampled_from([*":-[]{},&*!|>'\"#%@`?\t\n ~0.5e1_xXoO\x00\x07\xff", "  ", "\n  "])


@st.composite
def _mutated_configs(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from([DIVE_REPO_CI, DIVE_TESTDATA_CI, "rules: {lowestEfficiency: 0.5}"]))
    data = bytearray(base.encode())
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()) and at < len(data):
            del data[at : at + draw(st.integers(1, 4))]
        else:
            piece = draw(_YAMLISH)
            data[at:at] = piece.encode("latin-1") if piece != "\xff" else b"\xff"
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_configs())
def test_any_mangled_config_is_read_or_refused_in_one_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    cfg = tmp_path_factory.getbasetemp() / "mangled.yaml"
    cfg.write_bytes(data)
    try:
        config = load_ci_config(str(cfg))
    except UsageError as e:
        assert str(e).startswith(str(cfg)) and "\n" not in str(e)
        return
    assert [r.key for r in config.rules] == [r.key for r in RULES]
    assert all("\n" not in w for w in config.warnings)
