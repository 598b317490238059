"""The image-details texts (no Textual here): the short summary beside the layers and the
full panel `i` opens (what `apptainer inspect` and `layerscope inspect` show)."""

from __future__ import annotations

import json

from rich.text import Text

from layerscope.engine.browse.stack import Stack, Step
from layerscope.model.image import ImageMeta
from layerscope.ui.fmt import human_size, safe

Rows = list[tuple[str, str]]


def summary(stack: Stack, step: int, findings: Rows | None = None) -> Text:
    """The image-details pane: a few lines, the rest is one key away. `findings`: the
    analysis headline (findings_text.headline_rows)."""
    meta = stack.meta_of(step)
    img = stack.final if not stack.stages else None
    out = Text()

    def row(name: str, value: str, style: str = "") -> None:
        out.append(f"{name:<12}", style="bold")
        out.append(value + "\n", style=style)

    row("Format", meta.format)
    arch = "/".join(x for x in (meta.os, meta.architecture, meta.variant) if x)
    if arch:
        row("Platform", arch)
    if stack.stages:
        row("Stages", str(len(stack.steps)))
        st = stack.steps[step]
        row("Size", human_size(st.size))
    else:
        row("Layers", str(len(stack.steps)))
        if img is not None:
            row("Total size", human_size(img.tree.total_size()))
    for name, value in findings or ():
        row(name, value)
    if meta.format == "sif":
        row("Signatures", str(len(meta.signatures)) if meta.signatures else "none")
        row("Encrypted", "yes" if meta.encryption else "no")
    if meta.labels:
        row("Labels", str(len(meta.labels)))
    out.append("i: full details" + (" · f: findings" if findings else ""), style="dim italic")
    return out


def _block(out: Text, title: str, body: str | None) -> None:
    if not body:
        return
    out.append(f"\n{title}\n", style="bold underline")
    for line in body.rstrip("\n").split("\n"):
        out.append("  " + safe(line.expandtabs(8)) + "\n")


def details(stack: Stack, step: int, findings: Rows | None = None) -> Text:
    """Everything the image says of itself (the panel `i` opens)."""
    meta: ImageMeta = stack.meta_of(step)
    out = Text()
    out.append(f"{safe(stack.ref_of(step))}\n", style="bold")
    out.append(f"Format: {meta.format}")
    arch = "/".join(x for x in (meta.os, meta.architecture, meta.variant) if x)
    if arch:
        out.append(f"   Platform: {arch}")
    out.append("\n")
    for name in ("created", "author", "manifest_digest", "config_digest"):
        value = getattr(meta, name)
        if value:
            out.append(f"{name.replace('_', ' ').capitalize()}: {safe(str(value))}\n")
    if stack.final is not None and not stack.stages:
        tree = stack.final.tree
        out.append(f"Total size: {human_size(tree.total_size())}\n")
    for name, value in findings or ():
        out.append(f"{name}: {value}\n")
    out.append("\nLayers\n", style="bold underline")
    for info in meta.layers:
        out.append(
            f"  [{info.index}] {safe(info.id)}  {info.media_type}  "
            f"stored {human_size(info.stored_size)}"
            f"{'  ENCRYPTED' if info.encrypted else ''}\n"
        )
    sif = meta.sif
    if sif:
        out.append("\nSIF descriptors\n", style="bold underline")
        out.append(
            f"  {'ID':<5}{'GROUP':<8}{'LINK':<8}{'POSITION (start-end)':<24}TYPE\n", style="dim"
        )
        for d in sif.get("descriptors", []):
            group = d.get("group")
            pos = f"{d.get('start')}-{d.get('end')}"
            out.append(
                f"  {d.get('id', '?')!s:<5}{'NONE' if group is None else group!s:<8}"
                f"{d.get('link', 'NONE')!s:<8}{pos:<24}"
                f"{safe(str(d.get('type_label', d.get('type'))))}\n"
            )
    out.append("\nSignatures: ", style="bold")
    out.append(f"{len(meta.signatures)}\n" if meta.signatures else "none\n")
    for sig in meta.signatures:
        out.append(f"  {safe(json.dumps(sig, default=str))}\n")
    out.append("Encryption: ", style="bold")
    out.append("none\n" if not meta.encryption else "\n")
    for enc in meta.encryption:
        out.append(f"  {safe(json.dumps(enc, default=str))}\n")
    if meta.labels:
        out.append("\nLabels\n", style="bold underline")
        width = min(max(len(k) for k in meta.labels), 48)
        for k, v in sorted(meta.labels.items()):
            out.append(f"  {safe(k):<{width}}  {safe(v)}\n")
    _block(out, "Definition file", meta.definition)
    _block(out, "Environment", meta.environment)
    _block(out, "Runscript", meta.runscript)
    _block(out, "Help", meta.help)
    if meta.config:
        _block(out, "Config", json.dumps(meta.config, indent=2, default=str))
    if meta.history:
        out.append("\nHistory\n", style="bold underline")
        for h in meta.history:
            mark = " (empty)" if h.get("empty_layer") else ""
            out.append(f"  {safe(str(h.get('created_by', '')))}{mark}\n")
    for w in meta.warnings:
        out.append(f"\nwarning: {safe(w)}", style="yellow")
    return out


def layer_text(step: Step, stack: Stack) -> Text:
    """The layer-details pane."""
    out = Text()

    def row(name: str, value: str) -> None:
        out.append(f"{name:<12}", style="bold")
        out.append(value + "\n")

    row(
        "Layer" if not stack.stages else "Stage",
        f"{step.index}  {safe(step.label)}" if stack.stages else str(step.index),
    )
    row("Id", safe(step.ident))
    row("Type", safe(step.media_type))
    row("Size", human_size(step.size) + ("  (encrypted)" if step.encrypted else ""))
    row("Stored", human_size(step.stored_size))
    row("Entries", "…" if step.entries is None else f"{step.entries:,}")
    out.append("Created by\n", style="bold")
    out.append(safe(step.created_by) + "\n")
    return out
