"""Content-addressed blob cache: `$XDG_CACHE_HOME/layerscope/blobs/sha256/<hex>`.

A blob enters the cache only whole and verified: it is streamed into a temporary file in
the same directory while its sha256 is computed, and renamed onto its digest name only if
the digest (and the size the descriptor promised) match. Readers therefore trust a cached
file without hashing it again; a file whose size disagrees with its descriptor is treated
as absent and fetched anew.

Pulled images must not fill a home directory with a quota: after each download the blobs
used longest ago are removed until the total is under LAYERSCOPE_BLOB_CACHE_MAX (default
10 GiB; K/M/G suffixes), never those of the image being read. Opening a blob stamps it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import BinaryIO

from layerscope.errors import RegistryError
from layerscope.limits import parse_size

_SHA256 = re.compile(r"sha256:([0-9a-f]{64})")

Producer = Callable[[Callable[[bytes], None]], None]

BLOB_CACHE_ENV = "LAYERSCOPE_BLOB_CACHE_MAX"
DEFAULT_BLOB_CACHE = 10 * 1000**3  # 10 GB
STALE_PART_SECONDS = 24 * 3600  # a partial download this old belongs to no live process


def blob_cache_max() -> int:
    text = os.environ.get(BLOB_CACHE_ENV, "")
    return parse_size(BLOB_CACHE_ENV, text) if text.strip() else DEFAULT_BLOB_CACHE


def cache_root() -> Path:
    """$XDG_CACHE_HOME/layerscope (default ~/.cache/layerscope)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "layerscope"


def hex_of(digest: str) -> str:
    """The hex part of a sha256 digest; anything else is refused before it names a path."""
    m = _SHA256.fullmatch(digest)
    if m is None:
        raise RegistryError(f"unsupported or malformed digest {digest[:80]!r}")
    return m.group(1)


class BlobCache:
    """Verified blobs by digest under `root/blobs/sha256/`."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "blobs" / "sha256"

    def path(self, digest: str) -> Path:
        return self.dir / hex_of(digest)

    def has(self, digest: str, size: int | None = None) -> bool:
        try:
            st = self.path(digest).stat()
        except OSError:
            return False
        return size is None or st.st_size == size

    def open(self, digest: str) -> BinaryIO:
        f = open(self.path(digest), "rb")  # noqa: SIM115 - the caller closes it
        with contextlib.suppress(OSError):  # the LRU clock: a read-only cache still works
            os.utime(f.fileno())
        return f

    def evict(self, max_bytes: int, keep: Collection[str]) -> int:
        """Remove the blobs used longest ago until the total is at most `max_bytes`, never
        one whose digest is in `keep` (the image being read), and partial downloads left
        by crashed processes. Returns the bytes freed."""
        keep_names = {m.group(1) for d in keep if (m := _SHA256.fullmatch(d))}
        try:
            files = list(os.scandir(self.dir))
        except OSError:
            return 0
        now = time.time()
        total = freed = 0
        blobs: list[tuple[float, int, str, str]] = []
        for f in files:
            try:
                st = f.stat(follow_symlinks=False)
            except OSError:
                continue
            if f.name.startswith("."):  # a partial download (.part)
                if now - st.st_mtime > STALE_PART_SECONDS:
                    freed += _unlink(f.path, st.st_size)
                else:
                    total += st.st_size
                continue
            total += st.st_size
            blobs.append((st.st_mtime, st.st_size, f.name, f.path))
        for _, size, name, path in sorted(blobs):  # oldest use first
            if total <= max_bytes:
                break
            if name not in keep_names:
                freed += _unlink(path, size)
                total -= size
        return freed

    def read(self, digest: str, limit: int) -> bytes | None:
        """A small cached blob's bytes (a manifest), or None when absent or too large."""
        try:
            with self.open(digest) as f:
                data = f.read(limit + 1)
        except OSError:
            return None
        return data if len(data) <= limit else None

    def put_bytes(self, digest: str, data: bytes, where: str = "") -> None:
        """Cache bytes already in memory (a manifest) after checking their digest."""
        self.put(digest, len(data), lambda sink: sink(data), where)

    def put(self, digest: str, size: int | None, produce: Producer, where: str = "") -> Path:
        """Run produce(sink) to stream the blob in; keep it only if it is the blob asked for.

        `size` (from the descriptor) also caps what is accepted, so a server cannot fill
        the disk by streaming more than it promised. `where` prefixes error messages."""
        want = hex_of(digest)
        final = self.dir / want
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{want[:12]}-", suffix=".part", dir=self.dir)
        except OSError as e:
            raise RegistryError(f"cache {self.dir}: cannot write: {e.strerror}") from e
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            written = 0
            with os.fdopen(fd, "wb") as out:

                def sink(chunk: bytes) -> None:
                    nonlocal written
                    written += len(chunk)
                    if size is not None and written > size:
                        raise RegistryError(
                            f"{where}blob {digest}: server sent more than the {size} bytes "
                            "its descriptor declares"
                        )
                    h.update(chunk)
                    out.write(chunk)

                produce(sink)
            got = h.hexdigest()
            if got != want:
                raise RegistryError(
                    f"{where}blob {digest}: digest mismatch (received sha256:{got})"
                )
            if size is not None and written != size:
                raise RegistryError(
                    f"{where}blob {digest}: received {written} bytes, descriptor declares {size}"
                )
            os.replace(tmp, final)
        except OSError as e:
            raise RegistryError(f"cache {self.dir}: cannot write: {e.strerror}") from e
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def put_stream(self, produce: Producer, where: str = "") -> tuple[str, int]:
        """Stream a blob whose digest nobody declared (a member of a daemon's `docker save`
        stream) into the cache under the digest computed on the way: (digest, size)."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".stream-", suffix=".part", dir=self.dir)
        except OSError as e:
            raise RegistryError(f"cache {self.dir}: cannot write: {e.strerror}") from e
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:

                def sink(chunk: bytes) -> None:
                    nonlocal size
                    size += len(chunk)
                    h.update(chunk)
                    out.write(chunk)

                produce(sink)
            os.replace(tmp, self.dir / h.hexdigest())
        except OSError as e:
            raise RegistryError(f"{where}cache {self.dir}: cannot write: {e.strerror}") from e
        finally:
            tmp.unlink(missing_ok=True)
        return "sha256:" + h.hexdigest(), size


def _unlink(path: str, size: int) -> int:
    try:
        os.unlink(path)
    except OSError:
        return 0  # gone already (another process evicting), or not ours to remove
    return size
