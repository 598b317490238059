"""Cache files on disk: atomic, versioned, checksummed, size-capped with LRU eviction.

One file per entry, `<root>/<kind>/<hh>/<sha256(key)[:40]>.lsc`:

    header  magic "LSCACHE\\0", store format, kind, codec, key length, payload length,
            xxh3_128 of key + stored payload
    key     the full key (so a name collision is a miss, not a misread)
    payload what the kind's codec wrote (zstd-compressed when codec = 1)

Writers stream into a uniquely named temporary file in the same directory and
`os.replace` it into place only when complete, so readers see a whole file or none; a file
is never modified after that. Readers check everything in the header and the checksum
before trusting a byte, and remove what fails. Reading touches the file's mtime, which is
the LRU clock eviction sorts by. Every operation tolerates files vanishing under it
(another process evicting or clearing) and never raises OSError: the cache is an
accelerator, so a full disk or a read-only home only makes it miss.

Every file is reached through safefs: no symlink below the cache root is followed, only
names this module writes are ever removed, directories are 0700 and files 0600, and a
root owned by another user is refused (UsageError) instead of being read or written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from layerscope.cache import safefs
from layerscope.cache.store_read import (
    HEADER,
    KIND_IDS,
    Reader,
)
from layerscope.cache.store_write import TMP_SUFFIX, Writer, touch
from layerscope.errors import CacheCorruptError

__all__ = ["HEADER", "CacheCorruptError", "Reader", "Store", "StoreStats", "Writer"]

Buffer = bytes | bytearray | memoryview

SUFFIX = ".lsc"
STALE_TMP_SECONDS = 3600
# The only names the store writes (and so the only ones it removes).
_SUBDIR = re.compile(r"[0-9a-f]{2}")
_ENTRY = re.compile(r"[0-9a-f]{40}\.lsc")
_TMP = re.compile(r"\.[0-9a-f]{40}\.lsc\.[0-9]+\.[0-9a-f]{12}\.tmp")


@dataclass(frozen=True, slots=True)
class Found:
    """One cache file met by a scan."""

    kind: str
    sub: str
    name: str
    st: os.stat_result

    @property
    def temporary(self) -> bool:
        return self.name.endswith(TMP_SUFFIX)


@dataclass(slots=True)
class StoreStats:
    files: int
    bytes: int
    by_kind: dict[str, tuple[int, int]]  # kind -> (files, bytes)


class Store:
    """The files of one cache root (`$XDG_CACHE_HOME/layerscope/index`). The directory
    above it is the trusted root (safefs.open_root); everything below is never followed."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.base = root.parent

    def locate(self, kind: str, key: str) -> tuple[tuple[str, str, str], str]:
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return (self.root.name, kind, digest[:2]), digest + SUFFIX

    def path(self, kind: str, key: str) -> Path:
        """Where the entry lives (for messages and tests; I/O goes through descriptors)."""
        parts, name = self.locate(kind, key)
        return self.base.joinpath(*parts, name)

    def _dir(self, parts: Iterable[str]) -> contextlib.AbstractContextManager[int | None]:
        return safefs.opened_dir(self.base, tuple(parts), create=False)

    # -- reading -----------------------------------------------------------------------------

    def open(self, kind: str, key: str, verify: bool = True) -> Reader | None:
        """A reader for the entry (its checksum verified unless `verify` is False: then
        the caller must use read_all), or None on a miss. Corrupt files are removed."""
        parts, name = self.locate(kind, key)
        try:
            with self._dir(parts) as d:
                if d is None:
                    return None
                f = os.fdopen(safefs.open_file(d, name), "rb")
        except OSError:
            return None
        ino = None
        try:
            reader = Reader(f, kind, key)
            ino = reader.ino
            if verify:
                reader.verify()
        except CacheCorruptError:
            f.close()
            self.discard(kind, key, ino)
            return None
        except OSError:
            f.close()
            return None
        touch(f.fileno())
        return reader

    def read(self, kind: str, key: str) -> bytes | None:
        """The whole verified payload (decompressed), or None."""
        reader = self.open(kind, key, verify=False)
        if reader is None:
            return None
        with reader:
            try:
                return reader.read_all()
            except (OSError, CacheCorruptError):
                self.discard(kind, key, reader.ino)
                return None

    def exists(self, kind: str, key: str) -> bool:
        parts, name = self.locate(kind, key)
        try:
            with self._dir(parts) as d:
                return d is not None and safefs.is_file(d, name)
        except OSError:
            return False

    def discard(self, kind: str, key: str, ino: int | None) -> None:
        """Remove a bad file, unless another process has already replaced it."""
        parts, name = self.locate(kind, key)
        with contextlib.suppress(OSError), self._dir(parts) as d:
            if d is not None:
                safefs.unlink_at(d, name, ino)

    # -- writing -----------------------------------------------------------------------------

    def writer(
        self, kind: str, key: str, compress: bool = False, precompressed: bool = False
    ) -> Writer | None:
        """A writer for the entry (None if the cache takes no writes). `precompressed`:
        the caller writes zstd frames, stored as they come (codec zstd)."""
        if self.max_bytes <= 0:
            return None
        try:
            return Writer(self, kind, key, compress, precompressed)
        except OSError:
            return None

    def write(
        self,
        kind: str,
        key: str,
        parts: Iterable[Buffer],
        compress: bool = False,
        precompressed: bool = False,
    ) -> bool:
        w = self.writer(kind, key, compress, precompressed)
        if w is None:
            return False
        with w:
            for p in parts:
                w.write(p)
            return w.commit()

    # -- size cap ----------------------------------------------------------------------------

    def scan(self) -> Iterator[Found]:
        """Every file the store wrote (temporary ones included); nothing else is listed."""
        try:
            top = safefs.open_dir(self.base, (self.root.name,), create=False)
        except OSError:
            return
        if top is None:
            return
        try:
            for kind in KIND_IDS:
                yield from self._scan_kind(top, kind)
        finally:
            os.close(top)

    def _scan_kind(self, top: int, kind: str) -> Iterator[Found]:
        try:
            kfd = safefs.open_subdir(top, kind, create=False)
        except OSError:
            return
        if kfd is None:
            return
        try:
            for sub in sorted(safefs.subdirs(kfd)):
                if not _SUBDIR.fullmatch(sub):
                    continue
                try:
                    sfd = safefs.open_subdir(kfd, sub, create=False)
                except OSError:
                    continue
                if sfd is None:
                    continue
                try:
                    for name, st in safefs.regular_files(sfd):
                        if _ENTRY.fullmatch(name) or _TMP.fullmatch(name):
                            yield Found(kind, sub, name, st)
                finally:
                    os.close(sfd)
        finally:
            os.close(kfd)

    def remove(self, found: Found) -> bool:
        """Unlink one scanned file, if it is still that inode."""
        try:
            with self._dir((self.root.name, found.kind, found.sub)) as d:
                return d is not None and safefs.unlink_at(d, found.name, found.st.st_ino)
        except OSError:
            return False

    def stats(self) -> StoreStats:
        by_kind: dict[str, tuple[int, int]] = {}
        files = total = 0
        for f in self.scan():
            n, b = by_kind.get(f.kind, (0, 0))
            by_kind[f.kind] = (n + 1, b + f.st.st_size)
            files += 1
            total += f.st.st_size
        return StoreStats(files, total, by_kind)

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used files until the total is under the cap; also stale
        temporary files of crashed writers. Returns the bytes freed."""
        now = time.time()
        live: list[Found] = []
        total = freed = 0
        for f in self.scan():
            if f.temporary:
                if now - f.st.st_mtime > STALE_TMP_SECONDS:
                    freed += f.st.st_size if self.remove(f) else 0
                else:
                    total += f.st.st_size  # a writer in progress: counts, is not ours to remove
                continue
            live.append(f)
            total += f.st.st_size
        if total <= self.max_bytes:
            return freed
        live.sort(key=lambda f: f.st.st_mtime)  # oldest first
        keep_name = keep.name if keep is not None else None
        for f in live:
            if total <= self.max_bytes:
                break
            if f.name == keep_name and f.st.st_size <= self.max_bytes:
                continue
            freed += f.st.st_size if self.remove(f) else 0
            total -= f.st.st_size  # gone, whoever removed it
        return freed

    def clear(self) -> tuple[int, int]:
        """Remove every file the store wrote; (files, bytes) removed."""
        files = total = 0
        emptied: set[tuple[str, str]] = set()
        for f in list(self.scan()):
            if self.remove(f):
                files += 1
                total += f.st.st_size
            emptied.add((f.kind, f.sub))
        for kind, sub in emptied:
            with contextlib.suppress(OSError), self._dir((self.root.name, kind)) as d:
                if d is not None:
                    os.rmdir(sub, dir_fd=d)  # fails if not empty: a writer is busy in it
        return files, total
