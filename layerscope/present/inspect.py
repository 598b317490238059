"""`inspect`: the JSON document (schema layerscope.inspect/1) and the text, and the image
metadata section the TUI's details panel shows too."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from layerscope.engine.inspect import Inspection, LayerStats
from layerscope.engine.loading import BOOTSTRAP_HISTORY
from layerscope.model.image import ImageMeta
from layerscope.present import units
from layerscope.present.analysis import summary_doc, summary_json
from layerscope.present.doc import Doc, image
from layerscope.present.text import clean

if TYPE_CHECKING:
    from layerscope.model.portability.query import Answers

SCHEMA = "layerscope.inspect/1"


def platform(meta: ImageMeta) -> str | None:
    """`linux/amd64[/v8]`, the same spelling for every format."""
    if not meta.architecture:
        return None
    return "/".join(p for p in (meta.os, meta.architecture, meta.variant) if p)


def inspect_json(found: Inspection, answers: Answers | None = None) -> dict[str, Any]:
    meta = found.meta
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "image": {
            "source": found.ref,
            "format": meta.format,
            "architecture": meta.architecture,
            "os": meta.os,
            "variant": meta.variant,
            "created": meta.created,
            "author": meta.author,
            "manifest_digest": meta.manifest_digest,
            "config_digest": meta.config_digest,
        },
        # stored_bytes: the image file; final_bytes: regular files of the merged tree,
        # hard-linked content once (null when the tree was not loaded)
        "sizes": {"stored_bytes": meta.stored_bytes, "final_bytes": found.final_bytes},
        "layers": [_layer_json(s) for s in found.layers],
    }
    for key in ("platforms", "config", "history", "definition", "labels", "environment"):
        doc[key] = getattr(meta, key)
    for key in ("runscript", "help", "test", "startscript", "bootstrap_history"):
        doc[key] = getattr(meta, key)
    for key in ("sif", "generic_json", "signatures", "encryption"):
        doc[key] = getattr(meta, key)
    doc["warnings"] = meta.warnings
    if found.analysis is not None:
        doc["analysis"] = summary_json(found.analysis)
        if found.analysis.portability is not None:
            from layerscope.present.portability import portability_json

            port = portability_json(found.analysis.portability, answers)
            del port["schema"]
            doc["portability"] = port
    return doc


def _layer_json(s: LayerStats) -> dict[str, Any]:
    """A layer's descriptor fields, plus `size` (regular-file bytes it stores, hard-linked
    content once) and `entries`, null with `error` when it could not be read."""
    row = asdict(s.info)
    row.update({"size": s.bytes, "entries": s.entries, "error": s.error})
    return row


def inspect_doc(found: Inspection, answers: Answers | None = None) -> Doc:
    meta = found.meta
    doc = Doc()
    doc.field("Source", found.ref)
    doc.field("Format", meta.format)
    plat = platform(meta)
    if plat:
        doc.field("Platform", plat)
    if meta.stored_bytes is not None:
        doc.field("Stored", f"{units.size_exact(meta.stored_bytes)} (the image file)")
    if found.final_bytes is not None:
        doc.field(
            "Final tree",
            f"{units.size_exact(found.final_bytes)} of regular files (hard links once)",
        )
    doc.field("Layers", str(len(found.layers)))
    for s in found.layers:
        _layer_line(doc, s)
    doc.extend(meta_doc(meta))
    if found.analysis is not None:
        doc.title("Analysis")
        doc.extend(summary_doc(found.analysis))
        if found.analysis.portability is not None:
            from layerscope.present.portability import portability_doc

            doc.title("Portability")
            doc.extend(portability_doc(found.analysis.portability, answers))
    return doc


def _layer_line(doc: Doc, s: LayerStats) -> None:
    info = s.info
    if s.error is not None:
        holds = "unreadable: " + s.error
    elif s.entries is None:
        holds = "encrypted"
    else:
        holds = f"holds {units.size(s.bytes)} in {units.count(s.entries)} entries"
    doc.line(
        f"  [{info.index}] ",
        image(info.id),
        f"  {info.media_type}  stored {units.size(info.stored_size)}; ",
        image(holds),
    )
    if info.created_by:
        doc.line("      created by: ", image(info.created_by, "dim"))


def meta_doc(meta: ImageMeta) -> Doc:
    """What an image says of itself beyond its layers: SIF descriptors, signatures,
    encryption, labels, the Apptainer texts, the OCI config and history, warnings."""
    doc = Doc()
    if meta.sif:
        _sif_descriptors(doc, meta.sif)
    for sig in meta.signatures:
        doc.field("Signature", signature_text(sig))
    for enc in meta.encryption:
        doc.field("Encrypted", encryption_text(enc, meta.sif))
    if meta.labels:
        doc.title("Labels")
        for k, v in sorted(meta.labels.items()):
            doc.line("  ", image(k, "name"), ": ", image(v))
    for title, text in (
        ("Definition file", meta.definition),
        ("Environment", meta.environment),
        ("Runscript", meta.runscript),
        ("Start script", meta.startscript),
        ("Test", meta.test),
        ("Help", meta.help),
    ):
        if text is not None and _says_something(text):
            doc.title(title)
            doc.block(text)
    for name, text in meta.bootstrap_history.items():
        # apptainer keeps the definition of each earlier build (a SIF or sandbox base)
        doc.title(clean(f"Earlier definition ({BOOTSTRAP_HISTORY}/{name})"))  # name: the image's
        doc.block(text)
    if meta.config:
        doc.title("Config")
        for k, v in meta.config.items():
            doc.line("  ", image(k, "name"), ": ", image(json.dumps(v)))
    if meta.history:
        doc.title("History")
        for h in meta.history:
            mark = "  (empty layer)" if h.get("empty_layer") else ""
            doc.line("  ", image(str(h.get("created_by", ""))), (mark, "dim"))
    for warning in meta.warnings:
        doc.field("Warning", warning, style="warn")
    return doc


def _says_something(text: str) -> bool:
    """A text with a line beyond a `#!` line and blanks: apptainer writes `#!/bin/sh` as
    the start script and test of every image without one (the JSON keeps them)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and not (len(lines) == 1 and lines[0].startswith("#!"))


