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
from typing import Any

from layerscope.limits import parse_bytes
from layerscope.model.portability.arch import normalize_arch
from layerscope.model.portability.levels import level_name, parse_level
from layerscope.model.portability.query import parse_kernel
from layerscope.model.portability.stacks import parse_mpi_spec
from layerscope.model.portability.versions import compare_versions

# A number for the size and ratio rules; a text for the portability rules that compare
# names or versions (an architecture, a kernel version, an MPI such as openmpi>=4.1).
Threshold = float | int | str

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
    show: Callable[[Any], str] = str  # a threshold or a metric value, in a message

    def parse(self, text: str) -> Threshold | None:
        """The threshold `text` configures; ValueError naming `text` if it is invalid."""
        if text.strip().lower() in self.disables:
            return None
        return self.parse_value(text)  # unstripped: dive's ParseFloat/ParseBytes refuse " 5MB"


RATIO = Kind("ratio", _ratio, OFF)
BYTES = Kind("bytes", parse_bytes, OFF)  # go-humanize ParseBytes, as dive reads sizes
FLAG = Kind("flag", _flag, frozenset())  # false/no/off are the flag's own "disabled"
REQUIRE = Kind("flag", _at_least_one, frozenset())  # a flag whose "true" asks for one


def _level(value: Any) -> str:
    return level_name(value) if isinstance(value, int) else str(value)


def _listed(value: Any) -> str:
    if value == ():
        return "none"
    if isinstance(value, tuple):
        return ", ".join(f"{v[0]} {v[1] or '?'}" if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


def _mpi_spec(text: str) -> str:
    return str(parse_mpi_spec(text))


ISA_LEVEL = Kind("x86-64 level", parse_level, OFF, _level)  # x86-64-v2
ARCH = Kind("architecture", normalize_arch, OFF, _listed)  # amd64 (x86_64 reads the same)
KERNEL = Kind("kernel version", parse_kernel, OFF)  # 3.10.0
MPI = Kind("MPI", _mpi_spec, OFF, _listed)  # openmpi>=4.1, mpich-abi


class Fails(Enum):
    """The side of the threshold on which the metric fails the rule."""

    BELOW = "below"  # a floor: the rule fails when the metric < threshold
    ABOVE = "above"  # a ceiling: the rule fails when the metric > threshold

    def failed(self, value: Any, threshold: Any) -> bool:
        return bool(value < threshold if self is Fails.BELOW else value > threshold)

    def operator(self, failed: bool) -> str:
        if self is Fails.BELOW:
            return "<" if failed else ">="
        return ">" if failed else "<="


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison that is not number against number: `fails(value, threshold)` says
    when the metric fails the rule; `words` are the operators its message uses (passed,
    failed)."""

    fails: Callable[[Any, Any], bool]
    words: tuple[str, str]

    def failed(self, value: Any, threshold: Any) -> bool:
        return self.fails(value, threshold)

    def operator(self, failed: bool) -> str:
        return self.words[failed]


def _other_arch(found: Any, wanted: Any) -> bool:
    return any(a != wanted for a in found)


def _newer_kernel(floor: Any, host: Any) -> bool:
    return compare_versions(str(floor), str(host)) > 0


def _no_mpi(found: Any, spec: Any) -> bool:
    wanted = parse_mpi_spec(str(spec))
    return not any(wanted.matches(family, version) for family, version in found)


@dataclass(frozen=True, slots=True)
class Rule:
    key: str  # layerscope's kebab-case name: the JSON key, `--rule` and `rules:` name
    legacy: str  # dive's camelCase name; wins over `key` when both are set (as in dive)
    kind: Kind
    default: str  # as configured text, so `configured` reads the same for both
    metric: str  # a field of engine.metrics.Metrics
    fails: Fails | Compare
    label: str  # what the metric is, in the rule's message ("efficiency 0.8 < 0.9")
    summary: str  # one line for `check --help`
    dive: bool = False  # one of dive's rules: skipped when dive's numbers are missing
    unavailable: str = "not computable for this image"  # why, when the metric is None
    # a Metrics field that, when not None, says why the metric was not fully measured:
    # the rule then fails as incomplete (a CI gate must not pass on part of the image)
    incomplete: str | None = None
    findings: bool = False  # counts findings that an allowlist or a baseline can accept
    portability: bool = False  # reads the portability report (check computes it then)

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
    Rule(
        key="max-isa",
        legacy="maxIsa",
        kind=ISA_LEVEL,
        default="disabled",
        metric="isa_level",
        fails=Fails.ABOVE,
        label="x86-64 level",
        summary="the highest x86-64 level allowed, e.g. x86-64-v2",
        unavailable="no x86-64 code in the image",
        portability=True,
    ),
    Rule(
        key="architecture",
        legacy="architecture",
        kind=ARCH,
        default="disabled",
        metric="architectures",
        fails=Compare(_other_arch, ("==", "!=")),
        label="architectures",
        summary="the only architecture allowed (declared and of every ELF file), e.g. amd64",
        portability=True,
    ),
    Rule(
        key="min-kernel",
        legacy="minKernel",
        kind=KERNEL,
        default="disabled",
        metric="kernel_floor",
        fails=Compare(_newer_kernel, ("<=", ">")),
        label="kernel the image needs",
        summary="the oldest host kernel to run on, e.g. 3.10.0",
        unavailable="the image declares no kernel floor (no glibc)",
        portability=True,
    ),
    Rule(
        key="mpi",
        legacy="mpi",
        kind=MPI,
        default="disabled",
        metric="mpis",
        fails=Compare(_no_mpi, ("matches", "does not match")),
        label="MPI",
        summary="the MPI the image must carry, e.g. openmpi>=4.1 or mpich-abi",
        portability=True,
    ),
    Rule(
        key="no-bundled-gpu-driver",
        legacy="noBundledGpuDriver",
        kind=FLAG,
        default="disabled",
        metric="bundled_gpu_drivers",
        fails=Fails.ABOVE,
        label="bundled NVIDIA driver libraries",
        summary="true: fail on libcuda.so/libnvidia-* that --nv binds from the host",
        portability=True,
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
