"""A `.dive-ci`'s YAML through PyYAML, scalars resolved and stringified as dive's Go does."""

from __future__ import annotations

import pytest
import yaml

from layerscope.check.dive_yaml import LinedMap, go_string, load


def _value(text: str) -> str:
    doc = load(f"a: {text}\n".encode())
    assert isinstance(doc, dict)
    return go_string(doc["a"])


@pytest.mark.parametrize(
    ("text", "as_go"),
    [
        # viper's GetString of what go-yaml resolved: cast.ToString, FormatFloat(f, 'f', -1)
        ("0.10", "0.1"),
        ("0.95", "0.95"),
        ("1.0", "1"),
        ("1e6", "1000000"),  # a float to Go (PyYAML's YAML 1.1 would keep the text)
        ("1e-7", "0.0000001"),
        ("1e22", "10000000000000000000000"),
        ("99999999999999999999", "100000000000000000000"),  # past uint64: a float
        (".5", "0.5"),
        ("+5", "5"),
        ("1_000_000", "1000000"),  # go-yaml drops underscores in numbers
        ("0x30D40", "200000"),
        ("0o400000", "131072"),
        ("0400000", "131072"),  # a YAML 1.1 octal, still read by go-yaml
        ("08", "8"),  # not octal, so ParseInt fails; the float regexp takes it
        (".inf", "+Inf"),
        ("-.Inf", "-Inf"),
        (".nan", "NaN"),
        ("true", "true"),
        ("FALSE", "false"),
        ("~", ""),
        ("null", ""),
        # strings stay as written
        ("20Mb", "20Mb"),
        ("'0.10'", "0.10"),
        ('"1e6"', "1e6"),
        ("yes", "yes"),  # YAML 1.2 booleans only, as go-yaml v3: `yes`/`off` are strings
        ("off", "off"),
        ("1:30", "1:30"),  # no YAML 1.1 sexagesimal (PyYAML would say 90)
        ("2001-12-14", "2001-12-14"),  # a timestamp keeps its text
        ("!!str 0.10", "0.10"),
    ],
)
def test_scalars_as_viper_get_string_sees_them(text: str, as_go: str) -> None:
    assert _value(text) == as_go


def test_collections_are_not_values() -> None:
    for text in ("[1]", "{x: 1}", "!!set {a}"):
        with pytest.raises(ValueError, match="expected a single value"):
            _value(text)


def test_flow_style_and_block_style_read_the_same() -> None:
    block = load(b"rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 20MB\n")
    flow = load(b"rules: {lowestEfficiency: 0.5, highestWastedBytes: 20MB}\n")
    assert block == flow == {"rules": {"lowestEfficiency": 0.5, "highestWastedBytes": "20MB"}}


def test_mappings_remember_key_lines() -> None:
    doc = load(b"---\n# comment\nplugins:\n  - plugin1\n\nrules:\n  lowestEfficiency: 0.95\n")
    assert isinstance(doc, LinedMap)
    assert doc.lines == {"plugins": 3, "rules": 6}
    assert doc["plugins"] == ["plugin1"]
    assert doc["rules"].lines == {"lowestEfficiency": 7}


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        (b"rules:\n  lowestEfficiency: 0.5\n  lowestEfficiency: 0.6\n", 3, 2),
        (b"rules: {lowestEfficiency: 0.5, lowestEfficiency: 0.6}\n", 1, 1),
        # viper folds keys to lower case, and dive then picks one at random (Go map order:
        # checked with dive 0.13.1, which passed and failed the same file on repeated runs)
        (b"rules:\n  lowestEfficiency: 0.1\n\n  LowestEfficiency: 0.99\n", 4, 2),
        (b"Rules: {}\nrules: {}\n", 2, 1),
    ],
)
def test_duplicate_keys_are_errors_with_their_line(text: bytes, line: int, first: int) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as e:
        load(text)
    assert e.value.problem_mark is not None and e.value.problem_mark.line + 1 == line
    problem = str(e.value.problem)
    assert "duplicate key" in problem and f"first on line {first}" in problem


def test_merge_keys_may_be_overridden_without_a_duplicate() -> None:
    doc = load(b"base: &b {lowestEfficiency: 0.5}\nrules:\n  <<: *b\n  lowestEfficiency: 0.7\n")
    assert isinstance(doc, dict) and doc["rules"] == {"lowestEfficiency": 0.7}


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        load(b"rules: !!python/object/apply:os.system ['true']\n")
