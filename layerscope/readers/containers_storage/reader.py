"""StoreReader: one image of a podman/buildah store, read in place, without podman.

Entries come from each layer's tar-split data (the tar headers the layer was unpacked
from: container owners even in a rootless store whose files on disk belong to mapped
host IDs, exact mtimes and hard links, whiteouts as the image has them); file contents
from the layer's directory. Measured against walking the overlay `diff/` directories
(benchmarks/bench_containers_storage.py) the tar-split listing is what the README says;
it is chosen for fidelity: a rootless store's files are owned by subordinate host IDs,
and a vfs layer's directory is a full copy of the tree, not the layer's changes.

An overlay layer without tar-split data (none is written for some layers) is listed by
walking its `diff/` directory with the sandbox reader: overlayfs whiteouts (0/0 character
devices, opaque xattrs) then encode its deletions, or `.wh.` files in a store that runs
overlay through fuse-overlayfs; the model applies either.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from layerscope.errors import CorruptImageError, NotFoundError, ReaderError, UsageError
from layerscope.model.entry import Entry
from layerscope.model.image import ImageMeta, WhiteoutStyle
from layerscope.readers.base import Traits
from layerscope.readers.containers_storage import files, tarsplit
from layerscope.readers.containers_storage.config import (
    StoreLocation,
    find_store,
    parse_store_spec,
)
from layerscope.readers.containers_storage.store import (
    Store,
    StoreImage,
    StoreLayer,
    find_image,
)
from layerscope.readers.detect import OpenOptions
from layerscope.readers.directory import SandboxReader
from layerscope.readers.identity import file_identity
from layerscope.readers.oci.meta import build_meta

FORMAT = "containers-storage"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class StoreReader:
    traits = Traits(random_access=True, parallel_layers=True)

    def __init__(self, store: Store, image: StoreImage, source: str) -> None:
        self.store = store
        self.image = image
        self.source = source
        self.chain = store.chain(image)
        for layer in self.chain:
            if layer.incomplete:
                raise ReaderError(f"{source}: layer {layer.id[:12]} is still being written")
        self._split = [os.path.isfile(store.tar_split(la.id)) for la in self.chain]
        if store.driver == "vfs" and not all(self._split):
            raise ReaderError(
                f"{source}: a vfs layer without tar-split data: its directory is a full "
                "copy of the tree, not the layer's changes, and cannot be shown as a layer"
            )
        self._locs: dict[int, dict[int, str]] = {}
        self._walks: dict[int, SandboxReader] = {}
        self._lock = threading.Lock()
        self._meta: ImageMeta | None = None

    def describe(self) -> ImageMeta:
        if self._meta is None:
            self._meta = self._build_meta()
        return self._meta

    def _build_meta(self) -> ImageMeta:
        warnings: list[str] = []
        config = _json(self.store, self.image, self._config_key(), self.source)
        manifest = self._manifest(warnings)
        sizes = [la.diff_size or 0 for la in self.chain]
        meta = build_meta(
            manifest,
            config,
            sizes,
            fmt=FORMAT,
            source=self.source,
            manifest_digest=self.image.digests[-1] if self.image.digests else None,
            platforms=[],
            warnings=warnings,
        )
        in_dirs: WhiteoutStyle = "oci" if self.store.dir_whiteouts() == "oci" else "overlayfs"
        for info, layer, split in zip(meta.layers, self.chain, self._split, strict=True):
            info.whiteouts = "oci" if split else in_dirs
            info.extra["store_layer"] = layer.id
            info.extra["listed_from"] = "tar-split" if split else "directory"
        meta.config_digest = "sha256:" + self.image.id
        return meta

    def _config_key(self) -> str:
        key = "sha256:" + self.image.id
        if key in self.image.big_data:
            return key
        found = [k for k in self.image.big_data if k.startswith("sha256:")]
        if not found:
            raise CorruptImageError(f"{self.source}: the store keeps no config for this image")
        return found[0]

    def _manifest(self, warnings: list[str]) -> dict[str, Any]:
        """The stored manifest whose layers are this image's chain; synthesised from the
        chain when the store keeps none that fits (an image committed without one)."""
        keys = [k for k in self.image.big_data if k == "manifest" or k.startswith("manifest-")]
        for key in keys:
            doc = _json(self.store, self.image, key, self.source)
            layers = doc.get("layers")
            if isinstance(layers, list) and len(layers) == len(self.chain):
                return doc
        if keys:
            warnings.append(
                f"the stored manifest does not list this image's {len(self.chain)} layers; "
                "layers are named by their diff digests"
            )
        return {
            "schemaVersion": 2,
            "layers": [
                {"mediaType": OCI_LAYER, "digest": la.diff_digest or la.id} for la in self.chain
            ],
        }

    def layer_identity(self, layer: int) -> str | None:
        la = self._layer(layer)
        if not self._split[layer]:
            return None  # a directory changes under us without a cheap way to notice
        ident = file_identity(self.store.tar_split(la.id))
        if ident is None:
            return None
        return f"cstore|{self.store.driver}|{la.id}|{la.diff_digest}|{la.diff_size}|{ident}"

    def layer_name(self, layer: int) -> str:
        return f"{self.source} (layer {layer}, {self._layer(layer).id[:12]})"

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        la = self._layer(layer)
        if self._split[layer]:
            yield from tarsplit.entries(self.store.tar_split(la.id), self.layer_name(layer))
            return
        walk = self._walk(layer)
        yield from walk.iter_entries(0)
        meta = self.describe()
        meta.warnings.extend(w for w in walk.describe().warnings if w not in meta.warnings)

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        la = self._layer(layer)
        if not self._split[layer]:
            yield from self._walk(layer).read_content(0, loc, size)
            return
        name = self.layer_name(layer)
        with self._lock:
            locs = self._locs.get(layer)
        if locs is None:
            locs = tarsplit.locations(self.store.tar_split(la.id), name)
            with self._lock:
                self._locs[layer] = locs
        path = locs.get(loc)
        if path is None:
            raise CorruptImageError(f"{name}: no member at offset {loc}")
        yield from files.read_file(self.store.layer_dir(la.id), path, size, name)

    def _walk(self, layer: int) -> SandboxReader:
        with self._lock:
            walk = self._walks.get(layer)
            if walk is None:
                path = self.store.layer_dir(self._layer(layer).id)
                if not os.path.isdir(path):
                    raise ReaderError(f"{self.layer_name(layer)}: its directory is gone")
                walk = self._walks[layer] = SandboxReader(path)
            return walk

    def _layer(self, layer: int) -> StoreLayer:
        if not 0 <= layer < len(self.chain):
            raise UsageError(f"{self.source}: no layer {layer} (it has {len(self.chain)})")
        return self.chain[layer]

    def close(self) -> None:
        with self._lock:
            walks, self._walks = list(self._walks.values()), {}
            self._locs = {}
        for walk in walks:
            walk.close()


def _json(store: Store, image: StoreImage, key: str, source: str) -> dict[str, Any]:
    data = store.big_data(image, key)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise CorruptImageError(f"{source}: {key} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise CorruptImageError(f"{source}: {key} is not a JSON object")
    return doc


def locate(ref: str, opts: OpenOptions) -> tuple[Store, StoreImage, str]:
    """(store, image, NAME) for `[driver@root+runroot]NAME`; NotFoundError naming the stores
    searched when no store holds it."""
    driver, root, name = parse_store_spec(ref)
    if not name:
        raise UsageError(f"containers-storage:{ref}: no image name or @ID")
    if root is not None:
        loc = find_store(root, driver, "named in the reference")
    else:
        loc = find_store(opts.storage_root, driver)
    roots = [loc, *(StoreLocation(r, None, "additionalimagestores") for r in loc.additional)]
    searched = []
    for where in roots:
        try:
            store = Store(where)
        except NotFoundError:
            searched.append(f"{where.root} (no store there)")
            continue
        image = find_image(store.images(), name)
        if image is not None:
            return store, image, name
        searched.append(f"{where.root} ({where.origin})")
    raise NotFoundError(f"containers-storage: no image {name!r} in {'; '.join(searched)}")


def open_containers_storage(rest: str, _tag: str | None, opts: OpenOptions) -> StoreReader:
    """The opener readers.detect names for `containers-storage:` (the tag is part of `rest`)."""
    store, image, name = locate(rest, opts)
    return StoreReader(store, image, f"containers-storage:{name}")