FORMATS = {
    "pgp-cleartext": "PGP cleartext",
    "pgp-cleartext-legacy": "PGP cleartext (legacy)",
    "dsse": "DSSE",
    "unknown": "unknown format",
}


def signature_text(sig: dict[str, Any]) -> str:
    """'object 5 over group 1 (objects 1-4), PGP cleartext, SHA-256, signer 1204...: valid'."""
    if sig.get("linked_group") is not None:
        over = f"group {sig['linked_group']}"
    else:
        over = f"object {sig.get('linked_object')}"
    signed = sig.get("signed_objects")
    if signed and sig.get("linked_group") is not None:
        over += f" (objects {', '.join(map(str, signed))})"
    parts = [f"object {sig['id']} over {over}"]
    if sig.get("format"):
        parts.append(FORMATS.get(sig["format"], str(sig["format"])))
    if sig.get("hash"):
        parts.append(str(sig["hash"]))
    signer = sig.get("signer") or sig.get("entity")
    parts.append(f"signer {signer}" if signer else "signer not named")
    status = sig.get("status") or "not verified"
    if sig.get("reason"):
        status += f" ({sig['reason']})"
    return ", ".join(parts) + ": " + status


def _sif_descriptors(doc: Doc, sif: dict[str, Any]) -> None:
    """The descriptor table as `siftool list` prints it."""
    doc.title("SIF descriptors")
    doc.line((f"  {'ID':<5}{'GROUP':<8}{'LINK':<8}{'SIF POSITION (start-end)':<26}TYPE", "dim"))
    for d in sif.get("descriptors", []):
        group = d.get("group")
        pos = f"{d.get('start')}-{d.get('end')}"
        doc.line(
            f"  {d.get('id', '?')!s:<5}{'NONE' if group is None else group!s:<8}"
            f"{d.get('link', 'NONE')!s:<8}{pos:<26}",
            image(str(d.get("type_label", d.get("type")))),
        )


def encryption_text(enc: dict[str, Any], sif: dict[str, Any] | None) -> str:
    """'partition 1 (Encrypted squashfs), key in object 2 (PEM/RSA-OAEP)': an encrypted
    partition in words, the key's message described as `siftool list` types it."""
    labels = {d.get("id"): str(d.get("type_label", "")) for d in (sif or {}).get("descriptors", [])}
    text = f"partition {enc.get('partition')} ({enc.get('fs') or 'unknown file system'})"
    keys = []
    for m in enc.get("crypto_messages") or []:
        label = labels.get(m, "")
        kind = label[label.find("(") :] if "(" in label else ""
        keys.append(f"object {m} {kind}".rstrip())
    return text + (f", key in {', '.join(keys)}" if keys else ", no key object linked")
