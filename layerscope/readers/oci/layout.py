"""An OCI image layout (a directory, or the same inside an archive) to its reader."""

from __future__ import annotations

from layerscope.errors import CorruptImageError, UnsupportedFormatError
from layerscope.readers import OpenOptions
from layerscope.readers.oci.reader import BlobStore, OciImageReader
from layerscope.readers.oci.select import Selection, parse_json, read_json_file, select_image
from layerscope.readers.oci.stores import FilesBlobStore

__all__ = ["open_layout", "reader_for"]


def open_layout(
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
    return reader_for(store, sel, source, fmt)


def reader_for(store: BlobStore, sel: Selection, source: str, fmt: str) -> OciImageReader:
    return OciImageReader(
        store,
        sel.manifest,
        source,
        fmt,
        manifest_digest=sel.manifest_digest,
        platforms=sel.platforms,
        extras={"ref": sel.ref} if sel.ref else None,
    )
