"""`diff`: the JSON document (schema layerscope.diff/2), the text report, and the metadata
differences the TUI's `m` screen shows too."""

from __future__ import annotations

import json
from typing import Any

from layerscope.engine.compare import ImageDiff
from layerscope.engine.image import Image
from layerscope.model.growth import Growth, diff_growth
from layerscope.model.packages import SYSTEM
from layerscope.model.sizes import LazyLinkCounts
from layerscope.present import units
from layerscope.present.doc import Doc, image
from layerscope.present.entries import image_json, ls_entries
from layerscope.present.text import clean

SCHEMA = "layerscope.diff/2"
META_TITLES = {
    "definition": "Definition file",
    "environment": "Environment script",
    "runscript": "Runscript",
    "startscript": "Start script",
    "test": "Test",
    "help": "Help text",
}
UNIFIED_STYLE = {"+": "added", "-": "removed", "@": "dim"}


def diff_json(d: ImageDiff) -> dict[str, Any]:
    ta, tb = d.a.tree, d.b.tree
    grew = _growth(d)
    links_a, links_b = LazyLinkCounts(ta), LazyLinkCounts(tb)
    # LsEntry structs, not dicts: the document is encoded by msgspec (dump_json), and a
    # diff of two big images reports tens of thousands of entries
    added = list(ls_entries(tb, ((n, p) for p, n in d.tree.added), links_b))
    removed = list(ls_entries(ta, ((n, p) for p, n in d.tree.removed), links_a))
    mods = d.tree.modified
    olds = ls_entries(ta, ((m.old, m.path) for m in mods), links_a)
    news = ls_entries(tb, ((m.new, m.path) for m in mods), links_b)
    modified = [
        {"path": m.path, "changes": m.changes, "old": old, "new": new}
        for m, old, new in zip(mods, olds, news, strict=True)
    ]
    return {
        "schema": SCHEMA,
        "a": image_json(d.a),
        "b": image_json(d.b),
        "shared_layers": d.shared_layers,
        "added": added,
        "removed": removed,
        "modified": modified,
        "metadata": d.meta,
        "packages": d.packages,
        # bytes_*: regular-file bytes, a hard-linked inode once (model.growth: a new
        # link to a file that was there adds nothing); size_*: the final trees'
        "summary": {
            "added": len(added),
            "removed": len(removed),
            "modified": len(modified),
            "bytes_added": grew.added,
            "bytes_removed": grew.removed,
            "bytes_modified": grew.modified,
            "size_a": ta.total_size(),
            "size_b": tb.total_size(),
        },
    }


def _growth(d: ImageDiff) -> Growth:
    t = d.tree
    return diff_growth(
        d.a.tree,
        d.b.tree,
        (n for _, n in t.added),
        (n for _, n in t.removed),
        ((m.old, m.new) for m in t.modified),
    )


def side_name(img: Image) -> str:
    """How one side is named: its reference, and the layer for `--layer` diffs."""
    ref = clean(img.ref)
    if img.upto < 0:
        return f"{ref} (empty)"
    if img.upto + 1 < len(img.meta.layers):
        return f"{ref} @ layer {img.upto}"
    return ref


