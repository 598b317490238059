"""load_image(ref) -> LoadedImage: the one entry point the CLI and the UI call.

Joins a reader (format I/O) with the model (one merged tree). Progress is reported through
a callback and cancellation through an Event, so a UI worker can drive it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from layerscope.errors import EntryNotFoundError, LayerscopeError, UsageError
from layerscope.model.entry import EntryKind
from layerscope.model.image import ImageMeta, LayerInfo
from layerscope.model.layers import WhiteoutStyle, apply_layer
from layerscope.model.tree import FileTree
from layerscope.readers import OpenOptions, open_image
from layerscope.readers.base import ImageReader

Progress = Callable[[str, int, int], None]


class Cancelled(LayerscopeError):
    """Loading was cancelled by the caller."""

    exit_code = 130


@dataclass(slots=True)
class LoadedImage:
    ref: str
    reader: ImageReader
    meta: ImageMeta
    tree: FileTree
    upto: int  # index of the last layer applied

    def read(self, node: int, limit: int | None = None) -> bytes:
        """A regular file's bytes (the first `limit` bytes if given)."""
        return b"".join(self.iter_content(node, limit))

    def iter_content(self, node: int, limit: int | None = None) -> Iterator[bytes]:
        tree = self.tree
        if tree.kind[node] != EntryKind.FILE:
            raise UsageError(f"{tree.path(node)}: not a regular file")
        size = tree.size[node]
        want = size if limit is None else min(size, limit)
        got = 0
        if want == 0:
            return
        for chunk in self.reader.read_content(tree.source_layer(node), tree.loc[node], size):
            if got + len(chunk) >= want:
                yield chunk[: want - got]
                return
            got += len(chunk)
            yield chunk

    def close(self) -> None:
        self.reader.close()


def whiteout_style(layer: LayerInfo) -> WhiteoutStyle:
    media = layer.media_type
    if media == "ext3-overlay":
        return "overlayfs"
    if "tar" in media or media.startswith("application/"):
        return "oci"
    return "none"


def load_image(
    ref: str,
    options: OpenOptions | None = None,
    upto: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> LoadedImage:
    """Open `ref` and apply its layers 0..upto (all by default) into one tree."""
    reader = open_image(ref, options)
    try:
        meta = reader.describe()
        last = len(meta.layers) - 1
        if upto is not None:
            if not -len(meta.layers) <= upto <= last:
                raise UsageError(
                    f"--layer {upto}: {ref} has {len(meta.layers)} layer(s) (0..{last})"
                )
            last = upto % len(meta.layers)
        tree = FileTree()
        for info in meta.layers[: last + 1]:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")
            if progress is not None:
                progress(f"reading layer {info.index}", info.index, len(meta.layers))
            # A lone layer blob has nothing below it: show its whiteouts as entries.
            style = "none" if meta.format == "layer" else whiteout_style(info)
            apply_layer(tree, info.index, reader.iter_entries(info.index), style)
        loaded = LoadedImage(ref, reader, meta, tree, last)
        if tree.lookup("/.singularity.d") is not None:
            _fill_singularity_meta(loaded)
        return loaded
    except BaseException:
        reader.close()
        raise


SINGULARITY_FILES = {
    "runscript": "/.singularity.d/runscript",
    "help": "/.singularity.d/runscript.help",
    "environment": "/.singularity.d/env/90-environment.sh",
    "definition": "/.singularity.d/Singularity",
}
MAX_META_BYTES = 1 << 20


def _fill_singularity_meta(img: LoadedImage) -> None:
    """Apptainer keeps runscript, help, environment and labels inside the image: use them
    where the SIF descriptors do not carry them."""
    meta = img.meta
    for attr, path in SINGULARITY_FILES.items():
        if getattr(meta, attr):
            continue
        text = _read_text(img, path)
        if text is not None:
            setattr(meta, attr, text)
    if not meta.labels:
        text = _read_text(img, "/.singularity.d/labels.json")
        if text:
            try:
                labels = json.loads(text)
            except ValueError:
                meta.warnings.append("/.singularity.d/labels.json is not valid JSON")
            else:
                if isinstance(labels, dict):
                    meta.labels = {str(k): str(v) for k, v in labels.items()}


def _read_text(img: LoadedImage, path: str) -> str | None:
    node = img.tree.lookup(path)
    if node is None or img.tree.kind[node] != EntryKind.FILE:
        return None
    try:
        return img.read(node, MAX_META_BYTES).decode("utf-8", "replace")
    except LayerscopeError:
        return None


def find(img: LoadedImage, path: str) -> int:
    node = img.tree.lookup(path)
    if node is None:
        raise EntryNotFoundError(f"{path}: no such file or directory in {img.ref}")
    return node
