"""OciImageReader: one image manifest whose blobs come from a BlobStore.

Every OCI/Docker encoding (layout dirs, oci-archive, docker-archive, skopeo `dir:`, single
layer blobs, registries) is reduced to the same two things, a BlobStore (digest -> raw
blob bytes) and one image manifest; readers.oci.open builds the pair for local ones,
readers.registry for pulls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, Protocol

from layerscope.errors import (
    CorruptImageError,
    EncryptedError,
    UnsupportedFormatError,
    UsageError,
)
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta
from layerscope.readers.base import Traits
from layerscope.readers.identity import blob_identity
from layerscope.readers.oci.meta import build_meta
from layerscope.readers.oci.select import load_json_blob, resolve_document
from layerscope.readers.tar.members import PathNotes
from layerscope.readers.tar.reader import (
    iter_layer_entries,
    read_layer_content,
    read_layer_contents,
)

__all__ = ["BlobStore", "OciImageReader", "resolve_document"]

# Formats read from local files: their layers may be listed from several threads.
LOCAL_FORMATS = frozenset({"oci-layout", "oci-archive", "docker-archive", "dir", "layer"})

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
        self.traits = Traits(random_access=False, parallel_layers=fmt in LOCAL_FORMATS)
        # the local file the blobs live in (an archive, a lone layer), for identities and size
        self._container = source if fmt in ("oci-archive", "docker-archive", "layer") else None

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
            if self._container is not None:
                with contextlib.suppress(OSError):
                    self._meta.stored_bytes = os.path.getsize(self._container)
        return self._meta

    def layer_identity(self, layer: int) -> str | None:
        media = str(self._layer(layer).get("mediaType") or "")
        if media.endswith("+encrypted"):
            return None
        return blob_identity(self._layer(layer)["digest"], self._stored_size(layer), self.source)

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
