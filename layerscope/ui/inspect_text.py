"""The image-details texts (no Textual here): the short summary beside the layers and the
full panel `i` opens (what `apptainer inspect` and `layerscope inspect` show: the metadata
part is present.inspect's, so the panel and the CLI agree)."""

from __future__ import annotations

from rich.text import Text

from layerscope.engine.browse.stack import Stack, Step
from layerscope.model.image import ImageMeta
from layerscope.present import units
from layerscope.present.doc import Doc
from layerscope.present.inspect import meta_doc, platform
from layerscope.ui.fmt import safe
from layerscope.ui.richdoc import to_text

Rows = list[tuple[str, str]]


def _layers_bytes(stack: Stack) -> int | None:
    """What the layers store together (each layer's files, hard links once), once every
    step has been counted."""
    sizes = [s.size for s in stack.steps]
    return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)


def summary(stack: Stack, step: int, findings: Rows | None = None) -> Text:
    """The image-details pane: a few lines, the rest is one key away. `findings`: the
    analysis headline (findings_text.headline_rows)."""
    meta = stack.meta_of(step)
    img = stack.final if not stack.stages else None
    doc = Doc()
    doc.field("Format", meta.format, width=13)
    plat = platform(meta)
    if plat:
        doc.field("Platform", plat, width=13)
    if stack.stages:
        doc.field("Stages", str(len(stack.steps)), width=13)
        # the selected stage's own tree (each stage is a whole image)
        doc.field("Stage tree", units.size(stack.steps[step].size), width=13)
    else:
        doc.field("Layers", str(len(stack.steps)), width=13)
        if img is not None:
            # dive's "Total size" is what all layers store; ours says which is which
            doc.field("Final tree", units.size(img.tree.total_size()), width=13)
            doc.field("In layers", units.size(_layers_bytes(stack)), width=13)
    for name, value in findings or ():
        doc.field(name, value, width=13)
    if meta.sif is not None:
        doc.field("Signatures", str(len(meta.signatures)) if meta.signatures else "none", width=13)
        doc.field("Encrypted", "yes" if meta.encryption else "no", width=13)
    if meta.labels:
        doc.field("Labels", str(len(meta.labels)), width=13)
    doc.line(("i: full details" + (" · f: findings" if findings else ""), "dim"))
    return to_text(doc)


def details(stack: Stack, step: int, findings: Rows | None = None) -> Text:
    """Everything the image says of itself (the panel `i` opens)."""
    meta: ImageMeta = stack.meta_of(step)
    doc = Doc()
    doc.line((safe(stack.ref_of(step)), "name"))
    doc.field("Format", meta.format)
    plat = platform(meta)
    if plat:
        doc.field("Platform", plat)
    for name in ("created", "author", "manifest_digest", "config_digest"):
        value = getattr(meta, name)
        if value:
            doc.field(name.replace("_", " ").capitalize(), str(value))
    if stack.final is not None and not stack.stages:
        doc.field("Final tree", units.size(stack.final.tree.total_size()) + " of files")
    for name, value in findings or ():
        doc.field(name, value)
    doc.title("Layers")
    for info in meta.layers:
        doc.line(
            f"  [{info.index}] ",
            (safe(info.id), ""),
            f"  {info.media_type}  stored {units.size(info.stored_size)}",
            ("  ENCRYPTED" if info.encrypted else "", "alert"),
        )
    doc.extend(meta_doc(meta))
    return to_text(doc)


def layer_text(step: Step, stack: Stack) -> Text:
    """The layer-details pane."""
    doc = Doc()
    what = "Stage" if stack.stages else "Layer"
    doc.field(what, f"{step.index}  {step.label}" if stack.stages else str(step.index), width=13)
    doc.field("Id", step.ident, width=13)
    doc.field("Type", step.media_type, width=13)
    holds = units.size(step.size) + ("  (encrypted)" if step.encrypted else "")
    # a stage holds its whole tree; a layer, the files its own blob stores
    doc.field("Stage tree" if stack.stages else "Holds", f"{holds} of files", width=13)
    if step.growth is not None:  # added and removed: the layers table and "Changes"
        doc.field("Grew", units.signed_size(step.growth.net), width=13)
    doc.field("Stored", units.size(step.stored_size), width=13)
    doc.field("Entries", units.count(step.entries), width=13)
    doc.line(("Created by", "name"))
    doc.line((safe(step.created_by), ""))
    return to_text(doc)
