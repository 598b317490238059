"""The diff screen's texts (no Textual here): the summary of two images, the selected
entry's old and new attributes, and the metadata panel (config, history, definition file,
labels, environment, runscript, packages)."""

from __future__ import annotations

from rich.text import Text

from layerscope.engine.browse.changes import ChangeSet, Status
from layerscope.engine.compare import ImageDiff
from layerscope.model.entry import EntryKind
from layerscope.model.portability.changes import Change
from layerscope.model.tree import FileTree
from layerscope.present.diff import metadata_doc, side_name
from layerscope.present.growth import change_growth
from layerscope.present.portability_diff import changes_doc
from layerscope.present.units import size_exact
from layerscope.ui.fmt import human_size, ls_mode, mtime, owner, safe, shorten, signed_size
from layerscope.ui.richdoc import to_text

STYLE = {Status.ADDED: "green", Status.MODIFIED: "yellow", Status.REMOVED: "red"}


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
    grew = change_growth(cs)  # files' bytes, hard-linked content once
    for status, word, net in ((Status.ADDED, "added", grew.added),
                              (Status.MODIFIED, "modified", grew.modified),
                              (Status.REMOVED, "removed", -grew.removed)):  # fmt: skip
        n = cs.counts[status]
        out.append(f"{status.letter} {n:>5,} {word:<8}", style=STYLE[status])
        out.append(f"{signed_size(net) or '0 B':>10}\n")
    pending = cs.counts[Status.PENDING]
    if pending:
        out.append(f"? {pending:>5,} pending  ({pending_reason(cs)})\n", style="italic")
    size_a, size_b = a.tree.total_size(), b.tree.total_size()
    out.append(f"\nsize {human_size(size_a)} → {human_size(size_b)}")
    out.append(f"  ({signed_size(size_b - size_a) or 'same'})\n")
    meta_keys = len(d.meta) + (1 if d.packages else 0)
    if meta_keys:
        out.append(f"metadata: {', '.join(meta_names(d))}", style="yellow")
        out.append("  [m]\n", style="dim")
    elif (
        not pending
        and sum(cs.counts[s] for s in (Status.ADDED, Status.MODIFIED, Status.REMOVED)) == 0
    ):
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
        "size": size_exact(tree.rolled_size(node)),
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


def metadata(d: ImageDiff, changes: list[Change] | None = None) -> Text:
    """Everything the two images say of themselves differently (present.diff's document,
    which `diff --summary` prints too), and with `diff --portability` what changed for
    portability."""
    doc = metadata_doc(d)
    if changes is not None:
        doc.title("Portability")
        doc.extend(changes_doc(changes, "B"))
    return to_text(doc)


def pending_reason(cs: ChangeSet) -> str:
    """Why a change set still has pending ("?") entries, for the details panes."""
    if cs.failed is not None:
        return f"comparison failed: {cs.failed}"  # cleaned when it was caught
    return "comparison cancelled" if cs.cancelled else "contents being compared"
