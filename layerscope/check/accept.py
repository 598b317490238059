"""Accepting known findings: allowlists of path globs per rule (the config's `layerscope:`
section) and baselines of fingerprints (`check --baseline FILE`, `--write-baseline FILE`).

A finding a glob or the baseline accepts is still reported, marked accepted; it is not
counted by its rule. Only the rules that count findings take them (`Rule.findings`:
no-secrets, no-caches). A fingerprint is a digest of where the finding is, its kind and
a digest of the matched value (`SecretFinding.fingerprint`); a baseline never holds a
secret. Globs: `*` and `?` match within one path component, `**` across components,
`[...]` a character class; a glob matches the whole path (or metadata location such as
`config.Env[2]`: write `config.Env*` for every variable).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerscope.engine.analysis import Report
from layerscope.engine.metrics import Metrics
from layerscope.errors import UsageError
from layerscope.model.bloat.junk import CACHE, JunkFinding

SCHEMA = "layerscope.baseline/1"
SECRETS, CACHES = "no-secrets", "no-caches"
MAX_BASELINE_BYTES = 64 << 20  # a user's own file: the cap only stops a mistake


def glob_regex(glob: str) -> re.Pattern[str]:
    """A path glob as a regex: `**` any path, `*` and `?` within a component."""
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            body = glob[i + 1 : end]
            neg = body.startswith("!")
            out.append("[" + ("^" if neg else "") + re.escape(body[1:] if neg else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def cache_fingerprint(j: JunkFinding) -> str:
    data = f"cache\0{j.path}\0{j.cls}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(slots=True)
class Accepted:
    rule: str
    location: str
    kind: str
    fingerprint: str
    why: str  # "allowlist GLOB" or "baseline"


@dataclass(slots=True)
class Acceptance:
    allow: dict[str, list[str]] = field(default_factory=dict)  # rule key -> globs
    baseline: set[str] | None = None  # fingerprints
    baseline_path: str | None = None

    def why(self, rule: str, location: str, fingerprint: str) -> str | None:
        for glob in self.allow.get(rule, []):
            if glob_regex(glob).match(location):
                return f"allowlist {glob}"
        if self.baseline is not None and fingerprint in self.baseline:
            return "baseline"
        return None


def findings(report: Report) -> list[tuple[str, str, str, str, int]]:
    """(rule, location, kind, fingerprint, bytes) of every finding a rule counts."""
    out = [(SECRETS, s.location, s.kind, s.fingerprint, 0) for s in report.counted_secrets()]
    out += [
        (CACHES, j.path, j.cls, cache_fingerprint(j), j.bytes)
        for j in report.junk
        if j.category == CACHE
    ]
    return out


def apply(
    report: Report, metrics: Metrics, acceptance: Acceptance
) -> tuple[Metrics, list[Accepted]]:
    """The metrics with accepted findings left out, and the accepted findings."""
    accepted: list[Accepted] = []
    secrets, cache_bytes = metrics.secrets, metrics.cache_bytes
    for rule, location, kind, fp, size in findings(report):
        why = acceptance.why(rule, location, fp)
        if why is None:
            continue
        accepted.append(Accepted(rule, location, kind, fp, why))
        if rule == SECRETS:
            secrets -= 1
        else:
            cache_bytes -= size
    return dataclasses.replace(metrics, secrets=secrets, cache_bytes=cache_bytes), accepted


def baseline_json(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "findings": [
            {"rule": rule, "kind": kind, "location": location, "fingerprint": fp}
            for rule, location, kind, fp, _ in findings(report)
        ],
    }


def read_baseline(path: str) -> set[str]:
    """The fingerprints of a baseline file; UsageError (exit 2) if it is not one."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BASELINE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"{path}: cannot read the baseline: {e.strerror or e}") from None
    if len(data) > MAX_BASELINE_BYTES:
        raise UsageError(f"{path}: the baseline is larger than {MAX_BASELINE_BYTES} bytes")
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise UsageError(f"{path}: not a baseline (invalid JSON: {e})") from None
    items = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(items, list):
        raise UsageError(f"{path}: not a baseline (expected schema {SCHEMA})")
    out = set()
    for item in items:
        fp = item.get("fingerprint") if isinstance(item, dict) else None
        if not isinstance(fp, str):
            raise UsageError(f"{path}: a baseline finding without a fingerprint")
        out.add(fp)
    return out


def write_baseline(path: str, report: Report) -> set[str]:
    """Write every counted finding's fingerprint to `path`; the fingerprints written."""
    doc = baseline_json(report)
    try:
        Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    except OSError as e:
        raise UsageError(f"{path}: cannot write the baseline: {e.strerror or e}") from None
    return {item["fingerprint"] for item in doc["findings"]}
