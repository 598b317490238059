"""Manifest + image config -> ImageMeta and LayerInfo (history mapped onto layers)."""

from __future__ import annotations

from typing import Any

from layerscope.model.image import ImageMeta, LayerInfo


def build_meta(
    manifest: dict[str, Any],
    config_doc: dict[str, Any] | None,
    sizes: list[int],
    *,
    fmt: str,
    source: str,
    manifest_digest: str | None,
    platforms: list[str],
    warnings: list[str],
) -> ImageMeta:
    """Everything `describe()` reports; `sizes` are the stored blob sizes, layer by layer."""
    cfg = config_doc or {}
    inner = cfg.get("config") if isinstance(cfg.get("config"), dict) else {}
    assert isinstance(inner, dict)
    labels = inner.get("Labels") if isinstance(inner.get("Labels"), dict) else {}
    assert isinstance(labels, dict)
    raw_history = cfg.get("history")
    history = (
        [h for h in raw_history if isinstance(h, dict)] if isinstance(raw_history, list) else []
    )
    cfg_desc = manifest.get("config") or {}
    meta = ImageMeta(
        format=fmt,
        source=source,
        architecture=_str(cfg.get("architecture")),
        os=_str(cfg.get("os")),
        variant=_str(cfg.get("variant")),
        config=dict(inner),
        history=history,
        created=_str(cfg.get("created")),
        author=_str(cfg.get("author")),
        labels={str(k): str(v) for k, v in labels.items()},
        manifest_digest=manifest_digest,
        config_digest=_str(cfg_desc.get("digest")) if config_doc is not None else None,
        warnings=list(warnings),
    )
    meta.platforms = list(platforms) or _own_platform(meta)
    rootfs = cfg.get("rootfs") if isinstance(cfg.get("rootfs"), dict) else {}
    assert isinstance(rootfs, dict)
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs.get("diff_ids"), list) else []
    assert isinstance(diff_ids, list)
    meta.layers = _layers(manifest, sizes, diff_ids, fmt)
    if config_doc is not None and len(diff_ids) != len(meta.layers):
        meta.warnings.append(f"config lists {len(diff_ids)} diff_ids for {len(meta.layers)} layers")
    map_history(meta.layers, history, meta.warnings)
    return meta


def _layers(
    manifest: dict[str, Any], sizes: list[int], diff_ids: list[Any], fmt: str
) -> list[LayerInfo]:
    layers = []
    for i, desc in enumerate(manifest.get("layers") or []):
        extra: dict[str, Any] = {}
        for key in ("annotations", "urls"):
            if desc.get(key):
                extra[key] = desc[key]
        layers.append(
            LayerInfo(
                index=i,
                id=desc["digest"],
                media_type=str(desc.get("mediaType") or "application/vnd.oci.image.layer.v1.tar"),
                stored_size=sizes[i],
                diff_id=_str(diff_ids[i]) if i < len(diff_ids) else None,
                # a lone layer blob has nothing below it: its whiteouts are shown as entries
                whiteouts="none" if fmt == "layer" else "oci",
                extra=extra,
            )
        )
    return layers


def map_history(
    layers: list[LayerInfo], history: list[dict[str, Any]], warnings: list[str]
) -> None:
    """Give each layer its history entry: the non-empty entries in order.

    `empty_layer` entries (ENV, CMD, LABEL...) are attached to the layer that follows them;
    the ones after the last layer go to its extra["empty_history_after"] (they are normal:
    every CMD at the end of a Dockerfile is one). Entries that cannot be mapped (more
    non-empty entries than layers) are reported in warnings, never dropped silently."""
    if not history:
        return
    pending: list[str] = []
    i = 0
    for n, h in enumerate(history):
        text = _describe(h)
        if h.get("empty_layer"):
            pending.append(text)
            continue
        if i < len(layers):
            layers[i].created_by = _str(h.get("created_by"))
            layers[i].comment = _str(h.get("comment"))
            layers[i].empty_history = pending
            pending = []
            i += 1
        else:
            warnings.append(f"history entry {n} has no layer: {text}")
            pending = []
    if pending:
        if layers:
            layers[-1].extra["empty_history_after"] = pending
        else:
            warnings.extend(f"history entry without a layer: {t}" for t in pending)
    if i < len(layers):
        warnings.append(
            f"history has {i} layer entries for {len(layers)} layers; "
            f"layers {i}..{len(layers) - 1} have no created_by"
        )


def _describe(h: dict[str, Any]) -> str:
    return str(h.get("created_by") or h.get("comment") or "")


def _own_platform(meta: ImageMeta) -> list[str]:
    if not meta.architecture:
        return []
    parts = [meta.os or "linux", meta.architecture] + ([meta.variant] if meta.variant else [])
    return ["/".join(parts)]


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None
