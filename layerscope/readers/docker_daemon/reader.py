"""docker-daemon:NAME[:TAG]: an image a Docker daemon (or podman's API service) holds.

The daemon is asked what NAME is (`GET /images/{name}/json`: its ID). An image whose
`docker save` stream was kept before is read from the blob cache without asking the daemon
for it again; otherwise the stream (`GET /images/{name}/get`) is read once, front to back,
each member into the content-addressed blob cache under the digest computed as it arrives
(no archive file on disk, no second pass), and a pointer (cache/refs.py) records which
blobs make up the image ID. The archive is then what readers.oci reads as a docker-archive
(legacy manifest.json, or Docker 25's OCI layout), from the cache.

With `--no-cache` the blobs go to a temporary directory removed when the reader closes.
"""

from __future__ import annotations

import http.client
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from layerscope import limits
from layerscope.cache.blobs import BlobCache, blob_cache_max, cache_root
from layerscope.cache.refs import read_ref, write_ref
from layerscope.errors import CorruptImageError, NotFoundError, RegistryError
from layerscope.readers.detect import OpenOptions
from layerscope.readers.docker_daemon.client import (
    DaemonClient,
    NoDaemon,
    NoSuchImage,
    image_path,
)
from layerscope.readers.oci.docker import open_docker_archive
from layerscope.readers.oci.reader import OciImageReader
from layerscope.readers.oci.stores import DirFiles, FilesBlobStore

FORMAT = "docker-daemon"
NAMESPACE = "docker-daemon"
CHUNK = 1 << 20
MAX_LINK_HOPS = 16


class CachedFiles(DirFiles):
    """The members of a `docker save` stream, served from the blob cache by path."""

    def __init__(
        self, source: str, cache: BlobCache, members: dict[str, str], scratch: str | None
    ) -> None:
        super().__init__(str(cache.dir))
        self.source = source
        self.cache = cache
        self.members = members
        self.scratch = scratch  # a --no-cache directory, removed on close

    def _digest(self, rel: str) -> str:
        digest = self.members.get(rel)
        if digest is None:
            raise CorruptImageError(f"{self.source}: the save stream had no member {rel!r}")
        return digest

    def exists(self, rel: str) -> bool:
        digest = self.members.get(rel)
        return digest is not None and self.cache.has(digest)

    def size_of(self, rel: str) -> int:
        try:
            return self.cache.path(self._digest(rel)).stat().st_size
        except OSError:
            raise CorruptImageError(f"{self.source}: {rel} left the blob cache") from None

    def open_path(self, rel: str) -> BinaryIO:
        """The member's bytes, checked against their digest as they are read."""
        try:
            return self.cache.open(self._digest(rel))
        except OSError:
            raise CorruptImageError(f"{self.source}: {rel} left the blob cache") from None

    def close(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def open_daemon(rest: str, _tag: str | None, opts: OpenOptions) -> OciImageReader:
    """The opener readers.detect names for `docker-daemon:` (the tag is part of `rest`)."""
    name = rest
    client = DaemonClient()
    image_id = client.image_json(name)["Id"]
    source = f"docker-daemon:{name}"
    scratch = None if opts.use_cache else tempfile.mkdtemp(prefix="layerscope-daemon-")
    root = Path(scratch) if scratch is not None else cache_root()
    cache = BlobCache(root)
    key = f"{client.host}|{image_id}"
    members = _cached_members(root, cache, key) if scratch is None else None
    try:
        if members is None:
            members = _stream(client, name, cache)
            if scratch is None:
                write_ref(root, NAMESPACE, key, {"members": members})
                cache.evict(blob_cache_max(), set(members.values()))
        files = CachedFiles(source, cache, members, scratch)
        reader = open_docker_archive(FilesBlobStore(files), source, None, opts, FORMAT)
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    config = reader.manifest.get("config")
    if not isinstance(config, dict) or config.get("digest") != image_id:
        reader.close()
        raise RegistryError(
            f"{source}: the daemon sent another image than {image_id[:19]} (retagged while "
            "read?); try again"
        )
    return reader


def find_daemon(name: str, _tag: str | None, opts: OpenOptions) -> OciImageReader:
    """A bare name's lookup: NotFoundError when there is no daemon or it lacks the image."""
    try:
        return open_daemon(name, None, opts)
    except (NoDaemon, NoSuchImage) as e:
        raise NotFoundError(str(e)) from None


def _cached_members(root: Path, cache: BlobCache, key: str) -> dict[str, str] | None:
    ref = read_ref(root, NAMESPACE, key)
    members = ref.get("members") if ref is not None else None
    if not isinstance(members, dict):
        return None
    if not all(isinstance(d, str) and cache.has(d) for d in members.values()):
        return None  # some blob was evicted since: fetch the image again
    return {str(k): str(v) for k, v in members.items()}


def _stream(client: DaemonClient, name: str, cache: BlobCache) -> dict[str, str]:
    """Every regular member of the save stream into the cache: path -> digest (links
    resolved to their targets' digests)."""
    where = f"docker-daemon {client.host}: "
    resp = client.get(f"/images/{image_path(name)}/get")
    members: dict[str, str] = {}
    links: dict[str, str] = {}
    cap = limits.get("max_layers") * 4 + 16  # per layer: a dir, layer.tar, json, VERSION
    try:
        with resp, tarfile.open(fileobj=resp, mode="r|") as tar:
            for count, m in enumerate(tar):
                if count > cap:
                    raise limits.exceeded(f"{where}more than {cap} archive members", "max_layers")
                rel = posixpath.normpath(m.name).lstrip("/")
                if m.isreg():
                    f = tar.extractfile(m)
                    assert f is not None
                    members[rel], _ = cache.put_stream(_copy(f), where)
                elif m.issym():
                    target = posixpath.join(posixpath.dirname(rel), m.linkname)
                    links[rel] = posixpath.normpath(target).lstrip("/")
                elif m.islnk():
                    links[rel] = posixpath.normpath(m.linkname).lstrip("/")
    except (tarfile.TarError, EOFError) as e:
        raise RegistryError(f"{where}the save stream is not a whole tar archive: {e}") from None
    except (OSError, http.client.HTTPException) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise RegistryError(f"{where}reading the save stream failed: {why}") from None
    for rel in links:
        dest = rel
        for _ in range(MAX_LINK_HOPS):
            dest = links.get(dest, dest)
            if dest in members:
                members[rel] = members[dest]
                break
    return members


def _copy(f: object) -> Callable[[Callable[[bytes], None]], None]:
    def produce(sink: Callable[[bytes], None]) -> None:
        read = f.read  # type: ignore[attr-defined]
        while chunk := read(CHUNK):
            sink(chunk)

    return produce
