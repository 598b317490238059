"""CI rules: dive's `.dive-ci` read as dive reads it, plus layerscope's own rules.

dive's keys (wagoodman/dive `cmd/dive/cli/internal/options/ci_rules.go`, `command/ci/
rules.go`): `rules.lowest-efficiency` (default 0.9), `rules.highest-wasted-bytes` (default
disabled), `rules.highest-user-wasted-percent` (default 0.1); the legacy camelCase forms
(`lowestEfficiency`...) win when set; keys match case-insensitively; "", "disabled", "off"
and "false" disable a rule; byte sizes are parsed as go-humanize's ParseBytes does ("20MB"
= 20*1000^2, "20MiB" = 20*1024^2, "20m", "1.5 GB"); ratios must lie in 0..1.

layerscope adds `highest-reclaimable-bytes`, `max-image-size` (bytes), `no-secrets` and
`no-caches` (true to enable); all four default to disabled so a dive config means what it
meant to dive. Any bad value is a UsageError (exit 2) naming the file and the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from layerscope.check.yaml_subset import Mapping, YamlError, parse
from layerscope.errors import UsageError
from layerscope.limits import parse_bytes

DEFAULT_FILE = ".dive-ci"

_GO_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_OFF = frozenset({"", "disabled", "off", "false"})
_ON = frozenset({"true", "on", "yes", "enabled", "1"})
_NO = _OFF | {"no", "0"}


@dataclass(slots=True, frozen=True)
class RuleDef:
    key: str  # canonical kebab-case name
    legacy: str  # dive's camelCase name (layerscope's rules accept one too)
    kind: str  # "ratio", "bytes", "flag"
    default: str
    dive: bool


RULES: tuple[RuleDef, ...] = (
    RuleDef("lowest-efficiency", "lowestEfficiency", "ratio", "0.9", True),
    RuleDef("highest-wasted-bytes", "highestWastedBytes", "bytes", "disabled", True),
    RuleDef("highest-user-wasted-percent", "highestUserWastedPercent", "ratio", "0.1", True),
    RuleDef("highest-reclaimable-bytes", "highestReclaimableBytes", "bytes", "disabled", False),
    RuleDef("max-image-size", "maxImageSize", "bytes", "disabled", False),
    RuleDef("no-secrets", "noSecrets", "flag", "disabled", False),
    RuleDef("no-caches", "noCaches", "flag", "disabled", False),
)


@dataclass(slots=True, frozen=True)
class Rule:
    key: str
    configured: str  # the value as written (or the default)
    threshold: float | int | None  # None: disabled
    source: str  # the config file, "default" or "--rule"


@dataclass(slots=True)
class CiConfig:
    path: str | None
    rules: list[Rule]
    warnings: list[str] = field(default_factory=list)

    def rule(self, key: str) -> Rule:
        return next(r for r in self.rules if r.key == key)


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat for the forms config files use (no whitespace, no underscores)."""
    if _GO_FLOAT.match(text) or text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return float(text)
    raise ValueError(f"invalid number {text!r}")


def parse_dive_bytes(text: str) -> int:
    """go-humanize ParseBytes (limits.parse_bytes: the one size syntax of layerscope)."""
    return parse_bytes(text)


def _threshold(rule: RuleDef, value: str) -> float | int | None:
    low = value.strip().lower()
    if rule.kind == "flag":
        if low in _ON:
            return 0
        if low in _NO:
            return None
        raise ValueError(f"expected true or false, got {value!r}")
    if low in _OFF:
        return None
    if rule.kind == "bytes":
        return parse_dive_bytes(value)
    ratio = parse_go_float(value)
    if math.isnan(ratio) or not 0 <= ratio <= 1:
        raise ValueError(f"outside the allowed range (0-1), given {value!r}")
    return ratio


