"""The CI rules, one entry each: the table `check` configures, evaluates and documents.

A rule names the metric it reads (a field of `layerscope.engine.metrics.Metrics`), the
kind of value that configures it and the direction in which the metric fails it; the
reader, the evaluation and `check --help` are generic over the table, so a new rule is
one `Rule(...)` here (plus, when it reads a new number, one field of Metrics).

dive's three rules keep dive's defaults; layerscope's own default to disabled so that a
`.dive-ci` means what it meant to dive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from layerscope.limits import parse_bytes

Threshold = float | int

# "", "disabled", "off" and "false" disable a rule (dive's isRuleDisabled)
OFF = frozenset({"", "disabled", "off", "false"})
_ON = frozenset({"true", "on", "yes", "enabled", "1"})
_NO = OFF | {"no", "0"}
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat for the forms config files use (no whitespace, no underscores)."""
    if _GO_FLOAT.fullmatch(text) or text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return float(text)
    raise ValueError(f"{text!r} is not a number")


def _ratio(value: str) -> Threshold:
    ratio = parse_go_float(value)
    if math.isnan(ratio) or not 0 <= ratio <= 1:
        raise ValueError(f"{value!r} is outside the allowed range 0..1")
    return ratio


def _at_least_one(value: str) -> Threshold | None:
    """`signed: true`: at least one (valid signature) is required."""
    flag = _flag(value)
    return None if flag is None else 1


def _flag(value: str) -> Threshold | None:
    low = value.lower()
    if low in _ON:
        return 0  # fail on any count above zero
    if low in _NO:
        return None
    raise ValueError(f"{value!r} is not true or false")


@dataclass(frozen=True, slots=True)
class Kind:
    """How a rule's configured text becomes a threshold (None: the rule is disabled)."""

    name: str
    parse_value: Callable[[str], Threshold | None]
    disables: frozenset[str]  # texts (lowercase, stripped) that turn the rule off

    def parse(self, text: str) -> Threshold | None:
        """The threshold `text` configures; ValueError naming `text` if it is invalid."""
        if text.strip().lower() in self.disables:
            return None
        return self.parse_value(text)  # unstripped: dive's ParseFloat/ParseBytes refuse " 5MB"


RATIO = Kind("ratio", _ratio, OFF)
BYTES = Kind("bytes", parse_bytes, OFF)  # go-humanize ParseBytes, as dive reads sizes
FLAG = Kind("flag", _flag, frozenset())  # false/no/off are the flag's own "disabled"
REQUIRE = Kind("flag", _at_least_one, frozenset())  # a flag whose "true" asks for one


class Fails(Enum):
    """The side of the threshold on which the metric fails the rule."""

    BELOW = "below"  # a floor: the rule fails when the metric < threshold
    ABOVE = "above"  # a ceiling: the rule fails when the metric > threshold

    def failed(self, value: float, threshold: float) -> bool:
        return value < threshold if self is Fails.BELOW else value > threshold

    def operator(self, failed: bool) -> str:
        if self is Fails.BELOW:
            return "<" if failed else ">="
        return ">" if failed else "<="


@dataclass(frozen=True, slots=True)
class Rule:
    key: str  # layerscope's kebab-case name: the JSON key, `--rule` and `rules:` name
    legacy: str  # dive's camelCase name; wins over `key` when both are set (as in dive)
    kind: Kind
    default: str  # as configured text, so `configured` reads the same for both
    metric: str  # a field of engine.metrics.Metrics
    fails: Fails
    label: str  # what the metric is, in the rule's message ("efficiency 0.8 < 0.9")
    summary: str  # one line for `check --help`
    dive: bool = False  # one of dive's rules: skipped when dive's numbers are missing
    unavailable: str = "not computable for this image"  # why, when the metric is None
    # a Metrics field that, when not None, says why the metric was not fully measured:
    # the rule then fails as incomplete (a CI gate must not pass on part of the image)
    incomplete: str | None = None
    findings: bool = False  # counts findings that an allowlist or a baseline can accept

    def names(self) -> tuple[str, str]:
        return (self.key, self.legacy)


