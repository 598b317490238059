"""`layerscope limits`: every safety cap, its value now, and the knobs that raise it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from layerscope import limits

SCHEMA = "layerscope.limits/1"


def limits_json() -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "limits": [
            {
                "name": lim.name,
                "value": limits.get(lim.name),
                "default": lim.default,
                "env": lim.env,
                "doc": lim.doc,
            }
            for lim in limits.LIMITS.values()
        ],
    }


def limits_lines() -> Iterator[str]:
    for lim in limits.LIMITS.values():
        now = limits.get(lim.name)
        changed = "" if now == lim.default else f" (default {lim.default:,})"
        yield f"{lim.name} = {now:,}{changed}"
        yield f"    {lim.doc}"
        yield f"    raise with --limit {lim.name}=N or {lim.env}=N"
