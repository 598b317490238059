"""The CI config: dive's `.dive-ci` read as dive reads it, `--rule` overrides on top.

As in dive (wagoodman/dive: viper's `GetString("rules.<name>")` up to 0.12, the
`legacyRuleFile` of `cmd/dive/cli/internal/options/ci.go` since): rules live under `rules:`;
dive's camelCase names (`lowestEfficiency`) win over layerscope's kebab-case ones when both
are set; keys match case-insensitively; a null value leaves the default; "", "disabled",
"off" and "false" disable a rule; sizes are go-humanize's ("20MB" = 20*1000^2, "20MiB" =
20*1024^2); ratios lie in 0..1. Keys dive does not know (its own example's `plugins:`, a
`plugin1/rule1` rule) are warnings, not errors. A bad value is a UsageError (exit 2)
naming the file, the line, the rule and the value.

The top level is read through SECTIONS, one reader per key. dive ignores keys it does not
know, so layerscope's own settings live in a `layerscope:` section of the same file:

    layerscope:
      allow:                          # findings accepted, by rule: path globs
        no-secrets: ["/usr/share/doc/**", "/opt/app/tests/*.pem"]
        no-caches: ["/var/cache/apt"]
      baseline: .layerscope-baseline.json   # fingerprints of accepted findings
      package-secrets: false          # true: count secrets shipped by packages too
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from layerscope.check import dive_yaml
from layerscope.check.dive_yaml import LinedMap, go_string
from layerscope.check.rules import RULES, Rule, Threshold, find, get
from layerscope.errors import UsageError

DEFAULT_FILE = ".dive-ci"
# A config is the user's own file, not an image; the cap only stops a mistake such as
# `--ci-config /dev/zero` from eating memory. Real ones are a few hundred bytes.
MAX_FILE_BYTES = 1 << 20


@dataclass(slots=True, frozen=True)
class RuleSetting:
    """One rule as configured."""

    key: str
    configured: str  # the value as viper's GetString gives it (or the default)
    threshold: Threshold | None  # None: disabled
    source: str  # the config file, "default" or "--rule"


@dataclass(slots=True)
class CiConfig:
    path: str | None
    rules: list[RuleSetting]  # one per rule of RULES, in its order
    warnings: list[str] = field(default_factory=list)
    allow: dict[str, list[str]] = field(default_factory=dict)  # rule key -> path globs
    baseline: str | None = None  # a baseline file named by the config (relative to it)
    package_secrets: bool = False  # count secrets in files packages installed unchanged

    def rule(self, key: str) -> RuleSetting:
        return next(r for r in self.rules if r.key == key)


@dataclass(slots=True, frozen=True)
class _Value:
    text: str  # as GetString gives it
    source: str  # for CiConfig: the file or "--rule"
    origin: str  # for errors: "FILE: line 3: rules.lowestEfficiency" or "--rule k=v"


@dataclass(slots=True)
class _Draft:
    """What a config file set, before defaults and overrides."""

    where: str
    values: dict[str, _Value] = field(default_factory=dict)  # rule key -> value
    warnings: list[str] = field(default_factory=list)
    allow: dict[str, list[str]] = field(default_factory=dict)
    baseline: str | None = None
    package_secrets: bool = False

    def at(self, line: int | None) -> str:
        return f"{self.where}: line {line}" if line else self.where


def _read_rules(draft: _Draft, section: object, line: int | None) -> None:
    if section is None:
        return
    if not isinstance(section, LinedMap):
        raise UsageError(f"{draft.at(line)}: 'rules' must be a mapping of rule: value")
    legacy: dict[str, _Value] = {}
    for name, value in section.items():
        written = _key_text(name)
        at = draft.at(section.lines.get(name))
        rule = find(written)
        if rule is None:
            draft.warnings.append(f"{at}: unknown rule {written!r} ignored")
            continue
        if value is None:  # `lowestEfficiency:` with no value leaves the default (dive)
            continue
        try:
            text = go_string(value)
        except ValueError as e:
            raise UsageError(f"{at}: rules.{written}: {e}") from None
        named = written if written == rule.key else f"{written} ({rule.key})"
        got = _Value(text, draft.where, f"{at}: rules.{named}")
        is_legacy = written.lower() == rule.legacy.lower()
        (legacy if is_legacy else draft.values)[rule.key] = got
    draft.values.update(legacy)  # dive's camelCase names win when set


def _read_layerscope(draft: _Draft, section: object, line: int | None) -> None:
    if section is None:
        return
    if not isinstance(section, LinedMap):
        raise UsageError(f"{draft.at(line)}: 'layerscope' must be a mapping")
    for key, value in section.items():
        name = _key_text(key).lower()
        at = draft.at(section.lines.get(key))
        if name == "allow":
            _read_allow(draft, value, at)
        elif name == "baseline":
            if not isinstance(value, str) or not value:
                raise UsageError(f"{at}: layerscope.baseline must be a file name")
            draft.baseline = value
        elif name in ("package-secrets", "packagesecrets"):
            if not isinstance(value, bool):
                raise UsageError(f"{at}: layerscope.package-secrets must be true or false")
            draft.package_secrets = value
        else:
            draft.warnings.append(f"{at}: unknown key 'layerscope.{_key_text(key)}' ignored")


def _read_allow(draft: _Draft, value: object, at: str) -> None:
    if not isinstance(value, LinedMap):
        raise UsageError(f"{at}: layerscope.allow must map rules to lists of path globs")
    for name, globs in value.items():
        written = _key_text(name)
        where = draft.at(value.lines.get(name))
        rule = find(written)
        if rule is None:
            raise UsageError(f"{where}: layerscope.allow: {_unknown(written)}")
        if not rule.findings:
            raise UsageError(f"{where}: layerscope.allow: {rule.key} counts no findings to allow")
        if isinstance(globs, str):
            globs = [globs]
        if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
            raise UsageError(f"{where}: layerscope.allow.{written} must be a list of path globs")
        draft.allow.setdefault(rule.key, []).extend(globs)


# top-level key (lowercase) -> reader of its value
SECTIONS: dict[str, Callable[[_Draft, object, int | None], None]] = {
    "rules": _read_rules,
    "layerscope": _read_layerscope,
}


def _key_text(key: object) -> str:
    try:
        return go_string(key)
    except ValueError:
        return repr(key)


def _read_document(doc: object, where: str) -> _Draft:
    draft = _Draft(where)
    if doc is None:  # an empty file: dive's defaults
        return draft
    if not isinstance(doc, LinedMap):
        raise UsageError(f"{where}: expected a mapping such as 'rules: ...' at the top level")
    for key, value in doc.items():
        written = _key_text(key)
        line = doc.lines.get(key)
        reader = SECTIONS.get(written.lower())
        if reader is None:
            draft.warnings.append(f"{draft.at(line)}: unknown key {written!r} ignored")
        else:
            reader(draft, value, line)
    return draft


def _setting(rule: Rule, value: _Value | None) -> RuleSetting:
    if value is None:
        text, source, origin = rule.default, "default", f"default {rule.key}"
    else:
        text, source, origin = value.text, value.source, value.origin
    try:
        threshold = rule.kind.parse(text)
    except ValueError as e:
        raise UsageError(f"{origin}: {e}") from None
    return RuleSetting(rule.key, text, threshold, source)


def build_config(
    settings: object, path: str | None, overrides: Mapping[str, str] | None = None
) -> CiConfig:
    """Rules from a loaded config document (None: no file) and `--rule` overrides (rule
    name, kebab-case or camelCase, to value). Every value given is checked, including a
    file's value that an override replaces: a bad file is a bad file."""
    draft = _read_document(settings, path or "default")
    for key, value in draft.values.items():
        _setting(get(key), value)
    chosen = dict(draft.values)
    for name, text in (overrides or {}).items():
        rule = find(name)
        if rule is None:
            raise UsageError(f"--rule {name}={text}: {_unknown(name)}")
        chosen[rule.key] = _Value(text, "--rule", f"--rule {name}={text}")
    rules = [_setting(rule, chosen.get(rule.key)) for rule in RULES]
    baseline = draft.baseline
    if baseline is not None and path is not None and not os.path.isabs(baseline):
        baseline = os.path.join(os.path.dirname(path), baseline)
    return CiConfig(path, rules, draft.warnings, draft.allow, baseline, draft.package_secrets)