def diff_doc(d: ImageDiff) -> Doc:
    """The text report: entries (+ added, - removed, M modified), then the metadata and
    package differences, then a summary line whose every number says what it counts."""
    ta, tb = d.a.tree, d.b.tree
    links_a, links_b = LazyLinkCounts(ta), LazyLinkCounts(tb)
    doc = Doc()
    for path, node in d.tree.added:
        doc.line(("+ ", "added"), image(path), f"  ({units.size(tb.rolled_size(node))})")
    for path, node in d.tree.removed:
        doc.line(("- ", "removed"), image(path), f"  ({units.size(ta.rolled_size(node))})")
    for m in d.tree.modified:
        sizes = ""
        if "size" in m.changes:
            sizes = f"  {units.size(ta.size[m.old])} -> {units.size(tb.size[m.new])}"
        if "links" in m.changes:
            old = links_a[ta.link_group[m.old]] if m.old in ta.link_group else 1
            new = links_b[tb.link_group[m.new]] if m.new in tb.link_group else 1
            sizes += f"  links {old} -> {new}"
        doc.line(("M ", "modified"), image(m.path), f"  [{','.join(m.changes)}]{sizes}")
    if d.meta or d.packages:
        doc.extend(metadata_doc(d, heading=False))
    grew = _growth(d)
    added, removed = grew.added, grew.removed
    size_a, size_b = ta.total_size(), tb.total_size()
    doc.line(
        f"{len(d.tree.added):,} added ({units.size(added)} of files), "
        f"{len(d.tree.removed):,} removed ({units.size(removed)}), "
        f"{len(d.tree.modified):,} modified; final tree {units.size(size_a)} -> "
        f"{units.size(size_b)} ({units.signed_size(size_b - size_a)})"
    )
    return doc


def _value(v: Any) -> str:
    return clean(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))


def _delta(doc: Doc, title: str, delta: dict[str, Any]) -> None:
    """A dict_delta (added / removed / changed keys) as +, - and ~ lines."""
    doc.title(title)
    for key, value in delta.get("added", {}).items():
        doc.line((f"  + {clean(key)} = {_value(value)}", "added"))
    for key, value in delta.get("removed", {}).items():
        doc.line((f"  - {clean(key)} = {_value(value)}", "removed"))
    for key, change in delta.get("changed", {}).items():
        doc.line((f"  ~ {clean(key)}: {_value(change['old'])} -> {_value(change['new'])}",
                  "modified"))  # fmt: skip


def package_title(manager: str, environment: str) -> str:
    """ "Packages (dpkg)" for the system's; "Packages (python, /opt/venv)" for an
    environment's (a venv, a conda env), so two environments' lists never merge."""
    if environment == SYSTEM:
        return f"Packages ({manager})"
    return f"Packages ({manager}, {clean(environment)})"


def _unified(doc: Doc, title: str, text: str) -> None:
    doc.title(title)
    for line in text.splitlines():
        doc.line((f"  {clean(line)}", UNIFIED_STYLE.get(line[:1], "")))


def metadata_doc(d: ImageDiff, heading: bool = True) -> Doc:
    """Everything the two images say of themselves differently: the definition file,
    environment, runscript and help as unified diffs, config and labels key by key,
    history, platform, and the packages that were added, removed or changed."""
    doc = Doc()
    if heading:
        doc.line((f"A {side_name(d.a)}", "dim"))
        doc.line((f"B {side_name(d.b)}", "dim"))
    if not d.meta and not d.packages:
        one = d.a.upto < len(d.a.meta.layers) - 1 or d.a.ref == d.b.ref
        doc.title("The metadata is the same")
        if one:
            doc.line(("(one image: layers share its metadata)", "dim"))
        return doc
    meta = d.meta
    for key in META_TITLES:
        if key in meta:
            _unified(doc, META_TITLES[key], meta[key])
    for key, change in meta.get("config", {}).items():
        if key in ("Env", "Labels"):
            _delta(doc, f"Config {key}", change)
        else:
            doc.title(f"Config {key}")
            doc.line((f"  - {_value(change['old'])}", "removed"))
            doc.line((f"  + {_value(change['new'])}", "added"))
    if "labels" in meta:
        _delta(doc, "Labels", meta["labels"])
    if "history" in meta and meta["history"].get("diff"):
        _unified(doc, "History", meta["history"]["diff"])
    for key in ("architecture", "os"):
        if key in meta:
            doc.title(key.capitalize())
            doc.line((f"  {_value(meta[key]['old'])} -> {_value(meta[key]['new'])}", "modified"))
    for delta in d.packages:
        _delta(doc, package_title(delta["manager"], delta["environment"]), delta)
    return doc
