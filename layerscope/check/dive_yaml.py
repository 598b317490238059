"""A `.dive-ci` read through PyYAML, its scalars resolved and stringified as dive's Go does.

dive reads the file with Go's yaml package into `map[string]interface{}` and each rule with
viper's `GetString`. For a threshold to mean what it means to dive, two Go behaviours are
reproduced on top of PyYAML's safe loader:
- resolving plain scalars (go-yaml `resolve.go`): no YAML 1.1 sexagesimals (`1:30` stays a
  string), `1e6` is a float, ints in Go's base-0 syntax (`0x1F`, `0o17`, `017`, `_` ignored),
  booleans only `true`/`false` in three spellings, timestamps left as the text written;
- `go_string`, spf13/cast's `ToString`: null "", booleans "true"/"false", floats as
  `strconv.FormatFloat(f, 'f', -1, 64)` ("0.1", "1000000", "+Inf").

Duplicate keys are an error with their line (Go's yaml refuses them too); keys compare
case-insensitively, as viper folds them, so `Rules:` next to `rules:` is a duplicate rather
than a coin toss.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterator
from decimal import Decimal
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_T = "tag:yaml.org,2002:"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INFS = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf}
_INFS |= {"+" + k: v for k, v in _INFS.items()} | {"-" + k: -v for k, v in _INFS.items()}
_INFS |= {".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(r"[0-9]{4}-")
_INT64 = range(-(2**63), 2**64)  # ParseInt, then ParseUint


class LinedMap(dict[Hashable, Any]):
    """A YAML mapping that remembers the line (1-based) of each key."""

    lines: dict[Hashable, int]

    def __init__(self) -> None:
        super().__init__()
        self.lines = {}


def _go_int(text: str) -> int | None:
    plain = text.replace("_", "")
    if not _GO_INT.fullmatch(plain):
        return None
    sign = -1 if plain[0] == "-" else 1
    body = plain.lstrip("+-").lower()
    base = {"0x": 16, "0o": 8, "0b": 2}.get(body[:2])
    if base is not None:
        value = int(body[2:], base)
    elif body.startswith("0") and len(body) > 1:
        value = int(body[1:], 8)
    else:
        value = int(body)
    value *= sign
    return value if value in _INT64 else None  # out of range: Go tries a float next


def _plain_tag(text: str) -> str:
    """The tag go-yaml's resolver gives an unquoted scalar."""
    if text in _NULLS:
        return _T + "null"
    if text in _BOOLS:
        return _T + "bool"
    if text in _INFS:
        return _T + "float"
    if text == "<<":
        return _T + "merge"
    if text[0] == ".":
        return _T + ("float" if _DOT_FLOAT.fullmatch(text) else "str")
    if text[0] not in "+-0123456789" or _TIMESTAMP.match(text):
        return _T + "str"
    if _go_int(text) is not None:
        return _T + "int"
    return _T + ("float" if _GO_FLOAT.fullmatch(text.replace("_", "")) else "str")


class DiveLoader(yaml.SafeLoader):
    """yaml.SafeLoader with Go's scalar resolution, duplicate-key errors and LinedMap."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """A plain scalar's tag as go-yaml resolves it; quoted scalars are strings."""
        if kind is ScalarNode:
            return _plain_tag(value) if implicit[0] else self.DEFAULT_SCALAR_TAG
        if kind is SequenceNode:
            return self.DEFAULT_SEQUENCE_TAG
        return self.DEFAULT_MAPPING_TAG

    def construct_go_bool(self, node: ScalarNode) -> bool:
        text = self.construct_scalar(node)
        if text not in _BOOLS:  # an explicit `!!bool` on something that is not one
            raise yaml.constructor.ConstructorError(
                None, None, f"not a boolean: {text!r}", node.start_mark
            )
        return _BOOLS[text]

    def construct_go_int(self, node: ScalarNode) -> int:
        value = _go_int(self.construct_scalar(node))
        if value is None:  # an explicit `!!int` on something that is not one
            raise yaml.constructor.ConstructorError(
                None, None, f"not an integer: {node.value!r}", node.start_mark
            )
        return value

    def construct_go_float(self, node: ScalarNode) -> float:
        text = self.construct_scalar(node)
        if text in _INFS:
            return _INFS[text]
        try:
            return float(text.replace("_", ""))
        except ValueError:
            raise yaml.constructor.ConstructorError(
                None, None, f"not a number: {text!r}", node.start_mark
            ) from None

    def construct_lined_map(self, node: MappingNode) -> Iterator[LinedMap]:
        data = LinedMap()
        yield data
        self._reject_duplicates(node)
        data.update(self.construct_mapping(node))
        for key_node, _ in node.value:  # after construct_mapping: merged keys included
            key = self.construct_object(key_node)
            if isinstance(key, Hashable):
                data.lines[key] = key_node.start_mark.line + 1

    def _reject_duplicates(self, node: MappingNode) -> None:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _T + "merge":
                continue
            try:
                folded = go_string(self.construct_object(key_node)).lower()
            except ValueError:
                continue  # not a plain key: construct_mapping reports it
            line = key_node.start_mark.line + 1
            if folded in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key_node.value!r} (first on line {seen[folded]}; "
                    "keys are case-insensitive, as in dive)",
                    key_node.start_mark,
                )
            seen[folded] = line


DiveLoader.add_constructor(_T + "bool", DiveLoader.construct_go_bool)
DiveLoader.add_constructor(_T + "int", DiveLoader.construct_go_int)
DiveLoader.add_constructor(_T + "float", DiveLoader.construct_go_float)
DiveLoader.add_constructor(_T + "map", DiveLoader.construct_lined_map)


def go_string(value: object) -> str:
    """spf13/cast ToString (viper GetString) of a scalar; ValueError for anything else."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(repr(value)), "f")  # shortest round-trip digits, no exponent
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a single value, got a {_yaml_kind(value)}")


def _yaml_kind(value: object) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def load(data: bytes) -> object:
    """The one document in `data` (None if empty). Raises yaml.YAMLError, most with a
    problem_mark, or RecursionError for absurd nesting. yaml.load with a SafeLoader
    subclass is yaml.safe_load with our resolver and constructors."""
    return yaml.load(data, Loader=DiveLoader)
