"""The analysis Report as JSON-ready data (sizes in integer bytes, absolute paths).

Used by `check --json`, `inspect --json` and anything else that prints a Report, so the
shape is defined once."""

from __future__ import annotations

from typing import Any

from layerscope.engine.analysis import Report
from layerscope.model.bloat.largest import Sized
from layerscope.model.bloat.secrets import SecretFinding


def report_json(r: Report) -> dict[str, Any]:
    return {
        "image": {
            "source": r.ref,
            "format": r.format,
            "layers": r.layer_count,
            "upto": r.upto,
        },
        "sizes": {
            "image_bytes": r.image_bytes,
            "final_bytes": r.final_bytes,
            "reclaimable_bytes": r.waste.total,
            "cache_bytes": r.cache_bytes,
            "duplicate_savings_bytes": r.duplicates.total_savings,
        },
        "dive": _dive(r),
        "reclaimable": _waste(r),
        "duplicates": {
            "total_savings": r.duplicates.total_savings,
            "complete": r.duplicates.complete,
            "sets": [
                {"size": s.size, "savings": s.savings, "paths": s.paths, "layers": s.layers}
                for s in r.duplicates.sets
            ],
        },
        "caches": {
            "total": r.cache_bytes,
            "findings": [
                {
                    "class": j.cls,
                    "path": j.path,
                    "bytes": j.bytes,
                    "files": j.files,
                    "layers": j.layers,
                }
                for j in r.junk
            ],
        },
        "secrets": {
            "deep_scan": r.deep_secrets,
            "findings": [secret_json(s) for s in r.secrets],
        },
        "largest": {
            "files": [_sized(s) for s in r.largest.files],
            "dirs": [_sized(s) for s in r.largest.dirs],
            "per_layer": [[_sized(s) for s in rows] for rows in r.largest.per_layer],
        },
        "bytes_read": r.bytes_read,
        "notes": r.notes,
    }


def summary_json(r: Report) -> dict[str, Any]:
    """The headline numbers only (for `inspect --json` and status lines)."""
    d = r.dive
    return {
        "efficiency": None if d is None else d.efficiency,
        "wasted_bytes": None if d is None else d.wasted_bytes,
        "user_wasted_percent": None if d is None else d.user_wasted_percent,
        "image_bytes": r.image_bytes,
        "final_bytes": r.final_bytes,
        "reclaimable_bytes": r.waste.total,
        "cache_bytes": r.cache_bytes,
        "duplicate_savings_bytes": r.duplicates.total_savings,
        "secrets": len(r.secrets),
        "secrets_recoverable": sum(1 for s in r.secrets if s.recoverable),
    }


def _dive(r: Report) -> dict[str, Any] | None:
    d = r.dive
    if d is None:
        return None
    return {
        "efficiency": d.efficiency,
        "wasted_bytes": d.wasted_bytes,
        "user_wasted_percent": d.user_wasted_percent,
        "size_bytes": d.size_bytes,
        "user_size_bytes": d.user_size_bytes,
        "layer_sizes": d.layer_sizes,
        "inefficiencies": [
            {"path": p.path, "count": p.count, "cumulative": p.cumulative, "minimum": p.minimum}
            for p in d.inefficiencies
        ],
        "notes": d.notes,
    }


def _waste(r: Report) -> dict[str, Any]:
    w = r.waste
    return {
        "total": w.total,
        "by_reason": dict(sorted(w.by_reason.items())),
        "by_layer": [
            {"layer": i, "written": written, "hidden": hidden}
            for i, (written, hidden) in enumerate(
                zip(w.written_by_layer, w.hidden_by_layer, strict=True)
            )
        ],
        "items": [
            {
                "path": item.path,
                "size": item.size,
                "layer": item.layer,
                "hidden_by": item.hidden_by,
                "reason": item.reason,
                "class": r.waste_classes.get(item.path),
            }
            for item in w.items
        ],
    }


def secret_json(s: SecretFinding) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "source": s.source,
        "location": s.location,
        "how": s.how,
        "detail": s.detail,
        "line": s.line,
        "layer": s.layer,
        "hidden_by": s.hidden_by,
        "hidden_how": s.hidden_how,
        "visible": s.visible,
        "recoverable": s.recoverable,
        "status": s.status(),
    }


def _sized(s: Sized) -> dict[str, Any]:
    return {"path": s.path, "size": s.size, "layer": s.layer, "visible": s.visible}
