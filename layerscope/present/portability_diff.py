"""Portability changes between two images or steps, as sentences and JSON: "stage 3
raised the x86-64 level to x86-64-v4 (was x86-64-v3): /opt/app/bin/solver"."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from layerscope.model.portability.changes import Change
from layerscope.model.portability.levels import level_name
from layerscope.present.doc import Doc, image
from layerscope.present.text import clean

__all__ = ["change_text", "changes_doc", "changes_json"]

STYLES = {"raised": "alert", "added": "added", "removed": "removed", "lowered": "added"}


def _level(text: str | None) -> str:
    return level_name(int(text)) if text and text.isdigit() else "none"


def change_text(c: Change) -> str:
    """One change as a sentence (its subject, "B" or "stage 3", is put before it). Text
    from the image (versions, paths) is cleaned."""
    old, new = clean(c.old or ""), clean(c.new or "")
    files = ": " + ", ".join(clean(f) for f in c.files[:5]) if c.files else ""
    if len(c.files) > 5:
        files += f" and {len(c.files) - 5} more"
    if c.kind == "isa":
        return f"{c.direction} the x86-64 level to {_level(c.new)} (was {_level(c.old)}){files}"
    if c.kind == "glibc":
        return f"changed glibc from {old or 'none'} to {new or 'none'}"
    if c.kind == "glibc-needed":
        return f"{c.direction} the glibc it needs to {new or 'none'} (was {old or 'none'}){files}"
    if c.kind == "unresolved":
        return f"cannot load{files} (needs {new} from {clean(c.subject)})"
    if c.kind == "kernel":
        return f"{c.direction} the kernel floor to {new or 'none'} (was {old or 'none'}){files}"
    if c.kind == "architecture":
        return f"changed the declared architecture from {old or 'none'} to {new or 'none'}"
    if c.kind == "foreign":
        return f"added a file for another architecture ({new}){files}"
    if c.kind == "component":
        name = clean(c.subject)
        if c.direction == "added":
            return f"added {name} {new}"
        if c.direction == "removed":
            return f"removed {name} {old}"
        return f"changed {name} from {old} to {new}"
    if c.kind == "driver-lib":
        verb = "bundles" if c.direction == "added" else "no longer bundles"
        return f"{verb} an NVIDIA driver library{files}"
    return f"{c.kind}: {old} -> {new}"


def changes_doc(changes: list[Change], subject: str) -> Doc:
    doc = Doc()
    if not changes:
        doc.line((f"{subject}: no portability changes", "dim"))
    for c in changes:
        doc.line(image(subject), " ", (change_text(c), STYLES.get(c.direction, "modified")))
    return doc


def changes_json(changes: list[Change]) -> list[dict[str, Any]]:
    return [{**asdict(c), "message": change_text(c)} for c in changes]
