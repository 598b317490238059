"""The diff screen's texts (no Textual here): the summary of two images, the selected
entry's old and new attributes, and the metadata panel (config, history, definition file,
labels, environment, runscript, packages)."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.compare import ImageDiff
from layerscope.engine.image import Image
from layerscope.model.entry import EntryKind
from layerscope.model.tree import FileTree
from layerscope.ui.fmt import human_size, ls_mode, mtime, owner, safe, shorten, signed_size

STYLE = {Status.ADDED: "green", Status.MODIFIED: "yellow", Status.REMOVED: "red"}
DIFF_STYLE = {"+": "green", "-": "red", "@": "cyan"}
META_TITLES = {
    "definition": "Definition file",
    "environment": "Environment script",
    "runscript": "Runscript",
    "help": "Help text",
}


def side_name(img: Image) -> str:
    """How the panes name one side: its reference, and the layer for `--layer` diffs."""
    ref = safe(img.ref)
    if img.upto < 0:
        return f"{ref} (empty)"
    if img.upto + 1 < len(img.meta.layers):
        return f"{ref} @ layer {img.upto}"
    return ref


def summary(d: ImageDiff, cs: ChangeSet, width: int = 40) -> Text:
    """Both sources, their formats, shared layers, counts and bytes, sizes."""
    out = Text()
    a, b = d.a, d.b
    for letter, img in (("A", a), ("B", b)):
        out.append(f"{letter} ", style="bold")
        out.append(shorten(side_name(img), width - 2) + "\n")
        out.append(f"  {img.meta.format}, {len(img.meta.layers)} layer(s)", style="dim")
        out.append(f", {human_size(img.tree.total_size())}\n", style="dim")
    if d.shared_layers:
        out.append(f"shared layers: {len(d.shared_layers)} (skipped)\n", style="dim")
    out.append("\n")
    for status, word in ((Status.ADDED, "added"), (Status.MODIFIED, "modified"),
                         (Status.REMOVED, "removed")):  # fmt: skip
        n = cs.counts[status]
        out.append(f"{status.letter} {n:>5,} {word:<8}", style=STYLE[status])
        net = cs.bytes[status]
        if status == Status.REMOVED:
            net = -net
        out.append(f"{signed_size(net) or '0 B':>10}\n")
    size_a, size_b = a.tree.total_size(), b.tree.total_size()
    out.append(f"\nsize {human_size(size_a)} → {human_size(size_b)}")
    out.append(f"  ({signed_size(size_b - size_a) or 'same'})\n")
    meta_keys = len(d.meta) + (1 if d.packages else 0)
    if meta_keys:
        out.append(f"metadata: {', '.join(meta_names(d))}", style="yellow")
        out.append("  [m]\n", style="dim")
    elif cs.counts[Status.ADDED] + cs.counts[Status.MODIFIED] + cs.counts[Status.REMOVED] == 0:
        out.append("no differences\n", style="bold")
    return out


def meta_names(d: ImageDiff) -> list[str]:
    names = list(d.meta)
    if d.packages:
        names.append("packages")
    return names


def _describe(tree: FileTree, node: int) -> dict[str, str]:
    kind = EntryKind(tree.kind[node])
    rows = {
        "type": kind.name.lower(),
        "mode": f"{ls_mode(tree, node)} ({tree.mode[node]:04o})",
        "owner": owner(tree, node),
        "size": _exact(tree.rolled_size(node)),
        "mtime": mtime(tree.mtime[node]),
    }
    if kind == EntryKind.SYMLINK:
        rows["target"] = safe(tree.target.get(node, ""))
    if node in tree.rdev:
        major, minor = tree.rdev[node]
        rows["device"] = f"{major},{minor}"
    xattrs = tree.xattrs.get(node)
    if xattrs:
        rows["xattrs"] = ", ".join(safe(k) for k in sorted(xattrs))
    return rows


def _exact(n: int) -> str:
    human = human_size(n)
    return human if n < 1024 else f"{human} ({n:,} B)"


def entry(cs: ChangeSet, d: int) -> Text:
    """Old (A) and new (B) attributes of one displayed entry; what changed in colour."""
    status = cs.status(d)
    out = Text()
    out.append(f"{status.letter} ", style=f"bold {STYLE.get(status, '')}")
    out.append(safe(cs.path(d)) + "\n", style="bold")
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    if d < 0:
        tree, n = cs.tree_node(d)
        old = _describe(tree, n)
    else:
        new = _describe(cs.after.tree, d)
        mod = cs.modified.get(d)
        before = mod.old if mod is not None else cs.before.tree.lookup(cs.path(d))
        if before is not None and status != Status.ADDED:
            old = _describe(cs.before.tree, before)
    mod = cs.modified.get(d)
    if mod is not None:
        out.append("changed: " + ", ".join(mod.changes) + "\n", style="yellow")
    delta = cs.delta(d)
    if delta:
        out.append(f"size delta {signed_size(delta)}\n")
    for key in dict.fromkeys([*old, *new]):
        o, n2 = old.get(key), new.get(key)
        out.append(f"{key:<7}", style="bold")
        if o == n2:
            out.append(f"{o}\n")
            continue
        if o is not None:
            out.append(f"A {o}\n", style="red")
            if n2 is not None:
                out.append(" " * 7)
        if n2 is not None:
            out.append(f"B {n2}\n", style="green")
    return out


def _value(v: Any) -> str:
    return safe(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)


def _delta(out: Text, title: str, delta: dict[str, Any]) -> None:
    """A dict_delta (added / removed / changed keys) as +, - and ~ lines."""
    out.append(f"{title}\n", style="bold")
    for key, value in delta.get("added", {}).items():
        out.append(f"  + {safe(key)} = {_value(value)}\n", style="green")
    for key, value in delta.get("removed", {}).items():
        out.append(f"  - {safe(key)} = {_value(value)}\n", style="red")
    for key, change in delta.get("changed", {}).items():
        out.append(f"  ~ {safe(key)}: {_value(change['old'])} → {_value(change['new'])}\n",
                   style="yellow")  # fmt: skip
    out.append("\n")


def _unified(out: Text, title: str, text: str) -> None:
    out.append(f"{title}\n", style="bold")
    for line in text.splitlines():
        out.append(f"  {safe(line)}\n", style=DIFF_STYLE.get(line[:1], ""))
    out.append("\n")


def metadata(d: ImageDiff) -> Text:
    """Everything the two images say of themselves differently."""
    out = Text()
    out.append(f"A {side_name(d.a)}\nB {side_name(d.b)}\n\n", style="dim")
    if not d.meta and not d.packages:
        out.append("The metadata is the same", style="bold")
        if d.a.upto < len(d.a.meta.layers) - 1 or d.a.ref == d.b.ref:
            out.append(" (one image: layers share its metadata)", style="dim")
        out.append(".\n")
        return out
    meta = d.meta
    for key in ("definition", "environment", "runscript", "help"):
        if key in meta:
            _unified(out, META_TITLES[key], meta[key])
    config = meta.get("config", {})
    for key, change in config.items():
        if key in ("Env", "Labels"):
            _delta(out, f"Config {key}", change)
        else:
            out.append(f"Config {key}\n", style="bold")
            out.append(f"  - {_value(change['old'])}\n", style="red")
            out.append(f"  + {_value(change['new'])}\n\n", style="green")
    if "labels" in meta:
        _delta(out, "Labels", meta["labels"])
    if "history" in meta and meta["history"].get("diff"):
        _unified(out, "History", meta["history"]["diff"])
    for key in ("architecture", "os"):
        if key in meta:
            out.append(f"{key}: {meta[key]['old']} → {meta[key]['new']}\n\n", style="yellow")
    for manager, delta in d.packages.items():
        changed = {k: {"old": v["old"], "new": v["new"]} for k, v in delta["changed"].items()}
        _delta(out, f"Packages ({manager})", {**delta, "changed": changed})
    return out
