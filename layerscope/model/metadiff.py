"""Differences in what two images say of themselves (config, history, SIF metadata)."""

from __future__ import annotations

import difflib
from typing import Any

from layerscope.model.image import ImageMeta

CONFIG_KEYS = (
    "User",
    "WorkingDir",
    "Entrypoint",
    "Cmd",
    "Env",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
)


def unified(old: str | None, new: str | None, name: str) -> str | None:
    if (old or "") == (new or ""):
        return None
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def dict_delta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    added = {k: new[k] for k in sorted(new.keys() - old.keys())}
    removed = {k: old[k] for k in sorted(old.keys() - new.keys())}
    changed = {
        k: {"old": old[k], "new": new[k]}
        for k in sorted(old.keys() & new.keys())
        if old[k] != new[k]
    }
    if not (added or removed or changed):
        return None
    return {"added": added, "removed": removed, "changed": changed}


def env_dict(env: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env or []:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def meta_diff(a: ImageMeta, b: ImageMeta) -> dict[str, Any]:
    """Only what differs; an empty dict means the metadata is the same. Config and history
    are compared only when both formats can carry them."""
    out: dict[str, Any] = {}
    config: dict[str, Any] = {}
    both_carry = a.carries_config and b.carries_config
    for key in CONFIG_KEYS if both_carry else ():
        old, new = a.config.get(key), b.config.get(key)
        if key == "Env":
            delta = dict_delta(env_dict(old), env_dict(new))
            if delta:
                config[key] = delta
        elif key == "Labels":
            delta = dict_delta(old or {}, new or {})
            if delta:
                config[key] = delta
        elif old != new:
            config[key] = {"old": old, "new": new}
    if config:
        out["config"] = config
    hist_a = [h.get("created_by", "") for h in a.history]
    hist_b = [h.get("created_by", "") for h in b.history]
    if both_carry and hist_a != hist_b:
        out["history"] = {
            "old": hist_a,
            "new": hist_b,
            "diff": unified("\n".join(hist_a) + "\n", "\n".join(hist_b) + "\n", "history"),
        }
    for key in ("architecture", "os"):
        if both_carry and getattr(a, key) != getattr(b, key):
            out[key] = {"old": getattr(a, key), "new": getattr(b, key)}
    labels = dict_delta(a.labels, b.labels)
    if labels:
        out["labels"] = labels
    for key, name in (
        ("definition", "Singularity"),
        ("environment", "environment"),
        ("runscript", "runscript"),
        ("startscript", "startscript"),
        ("test", "test"),
        ("help", "runscript.help"),
    ):
        text = unified(getattr(a, key), getattr(b, key), name)
        if text:
            out[key] = text
    return out
