"""docker-archive (`docker save`): Docker 25+ OCI index first, legacy manifest.json otherwise.

The legacy format names blobs by path, so an OCI-shaped manifest is synthesised from
manifest.json with a digest -> member table; layer order comes only from manifest.json's
`Layers` list (tar member order means nothing). `layer.tar` symlink members are resolved by
the archive index.
"""

from __future__ import annotations

import re
from typing import Any

from layerscope import limits
from layerscope.errors import CorruptImageError, UsageError
from layerscope.readers import OpenOptions
from layerscope.readers.oci.layout import open_layout
from layerscope.readers.oci.reader import OciImageReader
from layerscope.readers.oci.select import (
    _same_ref,
    load_json_blob,
    read_json_file,
    ref_names,
)
from layerscope.readers.oci.stores import FilesBlobStore

_HEX_NAME = re.compile(r"(?:^|/)([0-9a-f]{64})(?:\.tar|\.json)?$")
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


def open_docker_archive(
    store: FilesBlobStore,
    path: str,
    ref: str | None,
    opts: OpenOptions,
    fmt: str = "docker-archive",
) -> OciImageReader:
    """`docker save` output held by `store`; `fmt` names where it came from (a file, or a
    daemon's `GET /images/{name}/get` stream kept in the blob cache)."""
    files = store.files
    if files.exists("index.json") and files.exists("oci-layout"):
        index = read_json_file(files, "index.json", path)
        items = index.get("manifests") if isinstance(index, dict) else None
        tagged = (
            ref is not None
            and isinstance(items, list)
            and any(isinstance(d, dict) and _tagged(d, ref) for d in items)
        )
        if ref is None or tagged or not files.exists("manifest.json"):
            return open_layout(store, path, ref, opts, fmt)
    if not files.exists("manifest.json"):
        raise CorruptImageError(f"{path}: docker-archive without manifest.json or index.json")
    entries = read_json_file(files, "manifest.json", path)
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise CorruptImageError(f"{path}: manifest.json is not a list of images")
    entry = _choose(entries, ref, path)
    return _legacy_reader(store, entry, path, fmt)


def _tagged(desc: dict[str, Any], ref: str) -> bool:
    return any(n == ref or _same_ref(ref, n) for n in ref_names(desc))


def _choose(entries: list[dict[str, Any]], ref: str | None, path: str) -> dict[str, Any]:
    tags = [_repo_tags(e) for e in entries]
    listing = ", ".join(t[0] if t else f"@{i}" for i, t in enumerate(tags))
    if ref is None:
        if len(entries) == 1:
            return entries[0]
        raise UsageError(f"{path} holds {len(entries)} images; choose one with :REF ({listing})")
    if ref.startswith("@") and ref[1:].isdigit():  # skopeo's docker-archive:path:@N
        n = int(ref[1:])
        if n < len(entries):
            return entries[n]
        raise UsageError(f"{path}: no image @{n} (it holds {len(entries)})")
    for rule in (
        lambda t: t == ref,
        lambda t: _same_ref(ref, t),
        lambda t: t.rpartition(":")[2] == ref,  # a bare tag, when only one image has it
    ):
        hits = [e for e, ts in zip(entries, tags, strict=True) if any(rule(t) for t in ts)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UsageError(f"{path}: {ref!r} matches several images ({listing})")
    raise UsageError(f"{path}: no image tagged {ref!r} (available: {listing})")


def _legacy_reader(
    store: FilesBlobStore, entry: dict[str, Any], path: str, fmt: str
) -> OciImageReader:
    files = store.files
    cfg_path = entry.get("Config")
    layer_paths = entry.get("Layers")
    if not isinstance(cfg_path, str) or not isinstance(layer_paths, list):
        raise CorruptImageError(f"{path}: manifest.json entry without Config/Layers")
    if len(layer_paths) > limits.get("max_layers"):
        raise limits.exceeded(
            f"{path}: manifest.json lists {len(layer_paths)} layers", "max_layers"
        )
    if not files.exists(cfg_path):
        raise CorruptImageError(f"{path}: config {cfg_path} missing from the archive")
    cfg_key = _key_for(cfg_path, None)
    table: dict[str, str] = {cfg_key: cfg_path}
    legacy = FilesBlobStore(files, table=table)  # sees later additions to `table`
    config = load_json_blob(legacy, cfg_key, "config", path)
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list):
        diff_ids = []
    layers = []
    for i, lp in enumerate(layer_paths):
        if not isinstance(lp, str) or not files.exists(lp):
            raise CorruptImageError(f"{path}: layer {i} ({lp!r}) missing from the archive")
        with files.open_path(lp) as f:
            head = f.read(4)
        media = DOCKER_LAYER + (".gzip" if head[:2] == b"\x1f\x8b" else "")
        media += ".zstd" if head == b"\x28\xb5\x2f\xfd" else ""
        # An uncompressed layer's blob digest is its diff_id.
        diff = diff_ids[i] if i < len(diff_ids) and media == DOCKER_LAYER else None
        key = _key_for(lp, diff)
        table[key] = lp
        layers.append({"mediaType": media, "digest": key, "size": files.size_of(lp)})
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": DOCKER_CONFIG, "digest": cfg_key, "size": files.size_of(cfg_path)},
        "layers": layers,
    }
    tags = _repo_tags(entry)
    return OciImageReader(
        legacy,
        manifest,
        path,
        fmt,
        config_doc=config,
        extras={"repo_tags": tags, "docker_manifest": entry},
    )


def _repo_tags(entry: dict[str, Any]) -> list[str]:
    tags = entry.get("RepoTags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _key_for(member: str, digest: Any) -> str:
    """A blob key: the digest its name or the config states, else 'path:<member>'."""
    m = _HEX_NAME.search(member)
    if m:
        return "sha256:" + m.group(1)
    if isinstance(digest, str) and ":" in digest:
        return digest
    return "path:" + member