def build_config(
    settings: Mapping | None, path: str | None, overrides: dict[str, str] | None = None
) -> CiConfig:
    """Rules from a parsed config (its `rules` mapping) and --rule overrides."""
    where = path or "default"
    rules_map: Mapping = {}
    warnings: list[str] = []
    if settings:
        raw = _get(settings, "rules")
        if isinstance(raw, dict):
            rules_map = raw
        elif raw is not None:
            raise UsageError(f"{where}: 'rules' must be a mapping of rule: value")
    known = {d.key.lower() for d in RULES} | {d.legacy.lower() for d in RULES}
    for name in rules_map:
        if name.lower() not in known:
            warnings.append(f"{where}: unknown rule {name!r} ignored")
    out: list[Rule] = []
    for d in RULES:
        value, source = d.default, "default"
        for name in (d.key, d.legacy):  # the legacy camelCase form wins when set (dive)
            got = _get(rules_map, name)
            if isinstance(got, dict):
                raise UsageError(f"{where}: rules.{name}: expected a value, got a mapping")
            if got is not None and (got != "" or name == d.key):
                value, source = got, where
        if overrides is not None:
            for name in (d.key, d.legacy):
                if name.lower() in overrides:
                    value, source = overrides[name.lower()], "--rule"
        try:
            threshold = _threshold(d, value)
        except ValueError as e:
            raise UsageError(f"{source}: invalid {d.key} value: {e}") from None
        out.append(Rule(d.key, value, threshold, source))
    return CiConfig(path, out, warnings)


def _get(mapping: Mapping, name: str) -> str | Mapping | None:
    """Keys match case-insensitively, as viper and mapstructure match them."""
    found: str | Mapping | None = None
    for key, value in mapping.items():
        if key.lower() == name.lower():
            found = value
    return found


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    known = {d.key.lower() for d in RULES} | {d.legacy.lower() for d in RULES}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name.strip().lower() not in known:
            raise UsageError(f"--rule {item!r}: expected RULE=VALUE with a known rule")
        out[name.strip().lower()] = value.strip()
    return out


def load_ci_config(
    path: str | None, cwd: Path | None = None, overrides: dict[str, str] | None = None
) -> CiConfig:
    """`path` if given (it must exist), else `.dive-ci` in `cwd` if present, else defaults."""
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_FILE
        if not candidate.is_file():
            return build_config(None, None, overrides)
        file = candidate
        shown = DEFAULT_FILE
    else:
        file = Path(path)
        shown = path
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as e:
        raise UsageError(f"{shown}: cannot read the CI config: {e}") from None
    try:
        settings = parse(text)
    except YamlError as e:
        raise UsageError(f"{shown}: {e}") from None
    return build_config(settings, shown, overrides)


@dataclass(slots=True, frozen=True)
class Metrics:
    """What the rules are evaluated against (from an analysis Report)."""

    efficiency: float | None  # None: dive's numbers could not be computed
    wasted_bytes: int | None
    user_wasted_percent: float | None  # None: no user layers (dive: NaN)
    reclaimable_bytes: int
    image_bytes: int
    secrets: int
    cache_bytes: int


@dataclass(slots=True, frozen=True)
class RuleResult:
    key: str
    status: str  # PASS, FAIL, SKIP
    value: float | int | None
    threshold: float | int | None
    configured: str
    message: str


def evaluate(config: CiConfig, m: Metrics) -> list[RuleResult]:
    values: dict[str, float | int | None] = {
        "lowest-efficiency": m.efficiency,
        "highest-wasted-bytes": m.wasted_bytes,
        "highest-user-wasted-percent": m.user_wasted_percent,
        "highest-reclaimable-bytes": m.reclaimable_bytes,
        "max-image-size": m.image_bytes,
        "no-secrets": m.secrets,
        "no-caches": m.cache_bytes,
    }
    out = []
    for rule in config.rules:
        value = values[rule.key]
        if rule.threshold is None:
            out.append(RuleResult(rule.key, "SKIP", value, None, rule.configured, "disabled"))
            continue
        if value is None:
            why = (
                "dive's numbers could not be computed"
                if m.efficiency is None
                else "no user layers to relate waste to (dive passes this rule)"
            )
            out.append(RuleResult(rule.key, "SKIP", None, rule.threshold, rule.configured, why))
            continue
        if rule.key == "lowest-efficiency":
            failed = rule.threshold > value
            msg = f"efficiency {value:.4f} {'<' if failed else '>='} {rule.threshold}"
        else:
            failed = value > rule.threshold
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            msg = f"{_MESSAGES[rule.key]} {shown} {'>' if failed else '<='} {rule.threshold}"
        out.append(
            RuleResult(
                rule.key, "FAIL" if failed else "PASS", value, rule.threshold, rule.configured, msg
            )
        )
    return out


_MESSAGES = {
    "highest-wasted-bytes": "wasted bytes (dive)",
    "highest-user-wasted-percent": "wasted/user bytes",
    "highest-reclaimable-bytes": "reclaimable bytes",
    "max-image-size": "image bytes",
    "no-secrets": "secrets found",
    "no-caches": "cache bytes",
}
