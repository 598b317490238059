"""A containers/storage store read in place: images.json, layers.json, big data, layer dirs.

Read-only and without locks: podman and buildah write these JSON files by atomic rename,
so each read sees one whole version, and nothing here takes the `*.lock` files a running
podman would then wait on. Between the two files a write may land (an image naming a
layer that is not listed yet, or no longer): the pair is read again once, and a layer still
missing is a clear error, never a guess.

Layout (containers/storage, overlay and vfs drivers):
  <root>/<driver>-images/images.json        image records: id, names, top layer, big data
  <root>/<driver>-images/<id>/<key>         big data (manifest, config); names not made of
                                            [a-z0-9.] are "=" + base64(key)
  <root>/<driver>-layers/layers.json        layer records: id, parent, diff digest, sizes
  <root>/<driver>-layers/<id>.tar-split.gz  the layer's tar headers (tar-split)
  <root>/overlay/<id>/diff, <root>/vfs/dir/<id>   the layer's files
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from layerscope import limits
from layerscope.errors import CorruptImageError, NotFoundError, ReaderError, UnsupportedFormatError
from layerscope.readers.containers_storage.config import DRIVERS, StoreLocation

_PLAIN_KEY = re.compile(r"[a-z0-9.]*")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True, slots=True)
class StoreImage:
    id: str
    names: tuple[str, ...]
    digests: tuple[str, ...]  # manifest digests the image is known by
    top_layer: str | None
    big_data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreLayer:
    id: str
    parent: str | None
    diff_digest: str | None
    diff_size: int | None
    compressed_digest: str | None
    incomplete: bool


class Store:
    """One store root with one driver (named, else the one whose files are there)."""

    def __init__(self, loc: StoreLocation) -> None:
        self.loc = loc
        self.root = loc.root
        self.driver = self._driver(loc)
        self.images_dir = os.path.join(self.root, f"{self.driver}-images")
        self.layers_dir = os.path.join(self.root, f"{self.driver}-layers")

    def _driver(self, loc: StoreLocation) -> str:
        if not os.path.isdir(loc.root):
            raise NotFoundError(f"{loc.root}: no containers-storage store there ({loc.origin})")
        present = [
            d
            for d in os.listdir(loc.root)
            if d.endswith("-images") and os.path.isfile(os.path.join(loc.root, d, "images.json"))
        ]
        names = sorted(d[: -len("-images")] for d in present)
        driver = loc.driver if loc.driver in names else (names[0] if len(names) == 1 else None)
        if driver is None and loc.driver is None:
            # several drivers' files (a store switched drivers): podman's default order
            driver = next((d for d in DRIVERS if d in names), None)
        if driver is None:
            want = loc.driver or "overlay or vfs"
            raise NotFoundError(f"{loc.root}: no {want} image store there ({loc.origin})")
        if driver not in DRIVERS:
            raise UnsupportedFormatError(
                f"{loc.root}: the {driver} storage driver keeps layers in a form layerscope "
                "does not read (overlay and vfs are read)"
            )
        return driver

    # -- the two indexes ---------------------------------------------------------------

    def images(self) -> list[StoreImage]:
        return [_image(r) for r in self._records(self.images_dir, "images.json")]

    def layers(self) -> dict[str, StoreLayer]:
        return {
            layer.id: layer
            for layer in (_layer(r) for r in self._records(self.layers_dir, "layers.json"))
        }

    def _records(self, folder: str, name: str) -> list[dict[str, Any]]:
        path = os.path.join(folder, name)
        cap = limits.get("max_store_json_bytes")
        try:
            with open(path, "rb") as f:
                data = f.read(cap + 1)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise ReaderError(f"{path}: cannot read: {e.strerror}") from None
        if len(data) > cap:
            raise limits.exceeded(f"{path}: larger than {cap} bytes", "max_store_json_bytes")
        try:
            doc = json.loads(data) if data.strip() else []
        except (ValueError, RecursionError) as e:
            raise CorruptImageError(f"{path}: not valid JSON: {e}") from None
        if not isinstance(doc, list):
            raise CorruptImageError(f"{path}: not a JSON list")
        return [r for r in doc if isinstance(r, dict) and isinstance(r.get("id"), str)]

    def chain(self, image: StoreImage) -> list[StoreLayer]:
        """The image's layers, bottom first. Read again once when a layer is missing: a
        write may have landed between images.json and layers.json."""
        for attempt in (0, 1):
            layers = self.layers()
            out: list[StoreLayer] = []
            lid = image.top_layer
            missing = None
            while lid is not None:
                layer = layers.get(lid)
                if layer is None:
                    missing = lid
                    break
                out.append(layer)
                if len(out) > limits.get("max_layers"):
                    raise limits.exceeded(f"{self.root}: image {image.id[:12]}", "max_layers")
                lid = layer.parent
            if missing is None:
                out.reverse()
                return out
            if attempt == 0:
                fresh = [i for i in self.images() if i.id == image.id]
                if not fresh:
                    raise ReaderError(
                        f"{self.root}: image {image.id[:12]} was removed from the store "
                        "while it was being read"
                    )
                image = fresh[0]
        raise ReaderError(
            f"{self.root}: image {image.id[:12]}: layer {str(missing)[:12]} is not in the store "
            "(removed, or being written, while it was read)"
        )

    # -- files ----------------------------------------------------------------------

    def big_data(self, image: StoreImage, key: str) -> bytes:
        name = key if _PLAIN_KEY.fullmatch(key) else "=" + base64.b64encode(key.encode()).decode()
        path = os.path.join(self.images_dir, image.id, name)
        cap = limits.get("max_json_bytes")
        try:
            with open(path, "rb") as f:
                data = f.read(cap + 1)
        except FileNotFoundError:
            raise ReaderError(
                f"{self.root}: image {image.id[:12]} has no {key!r} (removed while read?)"
            ) from None
        except OSError as e:
            raise ReaderError(f"{path}: cannot read: {e.strerror}") from None
        if len(data) > cap:
            raise limits.exceeded(f"{path}: larger than {cap} bytes", "max_json_bytes")
        return data

    def layer_dir(self, layer_id: str) -> str:
        if self.driver == "overlay":
            return os.path.join(self.root, "overlay", layer_id, "diff")
        return os.path.join(self.root, "vfs", "dir", layer_id)

    def dir_whiteouts(self) -> str:
        """How whiteouts are kept in the layer directories: overlayfs 0/0 devices and
        opaque xattrs, unless the store runs overlay through a mount program
        (fuse-overlayfs: `overlay/.has-mount-program` says "true"), which cannot make
        devices and keeps AUFS-style `.wh.` files instead (containers/storage
        getWhiteoutFormat)."""
        try:
            with open(os.path.join(self.root, "overlay", ".has-mount-program"), "rb") as f:
                fuse = f.read(16).strip() == b"true"
        except OSError:
            fuse = False
        return "oci" if fuse else "overlayfs"

    def tar_split(self, layer_id: str) -> str:
        return os.path.join(self.layers_dir, f"{layer_id}.tar-split.gz")


def find_image(images: list[StoreImage], ref: str) -> StoreImage | None:
    """The image `ref` names, as podman looks up local images: `@ID` or an ID (prefix),
    NAME@DIGEST, an exact NAME[:TAG] (`:latest` when no tag), then a short name matched
    as `localhost/NAME`, `docker.io/library/NAME` or any name ending in `/NAME`.
    None when nothing matches; UsageError when a short name matches several images."""
    from layerscope.errors import UsageError

    if ref.startswith("@") or (len(ref) >= 3 and _HEX.fullmatch(ref)):
        want = ref.lstrip("@")
        hits = [i for i in images if i.id.startswith(want)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UsageError(f"{ref}: several images' IDs start with it; give more of the ID")
        if ref.startswith("@"):
            return None
    name, at, digest = ref.partition("@")
    if at:
        repo = name
        hits = [i for i in images if digest in i.digests and _repo_match(i, repo)]
        return hits[0] if hits else None
    if not _has_tag(ref):
        ref += ":latest"
    exact = [i for i in images if ref in i.names]
    if exact:
        return exact[0]
    suffixes = (f"localhost/{ref}", f"docker.io/library/{ref}")
    for want in suffixes:
        hits = [i for i in images if want in i.names]
        if hits:
            return hits[0]
    hits = [i for i in images if any(n.endswith("/" + ref) for n in i.names)]
    if len(hits) > 1:
        names = ", ".join(sorted({n for i in hits for n in i.names if n.endswith("/" + ref)}))
        raise UsageError(f"{ref}: several images have that short name ({names}); name one")
    return hits[0] if hits else None


def _has_tag(ref: str) -> bool:
    last = ref.rpartition("/")[2]
    return ":" in last


def _repo_match(image: StoreImage, repo: str) -> bool:
    repos = {n.rpartition(":")[0] if _has_tag(n) else n for n in image.names}
    return any(r == repo or r.endswith("/" + repo) for r in repos)


def _image(r: dict[str, Any]) -> StoreImage:
    def strs(key: str) -> tuple[str, ...]:
        v = r.get(key)
        return tuple(x for x in v if isinstance(x, str)) if isinstance(v, list) else ()

    digests = strs("digests") + ((r["digest"],) if isinstance(r.get("digest"), str) else ())
    top = r.get("layer")
    return StoreImage(
        id=r["id"],
        names=strs("names"),
        digests=digests,
        top_layer=top if isinstance(top, str) and top else None,
        big_data=strs("big-data-names"),
    )


def _layer(r: dict[str, Any]) -> StoreLayer:
    def opt_str(key: str) -> str | None:
        v = r.get(key)
        return v if isinstance(v, str) and v else None

    size = r.get("diff-size")
    flags = r.get("flags") if isinstance(r.get("flags"), dict) else {}
    assert isinstance(flags, dict)
    return StoreLayer(
        id=r["id"],
        parent=opt_str("parent"),
        diff_digest=opt_str("diff-digest"),
        diff_size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        compressed_digest=opt_str("compressed-diff-digest"),
        incomplete=bool(flags.get("incomplete")),
    )
