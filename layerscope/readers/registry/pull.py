"""Manifests and blobs of one registry repository, through the content-addressed cache.

A tag is asked of the registry every time (HEAD: cheap, and not counted against Docker
Hub's pull limit); a manifest whose digest is already cached is then not downloaded again,
and a reference by digest that is cached needs no network at all. Layer blobs are fetched
on first open, so metadata-only commands never download a layer.
"""

from __future__ import annotations

import tempfile
import threading
from typing import BinaryIO

from layerscope import limits
from layerscope.cache.blobs import BlobCache, blob_cache_max, hex_of
from layerscope.errors import RegistryError
from layerscope.readers.registry.client import RegistryClient, sha256_digest


def fetch_top_manifest(client: RegistryClient, cache: BlobCache) -> tuple[str, bytes]:
    """(digest, bytes) of the manifest or index the reference names."""
    ref = client.ref
    where = f"registry {ref.host}: "
    if ref.digest is not None:
        return ref.digest, _manifest_by_digest(client, cache, ref.digest, where)
    head_digest, _ = client.head_manifest(ref.reference)
    if head_digest is not None:
        hex_of(head_digest)  # refuse a malformed header before it names a path
        # GET by digest, not by tag: what arrives can be checked against what was named.
        return head_digest, _manifest_by_digest(client, cache, head_digest, where)
    data, _ = client.get_manifest(ref.reference)
    digest = sha256_digest(data)
    cache.put_bytes(digest, data, where)
    return digest, data


def _manifest_by_digest(client: RegistryClient, cache: BlobCache, digest: str, where: str) -> bytes:
    cached = cache.read(digest, limits.get("max_json_bytes"))
    if cached is not None:
        return cached
    data, _ = client.get_manifest(digest)
    cache.put_bytes(digest, data, where)  # raises on a digest mismatch, caching nothing
    return data


class RegistryBlobStore:
    """The OCI reader's BlobStore over the cache.

    Digests listed in `blobs` (config and layers of the chosen manifest, with their
    descriptor sizes) come from the blobs endpoint; any other digest the OCI code asks
    for is a manifest named by an index, fetched from the manifests endpoint."""

    def __init__(
        self,
        cache: BlobCache,
        client: RegistryClient,
        scratch: tempfile.TemporaryDirectory[str] | None = None,
    ) -> None:
        self.cache = cache
        self.client = client
        self.scratch = scratch  # a throw-away cache (use_cache=False), removed on close
        self.blobs: dict[str, int] = {}  # digest -> declared size
        self.downloaded: list[str] = []
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._where = f"registry {client.ref.host}: "

    def add_blobs(self, sizes: dict[str, int]) -> None:
        self.blobs.update(sizes)

    def ensure(self, digest: str) -> None:
        size = self.blobs.get(digest)
        if self.cache.has(digest, size):
            return
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        # One download per blob; a second reader of the same blob waits and finds it cached.
        with lock:
            if self.cache.has(digest, size):
                return
            if size is not None:
                fetch = self.client.fetch_blob
                self.cache.put(digest, size, lambda sink: fetch(digest, size, sink), self._where)
            else:
                _manifest_by_digest(self.client, self.cache, digest, self._where)
            self.downloaded.append(digest)
        if self.scratch is None:
            self.cache.evict(blob_cache_max(), {*self.blobs, *self.downloaded})

    def open(self, digest: str) -> BinaryIO:
        self.ensure(digest)
        try:
            return self.cache.open(digest)
        except OSError as e:
            raise RegistryError(f"cache: cannot open blob {digest}: {e.strerror}") from e

    def size(self, digest: str) -> int:
        known = self.blobs.get(digest)
        if known is not None:
            return known
        self.ensure(digest)
        try:
            return self.cache.path(digest).stat().st_size
        except OSError as e:
            raise RegistryError(f"cache: cannot stat blob {digest}: {e.strerror}") from e

    def close(self) -> None:
        self.client.close()
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None
