"""OCI and Docker images without a daemon: layout dirs, oci-archive, docker-archive, skopeo
`dir:`, single layer blobs, multi-platform indexes.

Every encoding is reduced to the same two things: a BlobStore (digest -> raw blob bytes)
and one image manifest; OciImageReader reads any such pair. Registry pulls build on the
same pair (layerscope.readers.registry.reader provides its own BlobStore).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Protocol

from layerscope import limits
from layerscope.errors import (
    CorruptImageError,
    EncryptedError,
    UnsupportedFormatError,
    UsageError,
)
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta
from layerscope.readers import OpenOptions
from layerscope.readers.oci.meta import build_meta
from layerscope.readers.oci.select import (
    Selection,
    load_json_blob,
    parse_json,
    read_json_file,
    resolve_document,
    select_image,
)
from layerscope.readers.oci.stores import (
    DirFiles,
    FilesBlobStore,
    SingleFileStore,
    TarFiles,
    flat_path,
)
from layerscope.readers.tar.members import PathNotes
from layerscope.readers.tar.reader import (
    iter_layer_entries,
    read_layer_content,
    read_layer_contents,
)

__all__ = [
    "BlobStore",
    "OciImageReader",
    "Selection",
    "open_oci",
    "resolve_document",
    "select_image",
]

# Layer media types whose bytes are not a (possibly compressed) tar.
_NOT_TAR_HINTS = ("+encrypted", "sif", "squashfs", "wasm", "helm", "cnab")


class BlobStore(Protocol):
    """Content-addressed blob access. `open` returns the raw (compressed) bytes, read-only;
    a seekable file makes uncompressed layers fast (skips become seeks). Stores may also
    have a `close()`; readers call it when present."""

    def open(self, digest: str) -> BinaryIO: ...

    def size(self, digest: str) -> int: ...


class OciImageReader:
    """An ImageReader over one image manifest whose blobs come from `store`.

    `fmt` is ImageMeta.format ("oci-layout", "oci-archive", "docker-archive", "dir", "layer",
    "registry"...). `platforms` lists what the index offered; `warnings` are carried into
    ImageMeta.warnings. `config_doc` may be given when the caller already parsed it."""

    def __init__(
        self,
        store: BlobStore,
        manifest: dict[str, Any],
        source: str,
        fmt: str,
        *,
        manifest_digest: str | None = None,
        platforms: list[str] | None = None,
        warnings: list[str] | None = None,
        config_doc: dict[str, Any] | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.source = source
        self.fmt = fmt
        self.manifest_digest = manifest_digest
        self.platforms = list(platforms or [])
        self.warnings = list(warnings or [])
        self.extras = dict(extras or {})
        self._config_doc = config_doc
        self._meta: ImageMeta | None = None
        self._layers: list[dict[str, Any]] = list(manifest.get("layers") or [])

    @property
    def config_document(self) -> dict[str, Any] | None:
        """The whole image config JSON (None when the image has no config, e.g. a bare layer)."""
        if self._config_doc is None:
            cfg = self.manifest.get("config")
            if isinstance(cfg, dict) and cfg.get("digest"):
                self._config_doc = load_json_blob(self.store, cfg["digest"], "config", self.source)
        return self._config_doc

    def describe(self) -> ImageMeta:
        if self._meta is None:
            sizes = [self._stored_size(i) for i in range(len(self._layers))]
            self._meta = build_meta(
                self.manifest,
                self.config_document,
                sizes,
                fmt=self.fmt,
                source=self.source,
                manifest_digest=self.manifest_digest,
                platforms=self.platforms,
                warnings=self.warnings,
            )
        return self._meta

    def layer_name(self, layer: int) -> str:
        """How errors name a layer: '<source> (layer 2, sha256:...)'; a bare blob by its path."""
        digest = self._layer(layer)["digest"]
        if self.fmt == "layer":
            return self.source
        return f"{self.source} (layer {layer}, {digest})"

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        desc = self._check_tar(layer)
        name = self.layer_name(layer)
        size = self._stored_size(layer)
        # Members named with '..' are placed where a runtime extracts them, never dropped;
        # the image's warnings say which (once per layer, however often it is read).
        notes = PathNotes(name)
        try:
            with self._open_blob(desc["digest"], name) as raw:
                yield from iter_layer_entries(raw, name, size, notes=notes)
        finally:
            self._warn(notes.warnings())

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        desc = self._check_tar(layer)
        name = self.layer_name(layer)
        with self._open_blob(desc["digest"], name) as raw:
            yield from read_layer_content(raw, name, loc, size, self._stored_size(layer))

    def read_contents(
        self, layer: int, wanted: Sequence[tuple[int, int]]
    ) -> Iterator[tuple[int, Iterator[bytes]]]:
        desc = self._check_tar(layer)
        name = self.layer_name(layer)
        with self._open_blob(desc["digest"], name) as raw:
            yield from read_layer_contents(raw, name, wanted, self._stored_size(layer))

    def close(self) -> None:
        closer = getattr(self.store, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> OciImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _warn(self, lines: list[str]) -> None:
        """Add to the warnings describe() returned (or will return), each line once."""
        warnings = self._meta.warnings if self._meta is not None else self.warnings
        warnings.extend(line for line in lines if line not in warnings)

    def _layer(self, layer: int) -> dict[str, Any]:
        if not 0 <= layer < len(self._layers):
            raise UsageError(f"{self.source}: no layer {layer} (it has {len(self._layers)})")
        return self._layers[layer]

    def _stored_size(self, layer: int) -> int:
        desc = self._layer(layer)
        try:
            return self.store.size(desc["digest"])
        except OSError as e:
            raise CorruptImageError(f"{self.layer_name(layer)}: blob missing: {e}") from e

    def _check_tar(self, layer: int) -> dict[str, Any]:
        desc = self._layer(layer)
        media = str(desc.get("mediaType") or "")
        if media.endswith("+encrypted"):
            raise EncryptedError(f"{self.layer_name(layer)}: encrypted layer ({media})")
        if any(h in media for h in _NOT_TAR_HINTS) and "tar" not in media:
            raise UnsupportedFormatError(f"{self.layer_name(layer)}: not a tar layer ({media})")
        return desc

    @contextlib.contextmanager
    def _open_blob(self, digest: str, name: str) -> Iterator[BinaryIO]:
        try:
            f = self.store.open(digest)
        except OSError as e:
            raise CorruptImageError(f"{name}: cannot open blob: {e}") from e
        try:
            yield f
        finally:
            f.close()


def open_oci(transport: str, path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
    """Open a local OCI/Docker image. transport: oci, oci-archive, docker-archive, dir,
    layer, or tar (an uncompressed tar, recognised by its members)."""
    if transport == "oci":
        return _open_layout(FilesBlobStore(DirFiles(path)), path, ref, opts, "oci-layout")
    if transport == "dir":
        return _open_skopeo_dir(path, ref, opts)
    if transport == "layer":
        return open_layer_blob(path, ref)
    if transport in ("oci-archive", "docker-archive", "tar"):
        files = TarFiles(path)
        try:
            return _open_archive(files, transport, path, ref, opts)
        except BaseException:
            files.close()
            raise
    raise UsageError(f"{path}: transport {transport!r} is not an OCI/Docker transport")


def open_layer_blob(path: str, ref: str | None = None) -> OciImageReader:
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


def _open_layout(
    store: FilesBlobStore, source: str, ref: str | None, opts: OpenOptions, fmt: str
) -> OciImageReader:
    files = store.files
    if not files.exists("index.json"):
        raise CorruptImageError(f"{source}: OCI layout without index.json")
    if files.exists("oci-layout"):
        with files.open_path("oci-layout") as f:
            layout = parse_json(f.read(1 << 16), "oci-layout", source)
        if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
            raise UnsupportedFormatError(f"{source}: unsupported oci-layout {layout!r}")
    index = read_json_file(files, "index.json", source)
    if not isinstance(index, dict):
        raise CorruptImageError(f"{source}: index.json is not a JSON object")
    sel = select_image(store, index, ref, opts.platform, source)
    return _reader(store, sel, source, fmt)


def _reader(store: BlobStore, sel: Selection, source: str, fmt: str) -> OciImageReader:
    return OciImageReader(
        store,
        sel.manifest,
        source,
        fmt,
        manifest_digest=sel.manifest_digest,
        platforms=sel.platforms,
        extras={"ref": sel.ref} if sel.ref else None,
    )


def _open_skopeo_dir(path: str, ref: str | None, opts: OpenOptions) -> OciImageReader:
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
    return _reader(store, sel, path, "dir")


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
        return _open_layout(store, path, ref, opts, "oci-archive")
    from layerscope.readers.oci.docker import open_docker_archive

    return open_docker_archive(store, path, ref, opts)


def _is_docker_manifest(files: TarFiles, path: str) -> bool:
    """A root manifest.json that is a JSON list: `docker save`, not a layer's own file."""
    with files.open_path("manifest.json") as f:
        data = f.read(limits.get("max_json_bytes") + 1)
    try:
        return isinstance(json.loads(data), list)
    except (ValueError, UnicodeError, RecursionError):
        return False
