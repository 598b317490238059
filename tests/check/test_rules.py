"""The rule table, each kind of rule value, and the generic evaluation against Metrics."""

from __future__ import annotations

import dataclasses
import re

import pytest

from layerscope.check.config import CiConfig, build_config
from layerscope.check.evaluate import NO_DIVE, evaluate
from layerscope.check.rules import BYTES, FLAG, RATIO, RULES, Fails, find, parse_go_float
from layerscope.engine.metrics import Metrics

METRICS = Metrics(
    efficiency=0.8,
    wasted_bytes=5_000,
    user_wasted_percent=0.25,
    reclaimable_bytes=7_000,
    image_bytes=1_000_000,
    secrets=2,
    cache_bytes=0,
)


def test_every_rule_reads_a_metric_and_has_unique_names() -> None:
    fields = {f.name for f in dataclasses.fields(Metrics)}
    # a one-word rule (architecture, mpi) has one name: dive's spelling is the same word
    names = [n.lower() for r in RULES for n in dict.fromkeys(x.lower() for x in r.names())]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.metric in fields, rule.key
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", rule.key), rule.key
        assert find(rule.key) is find(rule.legacy) is find(rule.legacy.upper()) is rule
        rule.kind.parse(rule.default)  # every default is a valid value of its kind
    assert [r.key for r in RULES if r.dive] == [
        "lowest-efficiency",
        "highest-wasted-bytes",
        "highest-user-wasted-percent",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # go-humanize's own documented examples (ParseBytes doc comment) and dive's forms
        ("42MB", 42_000_000),
        ("42mib", 44_040_192),
        ("20Mb", 20_000_000),
        ("20 MiB", 20 * 1024**2),
        ("1.5GB", 1_500_000_000),
        ("100", 100),
        ("2k", 2000),
        ("3Ki", 3072),
        ("0.5kb", 500),
        ("1,000", 1000),
    ],
)
def test_bytes_kind_reads_sizes_as_go_humanize(text: str, value: int) -> None:
    assert BYTES.parse(text) == value


@pytest.mark.parametrize("text", ["MB", "-5MB", "12XB", "1e3", " 5MB", "1.2.3MB", "true"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        BYTES.parse(text)


def test_ratio_kind() -> None:
    assert RATIO.parse("0.95") == 0.95
    assert RATIO.parse(".5") == 0.5
    assert RATIO.parse("1e-1") == 0.1
    assert RATIO.parse("0") == 0 and RATIO.parse("1") == 1
    for bad in ("1.5", "-0.1", "NaN", "+Inf", " 0.5", "1_0", "abc", "true"):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            RATIO.parse(bad)


def test_go_floats() -> None:
    assert parse_go_float("0.95") == 0.95
    assert parse_go_float("1E2") == 100
    for bad in (" 0.5", "1_0", "0.5 ", "", "abc", "0x10"):
        with pytest.raises(ValueError):
            parse_go_float(bad)


def test_disabled_forms() -> None:
    for kind in (RATIO, BYTES):
        for off in ("", "disabled", "off", "false", " Disabled ", "OFF"):
            assert kind.parse(off) is None
    for on in ("true", "yes", "on", "enabled", "1", "TRUE"):
        assert FLAG.parse(on) == 0
    for off in ("false", "no", "off", "disabled", "0", ""):
        assert FLAG.parse(off) is None
    with pytest.raises(ValueError, match="'maybe' is not true or false"):
        FLAG.parse("maybe")


def test_fails_direction() -> None:
    assert Fails.BELOW.failed(0.5, 0.9) and not Fails.BELOW.failed(0.9, 0.9)
    assert Fails.ABOVE.failed(10, 5) and not Fails.ABOVE.failed(5, 5)  # dive: "> threshold"


def _results(config: CiConfig, metrics: Metrics = METRICS) -> dict[str, tuple[str, str]]:
    return {r.key: (r.status, r.message) for r in evaluate(config, metrics)}


def test_each_rule_evaluated_from_its_metric() -> None:
    config = build_config(
        None,
        None,
        {
            "lowest-efficiency": "0.9",
            "highest-wasted-bytes": "5KB",
            "highest-user-wasted-percent": "0.2",
            "highest-reclaimable-bytes": "7000",
            "max-image-size": "1MiB",
            "no-secrets": "true",
            "no-caches": "true",
            "signed": "true",
        },
    )
    assert _results(config) == {
        "lowest-efficiency": ("FAIL", "efficiency 0.8000 < 0.9"),
        "highest-wasted-bytes": ("PASS", "wasted bytes (dive) 5000 <= 5000"),
        "highest-user-wasted-percent": ("FAIL", "wasted/user bytes 0.2500 > 0.2"),
        "highest-reclaimable-bytes": ("PASS", "reclaimable bytes 7000 <= 7000"),
        "max-image-size": ("PASS", "image bytes 1000000 <= 1048576"),
        "no-secrets": ("FAIL", "secrets found 2 > 0"),
        "no-caches": ("PASS", "cache bytes 0 <= 0"),
        "signed": ("FAIL", "valid signatures from the keyring 0 < 1"),
        # the portability rules, disabled by default (tests/check/test_portability_rules.py)
        "max-isa": ("SKIP", "disabled"),
        "architecture": ("SKIP", "disabled"),
        "min-kernel": ("SKIP", "disabled"),
        "mpi": ("SKIP", "disabled"),
        "no-bundled-gpu-driver": ("SKIP", "disabled"),
    }


def test_results_carry_value_threshold_and_configured_text() -> None:
    config = build_config(None, None, {"highestWastedBytes": "4KB"})
    result = next(r for r in evaluate(config, METRICS) if r.key == "highest-wasted-bytes")
    assert (result.status, result.value, result.threshold, result.configured) == (
        "FAIL",
        5000,
        4000,
        "4KB",
    )


def test_skips_say_why() -> None:
    config = build_config(None, None, {"highest-wasted-bytes": "1"})
    got = _results(config)
    assert got["max-image-size"] == ("SKIP", "disabled")
    no_dive = dataclasses.replace(
        METRICS, efficiency=None, wasted_bytes=None, user_wasted_percent=None
    )
    got = _results(config, no_dive)
    assert {k: got[k] for k in ("lowest-efficiency", "highest-wasted-bytes")} == {
        "lowest-efficiency": ("SKIP", NO_DIVE),
        "highest-wasted-bytes": ("SKIP", NO_DIVE),
    }
    assert got["highest-user-wasted-percent"] == ("SKIP", NO_DIVE)
    no_user_layers = dataclasses.replace(METRICS, user_wasted_percent=None)
    status, why = _results(config, no_user_layers)["highest-user-wasted-percent"]
    assert status == "SKIP" and "no user layers" in why
