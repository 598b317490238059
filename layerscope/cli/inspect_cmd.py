"""`layerscope inspect`: what an image says of itself, and its layers' sizes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import click

from layerscope.cache import IndexCache
from layerscope.cli.commands import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.loading import LoadedImage, cached_entries, load_image
from layerscope.errors import CacheCorruptError, EncryptedError, ReaderError
from layerscope.model.entry import Entry, EntryKind
from layerscope.model.image import ImageMeta
from layerscope.present import render
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import ImageReader


def layer_stats(
    reader: ImageReader, meta: ImageMeta, errors: list[ReaderError], cache: IndexCache | None
) -> list[dict[str, Any]]:
    """Per layer: the entries it holds and their uncompressed bytes (regular files).

    A layer that cannot be read gets null counts and its error; the rest is still shown
    (siftool lists a SIF whose partition is broken, so do we)."""
    out = []
    keys = cache.layer_keys(meta) if cache is not None else [None] * len(meta.layers)
    for info in meta.layers:
        row = asdict(info)
        row.update({"size": None, "entries": None, "error": None})
        try:
            key = keys[info.index]
            try:
                n, total = _count(cached_entries(reader, info.index, cache, key))
            except CacheCorruptError:  # the index broke after its check: count again
                n, total = _count(reader.iter_entries(info.index))
            row.update({"size": total, "entries": n})
        except EncryptedError:
            pass  # shown as encrypted, which is what the user needs to know
        except ReaderError as e:
            row["error"] = str(e)
            errors.append(e)
        out.append(row)
    return out


def _count(entries: Iterable[Entry]) -> tuple[int, int]:
    n = total = 0
    for e in entries:
        n += 1
        if e.kind == EntryKind.FILE and e.hardlink is None:
            total += e.size
    return n, total


def inspect_json(
    reader: ImageReader,
    meta: ImageMeta,
    ref: str,
    errors: list[ReaderError],
    cache: IndexCache | None = None,
) -> dict[str, Any]:
    return {
        "schema": "layerscope.inspect/1",
        "image": {
            "source": ref,
            "format": meta.format,
            "architecture": meta.architecture,
            "os": meta.os,
            "variant": meta.variant,
            "created": meta.created,
            "author": meta.author,
            "manifest_digest": meta.manifest_digest,
            "config_digest": meta.config_digest,
        },
        "layers": layer_stats(reader, meta, errors, cache),
        "platforms": meta.platforms,
        "config": meta.config,
        "history": meta.history,
        "definition": meta.definition,
        "labels": meta.labels,
        "environment": meta.environment,
        "runscript": meta.runscript,
        "help": meta.help,
        "sif": meta.sif,
        "generic_json": meta.generic_json,
        "signatures": meta.signatures,
        "encryption": meta.encryption,
        "warnings": meta.warnings,
    }


def needs_tree(meta: ImageMeta) -> bool:
    """SIF runscript/help/environment live inside the image: worth loading its tree."""
    readable = bool(meta.layers) and not any(layer.encrypted for layer in meta.layers)
    return readable and meta.format in ("sif", "sandbox", "squashfs")


def fill_from_tree(img: LoadedImage, meta: ImageMeta) -> None:
    for attr in ("definition", "labels", "environment", "runscript", "help"):
        if not getattr(meta, attr):
            setattr(meta, attr, getattr(img.meta, attr))


def print_text(doc: dict[str, Any]) -> None:
    w = sys.stdout.write
    im = doc["image"]
    w(f"Source:        {im['source']}\nFormat:        {im['format']}\n")
    if im["architecture"]:
        plat = "/".join(p for p in (im["os"], im["architecture"], im["variant"]) if p)
        w(f"Platform:      {plat}\n")
    w(f"Layers:        {len(doc['layers'])}\n")
    for layer in doc["layers"]:
        if layer["error"]:
            size = f"unreadable: {layer['error']}"
        elif layer["entries"] is None:
            size = "encrypted"
        else:
            size = f"{layer['size']} B, {layer['entries']} entries"
        head = f"  [{layer['index']}] {layer['id']}  {layer['media_type']}"
        w(f"{head}  stored {layer['stored_size']} B, {size}\n")
        if layer.get("created_by"):
            w(f"      created by: {render.safe_text(layer['created_by'])}\n")
    sif = doc["sif"]
    if sif:
        w("SIF descriptors:\n")
        w(f"  {'ID':<5}{'GROUP':<8}{'LINK':<8}{'SIF POSITION (start-end)':<26}TYPE\n")
        for d in sif.get("descriptors", []):
            group = d.get("group")
            w(
                f"  {d['id']:<5}{'NONE' if group is None else group:<8}{d.get('link', 'NONE'):<8}"
                f"{str(d['start']) + '-' + str(d['end']):<26}{d.get('type_label', d.get('type'))}\n"
            )
    for sig in doc["signatures"]:
        over = (
            f"group {sig['linked_group']}"
            if sig.get("linked_group") is not None
            else f"object {sig.get('linked_object')}"
        )
        w(f"Signature:     object {sig['id']} over {over}, {sig['hash']}, signer {sig['entity']}\n")
    for enc in doc["encryption"]:
        w(f"Encrypted:     {json.dumps(enc, sort_keys=True)}\n")
    if doc["labels"]:
        w("Labels:\n")
        for k, v in sorted(doc["labels"].items()):
            w(f"  {k}: {v}\n")
    for title, key in (
        ("Definition file", "definition"),
        ("Environment", "environment"),
        ("Runscript", "runscript"),
        ("Help", "help"),
    ):
        if doc[key]:
            w(f"{title}:\n")
            for line in str(doc[key]).rstrip("\n").splitlines():
                w(f"  {render.safe_text(line)}\n")
    if doc["config"]:
        w("Config:\n")
        for k, v in doc["config"].items():
            w(f"  {k}: {json.dumps(v)}\n")
    if doc.get("analysis"):
        a = doc["analysis"]
        w("Analysis:\n")
        if a["efficiency"] is not None:
            w(f"  efficiency (dive):   {a['efficiency'] * 100:.2f} %\n")
            w(f"  wasted (dive):       {a['wasted_bytes']} B\n")
        w(f"  reclaimable:         {a['reclaimable_bytes']} B\n")
        w(f"  caches and junk:     {a['cache_bytes']} B\n")
        w(f"  duplicate savings:   {a['duplicate_savings_bytes']} B\n")
        w(f"  secrets:             {a['secrets']} ({a['secrets_recoverable']} recoverable)\n")
    for warning in doc["warnings"]:
        w(f"Warning:       {warning}\n")


@click.command("inspect", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.inspect/1).")
@click.option(
    "--analyze",
    is_flag=True,
    help="Add efficiency, wasted and reclaimable bytes, caches and secrets (reads every layer).",
)
@source_options
def inspect_cmd(
    image: str, as_json: bool, analyze: bool, platform: str | None, tls_verify: bool
) -> None:
    """Format, layers with their sizes, SIF descriptors, definition file, labels, config."""
    opts = OpenOptions(platform=platform, tls_verify=tls_verify)
    reader = open_image(image, opts)
    errors: list[ReaderError] = []
    try:
        meta = reader.describe()
        cache = IndexCache() if opts.use_cache else None
        doc = inspect_json(reader, meta, image, errors, cache)
    finally:
        reader.close()
    if not errors and (analyze or needs_tree(meta)):
        img = load_image(image, opts)
        try:
            fill_from_tree(img, meta)
            if analyze:
                # Imported here: plain `inspect` (and every other command) stays light.
                from layerscope.engine.analysis import analyze as run_analysis
                from layerscope.present.analysis import summary_json

                doc["analysis"] = summary_json(run_analysis(img))
        finally:
            img.close()
    for key in ("definition", "labels", "environment", "runscript", "help"):
        doc[key] = getattr(meta, key)
    if as_json:
        render.dump_json(doc)
    else:
        print_text(doc)
    if errors:
        # What could be read is printed; the exit status still says the input is broken.
        raise errors[0]
