"""The index cache: reopen an image without reading its layers again.

Under `$XDG_CACHE_HOME/layerscope/index/` (see store.py for the file format) three kinds of
entries are kept, each keyed as keys.py explains:

  tree    the merged FileTree of layers 0..N with their whiteout styles (model/tree_codec):
          a reopen decodes it and reads no layer at all
  layer   one layer's raw entries (entries.py): a layer shared with another image, or an
          image opened at another --layer, is applied without re-reading the blob
  hashes  content digests computed for diffs, per layer (hashing.ContentHasher)
  facts   what the portability report learnt of a layer's files (ELF facts), per layer

The registry's verified blobs live next to it in `blobs/` (blobs.py);
`info()` and `clear()` cover them too, the size cap does not (they are the image itself,
not an index of it). Size cap: LAYERSCOPE_CACHE_MAX (a size as limits.parse_bytes
reads it; 0 disables writing), default 2 GB, least recently used first out.

Choices, measured on 300,000 entries:
- one file per entry, not sqlite3: reading a 15 MB tree and stamping its LRU time took
  2-6 ms from a file, 32-118 ms from a sqlite3 blob (the update commits);
- trees uncompressed (~50 bytes an entry): zstd would save 12 of 15 MB but add ~20 ms
  to the first open and ~10 ms to every reopen, which is the number that matters;
- layer indexes zstd level 1 (~10-20 bytes an entry instead of ~85; +~30 ms to write);
- a single-layer SIF or squashfs gets only its tree cached (see loading._Build).
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from layerscope.cache import keys
from layerscope.cache.blobs import BlobCache
from layerscope.cache.safefs import cache_root
from layerscope.cache.store import Buffer, Store, StoreStats
from layerscope.errors import CacheCorruptError
from layerscope.limits import parse_size
from layerscope.model.entry import Entry
from layerscope.model.tree import FileTree
from layerscope.model.tree_codec import TreeCodecError, decode_tree, encode_tree

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ENV_MAX",
    "CacheCorruptError",
    "CacheInfo",
    "IndexCache",
    "cache_root",
    "index_threads",
    "max_bytes_from_env",
]

DEFAULT_MAX_BYTES = 2 * 1000**3  # 2 GB
ENV_MAX = "LAYERSCOPE_CACHE_MAX"
ENV_THREADS = "LAYERSCOPE_INDEX_THREADS"
MAX_INDEX_THREADS = 4
_HASHES_HEAD = struct.Struct("<II")  # count, digest length

COMPRESS_LAYERS = True
COMPRESS_TREES = False


def index_threads() -> int:
    """Worker threads for indexing layers (0: none), from LAYERSCOPE_INDEX_THREADS;
    see prefetch.py for why the default is none."""
    raw = os.environ.get(ENV_THREADS, "")
    try:
        return max(0, min(int(raw), MAX_INDEX_THREADS)) if raw else 0
    except ValueError:
        return 0


def max_bytes_from_env() -> int:
    """LAYERSCOPE_CACHE_MAX in the one size syntax (limits.parse_bytes); a malformed value
    is a usage error naming the variable, not a silent default."""
    raw = os.environ.get(ENV_MAX, "")
    return parse_size(ENV_MAX, raw) if raw.strip() else DEFAULT_MAX_BYTES


@dataclass(slots=True)
class CacheInfo:
    root: Path
    index: StoreStats
    max_bytes: int
    blob_files: int
    blob_bytes: int


class IndexCache:
    """Read and write cache entries. Every method degrades to a miss on any I/O problem."""

    def __init__(self, root: Path | None = None, max_bytes: int | None = None) -> None:
        self.root = root if root is not None else cache_root()
        self.max_bytes = max_bytes_from_env() if max_bytes is None else max_bytes
        self.store = Store(self.root / "index", self.max_bytes)

    # -- keys ----------------------------------------------------------------------------

    tree_key = staticmethod(keys.tree_key)

    # -- merged trees --------------------------------------------------------------------

    def load_tree(self, key: str) -> FileTree | None:
        # Decoded section by section while the checksum is computed over what is read:
        # one pass over the file, and the payload (~50 bytes an entry) is never in
        # memory whole, which keeps a reopen's peak RSS near the tree's own size.
        reader = self.store.open("tree", key, verify=False)
        if reader is None:
            return None
        with reader:
            try:
                stream = reader.checked_stream()
                tree = decode_tree(stream, reader.length)
                stream.finish()  # nothing decoded is used unless the checksum holds
                return tree
            except (TreeCodecError, CacheCorruptError, OSError):
                self.store.discard("tree", key, reader.ino)
                return None

    def save_tree(self, key: str, tree: FileTree) -> bool:
        return self.store.write("tree", key, encode_tree(tree), compress=COMPRESS_TREES)

    # -- layer indexes -------------------------------------------------------------------

    def layer_entries(self, layer_key: str) -> Iterator[Entry] | None:
        """The layer's cached entries, or None on a miss. The file is verified before the
        first entry is yielded; an entry that then fails to decode raises
        CacheCorruptError (the caller starts over from the image)."""
        key = keys.versioned("layer", layer_key)
        reader = self.store.open("layer", key)
        if reader is None:
            return None

        def gen() -> Iterator[Entry]:
            with reader:
                from layerscope.cache.entries import iter_chunks

                try:
                    yield from iter_chunks(reader.stream())
                except (TreeCodecError, OSError, EOFError) as e:
                    self.store.discard("layer", key, reader.ino)
                    raise CacheCorruptError(str(e)) from e
                except Exception as e:  # zstandard.ZstdError and kin: the bytes are bad
                    if type(e).__module__.startswith("zstandard"):
                        self.store.discard("layer", key, reader.ino)
                        raise CacheCorruptError(str(e)) from e
                    raise

        return gen()

    def record_layer(
        self, layer_key: str, entries: Iterator[Entry], keep: Callable[[], bool] | None = None
    ) -> Iterator[Entry]:
        """Pass `entries` through, storing them as the layer's index once they end (unless
        `keep()` then says no: a listing that warned is not worth keeping)."""
        w = self.store.writer("layer", keys.versioned("layer", layer_key), COMPRESS_LAYERS)
        if w is None:
            return entries
        from layerscope.cache.entries import record  # not needed to reopen from a tree

        return record(entries, w, keep)

    def has_layer(self, layer_key: str) -> bool:
        """Whether an index for the layer exists (unverified: a cheap planning hint)."""
        return self.store.exists("layer", keys.versioned("layer", layer_key))

    def save_layer_chunks(self, layer_key: str, chunks: list[bytes]) -> bool:
        """Store an index built elsewhere (prefetch.index_layer: zstd frames, one per
        chunk) for the layer, as it is: a zstd stream may hold many frames."""
        return self.store.write(
            "layer", keys.versioned("layer", layer_key), chunks, precompressed=True
        )

    # -- content hashes ------------------------------------------------------------------

    def load_hashes(self, layer_key: str) -> dict[int, bytes]:
        """The layer's stored digests by content locator (Entry.loc: one locator is one
        content within a layer, so no size is needed beside it)."""
        data = self.store.read("hashes", keys.versioned("hashes", layer_key))
        if data is None:
            return {}
        try:
            count, width = _HASHES_HEAD.unpack_from(data)
            at = _HASHES_HEAD.size
            locs = array("q")
            locs.frombytes(data[at : at + 8 * count])
            blob = data[at + 8 * count :]
            if len(locs) != count or len(blob) != count * width or width == 0:
                raise ValueError("lengths")
        except (struct.error, ValueError):
            return {}
        ends = range(width, len(blob) + width, width)
        digests = map(blob.__getitem__, map(slice, range(0, len(blob), width), ends))
        return dict(zip(locs, digests, strict=True))

    def save_hashes(self, layer_key: str, new: dict[int, bytes]) -> bool:
        """Merge `new` (locator -> digest) into the layer's stored digests."""
        if not new:
            return True
        merged = self.load_hashes(layer_key)
        merged.update(new)
        widths = {len(d) for d in merged.values()}
        if len(widths) != 1:
            return False
        (width,) = widths
        parts: list[Buffer] = [
            _HASHES_HEAD.pack(len(merged), width),
            array("q", merged.keys()).tobytes(),
            b"".join(merged.values()),
        ]
        return self.store.write("hashes", keys.versioned("hashes", layer_key), parts)

    # -- per-file facts ------------------------------------------------------------------

    def load_facts(self, layer_key: str) -> bytes | None:
        """The layer's stored file facts (engine.portability_reads encodes them)."""
        return self.store.read("facts", keys.versioned("facts", layer_key))

    def save_facts(self, layer_key: str, payload: bytes) -> bool:
        return self.store.write("facts", keys.versioned("facts", layer_key), [payload], True)

    # -- administration ------------------------------------------------------------------

    def info(self) -> CacheInfo:
        files = total = 0
        for _, st in BlobCache(self.root, make_root=False).files():
            files += 1
            total += st.st_size
        return CacheInfo(self.root, self.store.stats(), self.max_bytes, files, total)

    def clear(self, blobs: bool = True) -> tuple[int, int]:
        """Remove every index entry (and registry blob); (files, bytes) removed. Only names
        the cache writes are removed, and no symlink inside the cache is followed."""
        files, total = self.store.clear()
        if blobs:
            more, size = BlobCache(self.root, make_root=False).clear()
            files += more
            total += size
        return files, total