RULES: tuple[Rule, ...] = (
    Rule(
        key="lowest-efficiency",
        legacy="lowestEfficiency",
        kind=RATIO,
        default="0.9",
        metric="efficiency",
        fails=Fails.BELOW,
        label="efficiency",
        summary="dive's efficiency score, 0..1",
        dive=True,
    ),
    Rule(
        key="highest-wasted-bytes",
        legacy="highestWastedBytes",
        kind=BYTES,
        default="disabled",
        metric="wasted_bytes",
        fails=Fails.ABOVE,
        label="wasted bytes (dive)",
        summary="dive's wasted bytes, e.g. 20MB",
        dive=True,
    ),
    Rule(
        key="highest-user-wasted-percent",
        legacy="highestUserWastedPercent",
        kind=RATIO,
        default="0.1",
        metric="user_wasted_percent",
        fails=Fails.ABOVE,
        label="wasted/user bytes",
        summary="dive's wasted/user bytes, 0..1",
        dive=True,
        # dive's ratio is NaN without user layers, and NaN > threshold is false
        unavailable="no user layers to relate waste to (dive passes this rule)",
    ),
    Rule(
        key="highest-reclaimable-bytes",
        legacy="highestReclaimableBytes",
        kind=BYTES,
        default="disabled",
        metric="reclaimable_bytes",
        fails=Fails.ABOVE,
        label="reclaimable bytes",
        summary="honest reclaimable bytes",
    ),
    Rule(
        key="max-image-size",
        legacy="maxImageSize",
        kind=BYTES,
        default="disabled",
        metric="image_bytes",
        fails=Fails.ABOVE,
        label="image bytes",
        summary="regular-file bytes in all layers",
    ),
    Rule(
        key="no-secrets",
        legacy="noSecrets",
        kind=FLAG,
        default="disabled",
        metric="secrets",
        fails=Fails.ABOVE,
        label="secrets found",
        summary="true: fail on any secret",
        incomplete="secrets_incomplete",
        findings=True,
    ),
    Rule(
        key="no-caches",
        legacy="noCaches",
        kind=FLAG,
        default="disabled",
        metric="cache_bytes",
        fails=Fails.ABOVE,
        label="cache bytes",
        summary="true: fail on caches left in the image",
        findings=True,
    ),
    Rule(
        key="signed",
        legacy="requireSignature",  # a camelCase alias, as the other rules have
        kind=REQUIRE,
        default="disabled",
        metric="valid_signatures",
        fails=Fails.BELOW,
        label="valid signatures from the keyring",
        summary="true: fail unless a SIF signature verifies against --keyring",
    ),
)

_BY_NAME = {name.lower(): rule for rule in RULES for name in rule.names()}


def find(name: str) -> Rule | None:
    """The rule `name` (kebab-case or dive's camelCase, any letter case) configures."""
    return _BY_NAME.get(name.strip().lower())


def get(key: str) -> Rule:
    """The rule named `key`; KeyError if there is none."""
    rule = find(key)
    if rule is None:
        raise KeyError(key)
    return rule


def rules_help() -> str:
    """The rule list of `check --help` (click's \\b keeps its lines as written)."""
    lines = ["\b", "Rules (in --ci-config FILE, else ./.dive-ci, under `rules:`):"]
    width = max(len(r.key) for r in RULES) + 3
    lines += [f"  {r.key:<{width}}{r.summary} (default {r.default})" for r in RULES]
    lines.append(
        'dive\'s camelCase names (lowestEfficiency, ...) are accepted; "disabled" turns a rule off.'
    )
    lines.append(
        "A `layerscope:` section accepts findings: `allow:` path globs per rule (no-secrets,"
    )
    lines.append(
        "no-caches), `baseline: FILE` (see --write-baseline), `package-secrets: true` to count"
    )
    lines.append("secrets in files a package installed unchanged.")
    return "\n".join(lines)
