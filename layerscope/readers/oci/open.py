"""Open local OCI and Docker images without a daemon: layout dirs, oci-archive,
docker-archive, skopeo `dir:`, single layer blobs, multi-platform indexes."""

from __future__ import annotations

import hashlib
import json

from layerscope import limits
from layerscope.errors import CorruptImageError, UsageError
from layerscope.readers import OpenOptions
from layerscope.readers.oci.docker import open_docker_archive
from layerscope.readers.oci.layout import open_layout, reader_for
from layerscope.readers.oci.reader import OciImageReader
from layerscope.readers.oci.select import parse_json, resolve_document
from layerscope.readers.oci.stores import (
    DirFiles,
    FilesBlobStore,
    SingleFileStore,
    TarFiles,
    flat_path,
)

__all__ = [
    "open_docker_archive_file",
    "open_layer_blob",
    "open_layout_dir",
    "open_oci_archive",
    "open_skopeo_dir",
    "open_tar",
]


def open_layout_dir(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    """`oci:DIR[:REF]`, an OCI image layout directory."""
    return open_layout(FilesBlobStore(DirFiles(path)), path, ref, opts, "oci-layout")


def open_oci_archive(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    return _archive(path, "oci-archive", ref, opts)


def open_docker_archive_file(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    return _archive(path, "docker-archive", ref, opts)


def open_tar(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    """An uncompressed tar named without a transport: an archive, recognised by its
    members, or else a layer."""
    return _archive(path, "tar", ref, opts)


def _archive(path: str, transport: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    files = TarFiles(path)
    try:
        return _open_archive(files, transport, path, ref, opts)
    except BaseException:
        files.close()
        raise


def open_layer_blob(
    path: str, ref: str | None = None, _opts: OpenOptions | None = None
) -> OciImageReader:
    """A single layer blob (gzip, zstd or plain tar) as a one-layer image without config."""
    if ref:
        raise UsageError(f"{path}: a single layer has no tags (got :{ref})")
    store = SingleFileStore(path)
    with store.open(store.key) as f:
        head = f.read(4)
    media = "application/vnd.oci.image.layer.v1.tar" + {
        b"\x1f\x8b": "+gzip",
        b"\x28\xb5": "+zstd",
    }.get(head[:2], "")
    manifest = {"schemaVersion": 2, "layers": [{"mediaType": media, "digest": store.key}]}
    return OciImageReader(store, manifest, path, "layer")


def open_skopeo_dir(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    """`dir:DIR`, what `skopeo copy` writes to a directory."""
    if ref:
        raise UsageError(f"{path}: a dir: image has no tags (got :{ref})")
    files = DirFiles(path)
    cap = limits.get("max_json_bytes")
    if files.size_of("manifest.json") > cap:
        raise limits.exceeded(f"{path}: manifest.json is larger than {cap} bytes", "max_json_bytes")
    with files.open_path("manifest.json") as f:
        data = f.read(cap + 1)
    doc = parse_json(data, "manifest.json", path)
    if not isinstance(doc, dict):
        raise CorruptImageError(f"{path}: manifest.json is not a JSON object")
    # `skopeo copy --all` to dir: writes the index as manifest.json and each platform's
    # manifest as <hex>.manifest.json; every other blob is named by its bare hex digest.
    table: dict[str, str] = {}
    for desc in doc.get("manifests") or []:
        digest = desc.get("digest") if isinstance(desc, dict) else None
        if isinstance(digest, str):
            rel = flat_path(digest, path) + ".manifest.json"
            if files.exists(rel):
                table[digest] = rel
    store = FilesBlobStore(files, flat_path, table)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    sel = resolve_document(store, doc, digest, opts.platform, path)
    return reader_for(store, sel, path, "dir")


def _open_archive(
    files: TarFiles, transport: str, path: str, ref: str | None, opts: OpenOptions
) -> OciImageReader:
    has_index = files.exists("index.json")
    has_docker = files.exists("manifest.json") and files.size_of("manifest.json") <= limits.get(
        "max_json_bytes"
    )
    if transport == "tar":
        if has_docker and _is_docker_manifest(files, path):
            transport = "docker-archive"
        elif has_index and files.exists("oci-layout"):
            transport = "oci-archive"
        else:
            files.close()
            return open_layer_blob(path, ref)
    store = FilesBlobStore(files)
    if transport == "oci-archive":
        return open_layout(store, path, ref, opts, "oci-archive")
    return open_docker_archive(store, path, ref, opts)


def _is_docker_manifest(files: TarFiles, path: str) -> bool:
    """A root manifest.json that is a JSON list: `docker save`, not a layer's own file."""
    with files.open_path("manifest.json") as f:
        data = f.read(limits.get("max_json_bytes") + 1)
    try:
        return isinstance(json.loads(data), list)
    except (ValueError, UnicodeError, RecursionError):
        return False
