"""Content-addressed blob cache: `$XDG_CACHE_HOME/layerscope/blobs/sha256/<hex>`.

A blob enters the cache only whole and verified: it is streamed into a temporary file in
the same directory while its sha256 is computed, and renamed onto its digest name only if
the digest (and the size the descriptor promised) match. Readers therefore trust a cached
file without hashing it again; a file whose size disagrees with its descriptor is treated
as absent and fetched anew.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from layerscope.errors import RegistryError

_SHA256 = re.compile(r"sha256:([0-9a-f]{64})")

Producer = Callable[[Callable[[bytes], None]], None]


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
        return open(self.path(digest), "rb")

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
