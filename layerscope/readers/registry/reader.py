"""docker://HOST/REPO[:TAG|@DIGEST]: pull from a registry without a daemon, read as OCI.

The pieces, one job each:
  ref.py       parse the reference (Docker Hub short names included; credentials refused)
  auth.py      credentials from REGISTRY_AUTH_FILE or ~/.docker/config.json
  transfer.py  HTTP through requests: timeouts, deadline, minimum rate, capped bodies
  token.py     401 challenges: Basic, the Bearer token dance, where credentials may go
  client.py    manifests and blobs of one repository, one-line RegistryErrors
  pull.py      tag -> manifest digest, and the BlobStore the OCI reader reads from
  cache/blobs  verified blobs under $XDG_CACHE_HOME/layerscope/blobs/sha256/
Platform selection and everything after the manifest is the OCI reader's (readers/oci.py).

With `use_cache=False` blobs go to a temporary directory removed when the reader closes:
nothing from the persistent cache is used and nothing is added to it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerscope.cache.blobs import BlobCache, cache_root
from layerscope.errors import CorruptImageError
from layerscope.readers.base import ImageReader
from layerscope.readers.oci.reader import OciImageReader, resolve_document
from layerscope.readers.oci.select import check_manifest, parse_json
from layerscope.readers.registry.auth import find_credentials
from layerscope.readers.registry.client import RegistryClient
from layerscope.readers.registry.pull import RegistryBlobStore, fetch_top_manifest
from layerscope.readers.registry.ref import RegistryRef, parse_reference

if TYPE_CHECKING:
    from layerscope.readers import OpenOptions

__all__ = ["RegistryRef", "open_registry", "parse_reference"]

FORMAT = "registry"


def open_registry(ref: str, opts: OpenOptions) -> ImageReader:
    """Open `ref` (without "docker://"): fetch its manifest(s) and config now, layers when
    first read. Raises UsageError for a bad reference or platform, RegistryError for any
    network, HTTP, auth or integrity failure."""
    rref = parse_reference(ref)
    source = f"docker://{rref.display}"
    warnings: list[str] = []
    creds = find_credentials(rref, warnings)
    scratch = None if opts.use_cache else tempfile.TemporaryDirectory(prefix="layerscope-pull-")
    root = Path(scratch.name) if scratch is not None else cache_root()
    client = RegistryClient(rref, tls_verify=opts.tls_verify, credentials=creds, warnings=warnings)
    store = RegistryBlobStore(BlobCache(root, make_root=scratch is None), client, scratch)
    try:
        digest, data = fetch_top_manifest(client, store.cache)
        doc = parse_json(data, f"manifest {digest}", source)
        if not isinstance(doc, dict):
            raise CorruptImageError(f"{source}: manifest {digest} is not a JSON object")
        sel = resolve_document(store, doc, digest, opts.platform, source)
        check_manifest(sel.manifest, sel.manifest_digest or "manifest", source)
        store.add_blobs(_blob_sizes(sel.manifest, sel.manifest_digest or "manifest", source))
        reader = OciImageReader(
            store,
            sel.manifest,
            source,
            FORMAT,
            manifest_digest=sel.manifest_digest,
            platforms=sel.platforms,
            warnings=warnings,
            extras={"ref": rref.name},
        )
        client.warnings = reader.warnings  # later challenges (a blob's) warn there too
        # The config is small and describe() needs it: fetch it while errors still belong
        # to opening the image.
        _ = reader.config_document
        return reader
    except BaseException:
        store.close()
        raise


def _blob_sizes(manifest: dict[str, Any], what: str, source: str) -> dict[str, int]:
    """Digest -> declared size of the config and every layer. OCI requires `size`, and
    it is what caps each download: a descriptor without a valid one is refused."""
    config = manifest.get("config")
    named = [("config", config)] if config is not None else []
    named += [(f"layer {i}", d) for i, d in enumerate(manifest.get("layers") or [])]
    sizes: dict[str, int] = {}
    for name, d in named:
        size = d.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise CorruptImageError(
                f"{source}: {what}: {name} descriptor has no valid 'size' (OCI requires one)"
            )
        sizes[d["digest"]] = size
    return sizes


def open_transport(ref: str, _tag: str | None, opts: OpenOptions) -> ImageReader:
    """The opener readers.detect names for `docker://` (the tag is part of `ref`)."""
    return open_registry(ref, opts)