def _unknown(name: str) -> str:
    return f"unknown rule {name!r} (known: {', '.join(r.key for r in RULES)})"


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--rule RULE=VALUE` options: rule name as written -> value. A later option for
    the same rule (under either name) replaces an earlier one."""
    out: dict[str, str] = {}
    written: dict[str, str] = {}  # rule key -> the name it was given under
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep:
            raise UsageError(f"--rule {item}: expected RULE=VALUE")
        rule = find(name)
        if rule is None:
            raise UsageError(f"--rule {item}: {_unknown(name)}")
        out.pop(written.get(rule.key, ""), None)
        written[rule.key] = name
        out[name] = value.strip()
    return out


def load_ci_config(
    path: str | None, cwd: Path | None = None, overrides: Mapping[str, str] | None = None
) -> CiConfig:
    """`path` if given (it must exist), else `.dive-ci` in `cwd` if present, else defaults."""
    if path is None:
        candidate = (cwd or Path.cwd()) / DEFAULT_FILE
        if not candidate.is_file():
            return build_config(None, None, overrides)
        file, shown = candidate, DEFAULT_FILE
    else:
        file, shown = Path(path), path
    return build_config(_load(file, shown), shown, overrides)


def _load(file: Path, shown: str) -> object:
    try:
        mode = os.stat(file).st_mode
        if stat.S_ISDIR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise UsageError(f"{shown}: the CI config is not a regular file")
        with open(file, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"{shown}: cannot read the CI config: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{shown}: the CI config is larger than {MAX_FILE_BYTES} bytes")
    try:
        return dive_yaml.load(data)
    except yaml.YAMLError as e:
        raise UsageError(f"{shown}: {_yaml_problem(e, data)}") from None
    except RecursionError:
        raise UsageError(f"{shown}: the CI config nests too deeply") from None


def _yaml_problem(e: yaml.YAMLError, data: bytes) -> str:
    """One line from PyYAML's multi-line message: the line number and what is wrong."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        what = f"{e.context}, {e.problem}" if e.context else e.problem
        return f"line {e.problem_mark.line + 1}: {what}" if e.problem_mark else what
    if isinstance(e, yaml.reader.ReaderError):
        if e.encoding != "unicode":  # a decoding error; position: a byte offset
            line = data[: e.position].count(b"\n") + 1
            return f"line {line}: not {e.encoding} text ({e.reason})"
        line = data.decode("utf-8", "replace")[: e.position].count("\n") + 1
        return f"line {line}: character #x{e.character:04x} is not allowed in YAML"
    return str(e).splitlines()[0] if str(e) else type(e).__name__
