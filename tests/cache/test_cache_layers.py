"""Layer indexes (shared blobs, other --layer trees, raw-entry round trips, corruption),
persisted content hashes, and the opt-in parallel indexing of OCI layers."""

from __future__ import annotations

import io
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerscope.cache.entries import CHUNK, iter_chunks, record
from layerscope.engine.compare import compare_images
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.loading import load_image
from layerscope.errors import CorruptImageError
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers import open_image
from tests.cache.support import (
    LAYOUT,
    OVERLAY,
    STAGE1,
    STAGE2,
    Counting,
    cache_files,
    flip,
    fresh,
    layer_reads,
    load,
)
from tests.model.test_tree_codec import assert_same


def test_layer_indexes_serve_other_trees(reads: Counter[str]) -> None:
    """--layer N of a stack seen before, and another image sharing blobs, read only the
    layers not indexed yet."""
    load(f"oci:{LAYOUT}:1.0")
    assert layer_reads(reads) == 5
    reads.clear()
    lower = load(f"oci:{LAYOUT}:1.0", upto=2)
    assert layer_reads(reads) == 0
    assert_same(fresh(f"oci:{LAYOUT}:1.0", upto=2).tree, lower.tree)
    reads.clear()
    other = load(f"oci:{LAYOUT}:1.1")  # shares layer 0 (the base) with 1.0
    assert reads["layer0"] == 0 and reads["layer1"] == reads["layer2"] == 1
    assert_same(fresh(f"oci:{LAYOUT}:1.1").tree, other.tree)


def test_layer_index_roundtrips_raw_entries() -> None:
    """Every entry of every fixture layer (whiteouts, hard links, xattrs, devices) comes
    back from the index equal, in order."""

    class Sink:
        def __init__(self) -> None:
            self.data = bytearray()
            self.committed = False

        def write(self, data: Any) -> None:
            self.data += data

        def commit(self) -> bool:
            self.committed = True
            return True

        def abort(self) -> None:
            pass

    for ref in (str(OVERLAY), f"oci:{LAYOUT}:1.0", str(STAGE2)):
        reader = open_image(ref)
        try:
            for info in reader.describe().layers:
                sink = Sink()
                passed = list(record(reader.iter_entries(info.index), sink))
                assert sink.committed
                assert passed == list(reader.iter_entries(info.index))
                back = list(iter_chunks(io.BytesIO(bytes(sink.data))))
                for a, b in zip(passed, back, strict=True):
                    a.xattrs = a.xattrs or None  # {} and None both mean "no xattrs"
                    assert a == b
        finally:
            reader.close()


def test_record_spans_chunks_and_skips_unencodable() -> None:
    many = [Entry(f"/f{i}", EntryKind.FILE, size=i) for i in range(CHUNK * 2 + 5)]

    class Sink:
        chunks = 0
        committed = False

        def write(self, data: Any) -> None:
            self.chunks += 1

        def commit(self) -> bool:
            self.committed = True
            return True

        def abort(self) -> None:
            pass

    ok = Sink()
    assert list(record(iter(many), ok)) == many
    assert ok.committed
    bad = Sink()
    odd = [*many, Entry("/huge-uid", EntryKind.FILE, uid=2**40)]
    assert list(record(iter(odd), bad)) == odd  # entries keep flowing
    assert not bad.committed


def test_corrupt_layer_index_is_rebuilt(reads: Counter[str]) -> None:
    ref = f"oci:{LAYOUT}:1.0"
    want = load(ref)
    for path in cache_files("tree"):
        path.unlink()  # force the layer-index path
    layer_files = cache_files("layer")
    assert len(layer_files) == 5
    for path in layer_files:
        flip(path, path.stat().st_size - 1)
    reads.clear()
    got = load(ref)
    assert layer_reads(reads) == 5
    assert_same(want.tree, got.tree)


# -- content hashes ------------------------------------------------------------------------


def test_second_diff_reuses_persisted_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import xxhash

    hashed = Counter[str]()

    class CountingXX:
        @staticmethod
        def xxh3_128(data: bytes = b"") -> Any:
            hashed["files"] += 1
            return xxhash.xxh3_128(data)

        @staticmethod
        def xxh3_128_digest(data: bytes) -> bytes:
            hashed["files"] += 1
            return xxhash.xxh3_128_digest(data)

    # content digests and stored-form digests are both made in content_jobs
    monkeypatch.setattr("layerscope.engine.hashing.xxhash", CountingXX)
    monkeypatch.setattr("layerscope.engine.content_jobs.xxhash", CountingXX)

    def diff() -> Any:
        a, b = load_image(str(STAGE1)), load_image(str(STAGE2))
        try:
            hasher = ContentHasher()
            d = compare_images(a, b, hasher=hasher)
            hasher.flush()
            return d.tree
        finally:
            a.close()
            b.close()

    first = diff()
    assert hashed["files"] > 0, "the fixture pair must need content hashing"
    assert cache_files("hashes")
    hashed.clear()
    second = diff()
    assert hashed["files"] == 0, "digests must come from the cache"
    assert [m.path for m in first.modified] == [m.path for m in second.modified]


# -- parallel indexing ---------------------------------------------------------------------


def test_prefetched_layers_build_the_same_tree(
    monkeypatch: pytest.MonkeyPatch, reads: Counter[str]
) -> None:
    ref = f"oci:{LAYOUT}:1.0"
    sequential = fresh(ref)  # LAYERSCOPE_INDEX_THREADS unset: no threads
    monkeypatch.setenv("LAYERSCOPE_INDEX_THREADS", "2")
    seen: set[str] = set()
    real = Counting.iter_entries

    def spy(self: Counting, layer: int) -> Iterator[Entry]:
        seen.add(threading.current_thread().name)
        return real(self, layer)

    monkeypatch.setattr(Counting, "iter_entries", spy)
    parallel = fresh(ref)
    assert any(name.startswith("layerscope-index") for name in seen), "no worker was used"
    assert_same(sequential.tree, parallel.tree)
    reads.clear()
    cached = load(ref)  # the prefetched indexes were persisted too
    assert layer_reads(reads) == 5
    reads.clear()
    for path in cache_files("tree"):
        path.unlink()
    again = load(ref)
    assert layer_reads(reads) == 0
    assert_same(sequential.tree, again.tree)
    assert_same(sequential.tree, cached.tree)


def test_no_workers_by_default(reads: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    real = Counting.iter_entries

    def spy(self: Counting, layer: int) -> Iterator[Entry]:
        seen.add(threading.current_thread().name)
        return real(self, layer)

    monkeypatch.setattr(Counting, "iter_entries", spy)
    load(f"oci:{LAYOUT}:1.0")
    assert seen == {threading.current_thread().name}


def test_worker_errors_reach_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_INDEX_THREADS", "2")

    layout = tmp_path / "layout"
    shutil.copytree(LAYOUT, layout)
    img = fresh(f"oci:{layout}:1.0")
    top = img.meta.layers[-1].id.split(":")[1]
    blob = layout / "blobs" / "sha256" / top
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    before = threading.active_count()
    with pytest.raises(CorruptImageError):
        load(f"oci:{layout}:1.0")
    assert threading.active_count() == before, "workers must be joined"
    assert not [p for p in cache_files() if p.name.endswith(".tmp")]
    assert len(cache_files("layer")) == 4  # every layer but the broken one
    assert cache_files("tree") == []
