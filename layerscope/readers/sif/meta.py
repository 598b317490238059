"""What a SIF says of itself outside its partitions: definition, labels, JSON objects,
environment, signatures and encryption, gathered from the metadata objects into ImageMeta."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layerscope.model.image import ImageMeta
from layerscope.readers.sif import format as sf

# Reads one object's bytes; None when it cannot or should not be read (the callback has
# already recorded why in the warnings).
ReadObject = Callable[[sf.SifDescriptor], bytes | None]

LABELS_NAME = "labels.json"
OCI_CONFIG_NAME = "oci-config.json"


def fill_metadata(meta: ImageMeta, descriptors: list[sf.SifDescriptor], read: ReadObject) -> None:
    """Fill meta's definition, environment, labels, generic_json, config, signatures and
    encryption from the used descriptors (in table order; the first of a kind wins)."""
    by_type: dict[int, list[sf.SifDescriptor]] = {}
    for d in descriptors:
        by_type.setdefault(d.data_type, []).append(d)

    for d in by_type.get(sf.DEF_FILE, [])[:1]:
        meta.definition = _text(read(d))
    for d in by_type.get(sf.ENV_VARS, [])[:1]:
        meta.environment = _text(read(d))

    for d in by_type.get(sf.JSON_GENERIC, []):
        value = _json(read(d), d, meta.warnings)
        if value is _INVALID:
            continue
        key = d.name or f"descriptor {d.id}"
        if key in meta.generic_json:
            key = f"{key} (descriptor {d.id})"
        meta.generic_json[key] = value

    labels_obj: Any = _INVALID
    for d in by_type.get(sf.JSON_LABELS, [])[:1]:
        labels_obj = _json(read(d), d, meta.warnings)
    if labels_obj is _INVALID:
        labels_obj = meta.generic_json.get(LABELS_NAME, _INVALID)
    if isinstance(labels_obj, dict):
        meta.labels = {
            str(k): v if isinstance(v, str) else json.dumps(v) for k, v in labels_obj.items()
        }
    elif labels_obj is not _INVALID:
        meta.warnings.append("SIF labels object is not a JSON object; ignored")

    config = meta.generic_json.get(OCI_CONFIG_NAME)
    if isinstance(config, dict):
        meta.config = config

    meta.signatures = [_signature(d) for d in by_type.get(sf.SIGNATURE, [])]
    messages = by_type.get(sf.CRYPTO_MESSAGE, [])
    meta.encryption = [
        _encryption(d, messages)
        for d in by_type.get(sf.PARTITION, [])
        if d.fs_type in sf.ENCRYPTED_FS
    ]


def definition_summary(definition: str | None) -> str | None:
    """'Bootstrap: docker From: alpine:3' from a definition's header lines."""
    if not definition:
        return None
    parts = []
    for line in definition.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("bootstrap", "from"):
            parts.append(f"{key.strip()}: {value.strip()}")
        if line.lstrip().startswith("%"):
            break
    return " ".join(parts) or None


class _Invalid:
    """Marks an object that was unreadable or not JSON (None is valid JSON: null)."""


_INVALID: Any = _Invalid()


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


def _json(raw: bytes | None, d: sf.SifDescriptor, warnings: list[str]) -> Any:
    if raw is None:
        return _INVALID
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        what = f"descriptor {d.id}" + (f" ({d.name})" if d.name else "")
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        warnings.append(f"SIF {what}: not valid JSON: {msg}")
        return _INVALID


def _signature(d: sf.SifDescriptor) -> dict[str, Any]:
    ht, entity = d.signature()
    link = d.link
    return {
        "id": d.id,
        "hash": ht,
        "entity": entity,
        "linked_group": link[0] if link and link[1] else None,
        "linked_object": link[0] if link and not link[1] else None,
        # filled by SifReader.verify_signatures (inspect, check, the TUI's analysis)
        "format": None,
        "signed_objects": None,
        "signer": None,
        "status": None,
        "reason": None,
    }


def _encryption(part: sf.SifDescriptor, messages: list[sf.SifDescriptor]) -> dict[str, Any]:
    # Apptainer links the key's crypto message to the partition object (or its group).
    linked = [
        m.id
        for m in messages
        if m.link == (part.id, False) or (part.group and m.link == (part.group, True))
    ]
    return {
        "partition": part.id,
        "fs": sf.FS_NAMES.get(part.fs_type, "Unknown"),
        "crypto_messages": linked,
    }
