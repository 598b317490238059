"""The index cache: hits read no layer, misses and changed or corrupt files rebuild, two
processes can write at once, the size cap evicts the least recently used, --no-cache
writes nothing, and `layerscope cache info|clear` report and empty it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import layerscope.loading as loading
from layerscope.cache import IndexCache
from layerscope.cache.entries import CHUNK, iter_chunks, record
from layerscope.cache.store import HEADER
from layerscope.compare import compare_images
from layerscope.hashing import ContentHasher
from layerscope.loading import LoadedImage, load_image
from layerscope.model.entry import Entry, EntryKind
from layerscope.readers import OpenOptions, open_image
from tests.cli.run import cli
from tests.conftest import FIXTURES, ROOT
from tests.model.test_tree_codec import assert_same

BASE = FIXTURES / "sif/alpine-like-base.sif"
STAGE1 = FIXTURES / "sif/stage1.sif"
STAGE2 = FIXTURES / "sif/stage2.sif"
OVERLAY = FIXTURES / "sif/with-overlay.sif"
LAYOUT = FIXTURES / "oci/app-layout"


class Counting:
    """A reader proxy counting layer listings and content reads."""

    def __init__(self, inner: Any, counts: Counter[str]) -> None:
        self.inner = inner
        self.counts = counts

    def describe(self) -> Any:
        return self.inner.describe()

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        self.counts[f"layer{layer}"] += 1
        return self.inner.iter_entries(layer)  # type: ignore[no-any-return]

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        self.counts["content"] += 1
        return self.inner.read_content(layer, loc, size)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()

    def counting_open(ref: str, options: OpenOptions | None = None) -> Any:
        return Counting(open_image(ref, options), counts)

    monkeypatch.setattr(loading, "open_image", counting_open)
    return counts


def cache_dir() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"]) / "layerscope"


def cache_files(kind: str = "") -> list[Path]:
    top = cache_dir() / "index" / kind
    return sorted(p for p in top.rglob("*") if p.is_file()) if top.exists() else []


def load(ref: str | Path, **kw: Any) -> LoadedImage:
    img = load_image(str(ref), **kw)
    img.close()
    return img


def fresh(ref: str | Path, upto: int | None = None) -> LoadedImage:
    return load(ref, options=OpenOptions(use_cache=False), upto=upto)


def layer_reads(counts: Counter[str]) -> int:
    return sum(v for k, v in counts.items() if k.startswith("layer"))


# -- hit and miss ------------------------------------------------------------------------


def test_miss_then_hit_reads_no_layer(reads: Counter[str]) -> None:
    assert cache_files() == []
    first = load(BASE)
    assert reads["layer0"] == 1
    assert len(cache_files("tree")) == 1
    reads.clear()
    second = load(BASE)
    assert layer_reads(reads) == 0, "a cached tree must not list any layer"
    assert_same(first.tree, second.tree)
    assert_same(fresh(BASE).tree, second.tree)
    # metadata read from files inside the image still comes through the reader
    assert second.meta.definition == first.meta.definition


def test_hit_for_every_layer_of_an_overlay_sif(reads: Counter[str]) -> None:
    load(OVERLAY)
    assert reads["layer0"] == reads["layer1"] == 1
    reads.clear()
    again = load(OVERLAY)
    assert layer_reads(reads) == 0
    assert_same(fresh(OVERLAY).tree, again.tree)


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
                import io

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


# -- invalidation --------------------------------------------------------------------------


def test_changed_file_invalidates(tmp_path: Path, reads: Counter[str]) -> None:
    image = tmp_path / "image.sif"
    shutil.copy(STAGE1, image)
    load(image)
    reads.clear()
    load(image)
    assert layer_reads(reads) == 0
    # same bytes, new mtime: the identity changed, so the tree is read again
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load(image)
    assert reads["layer0"] == 1
    # other contents at the same path (mtime restored): the new tree, never the old one
    shutil.copy(STAGE2, image)
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    reads.clear()
    got = load(image)
    assert reads["layer0"] == 1
    assert_same(fresh(STAGE2).tree, got.tree)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip-payload", "flip-header", "empty", "version"],
)
def test_corrupt_tree_file_is_rebuilt(damage: str, reads: Counter[str]) -> None:
    want = load(BASE)
    (path,) = cache_files("tree")
    size = path.stat().st_size
    if damage == "truncate":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif damage == "flip-payload":
        _flip(path, size - 100)
    elif damage == "flip-header":
        _flip(path, HEADER.size - 3)  # inside the stored checksum
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        _flip(path, 8)  # the store format version
    reads.clear()
    got = load(BASE)
    assert reads["layer0"] == 1, "a damaged entry must be rebuilt, never trusted"
    assert_same(want.tree, got.tree)
    reads.clear()
    load(BASE)
    assert layer_reads(reads) == 0, "the rebuilt entry serves the next open"


def test_corrupt_layer_index_is_rebuilt(reads: Counter[str]) -> None:
    ref = f"oci:{LAYOUT}:1.0"
    want = load(ref)
    for path in cache_files("tree"):
        path.unlink()  # force the layer-index path
    layer_files = cache_files("layer")
    assert len(layer_files) == 5
    for path in layer_files:
        _flip(path, path.stat().st_size - 1)
    reads.clear()
    got = load(ref)
    assert layer_reads(reads) == 5
    assert_same(want.tree, got.tree)


def test_stray_temporary_files_are_ignored_and_swept() -> None:
    load(BASE)
    (path,) = cache_files("tree")
    stray = path.with_name(".junk.1.ab.tmp")
    stray.write_bytes(b"half written")
    os.utime(stray, (1, 1))  # a crashed writer, long ago
    IndexCache(max_bytes=1 << 30).store.evict()
    assert not stray.exists()
    assert path.exists()


# -- concurrency ---------------------------------------------------------------------------

_WRITER = """
import sys, time
from layerscope.loading import load_image
from layerscope.model.tree_codec import encode_tree
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
img = load_image(sys.argv[1])
sys.stdout.buffer.write(b"".join(bytes(p) for p in encode_tree(img.tree)))
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    import time

    start = str(time.time() + 1.0)  # both start loading at the same instant
    ref = f"oci:{LAYOUT}:1.0"
    env = {**os.environ}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, ref, start],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()
    assert outs[0][0] == outs[1][0]
    assert not [p for p in cache_files() if p.name.endswith(".tmp")]
    assert len(cache_files("tree")) == 1 and len(cache_files("layer")) == 5
    assert_same(fresh(ref).tree, load(ref).tree)


# -- size cap ------------------------------------------------------------------------------


def test_eviction_keeps_the_cache_under_its_cap(
    monkeypatch: pytest.MonkeyPatch, reads: Counter[str]
) -> None:
    images = [BASE, STAGE1, STAGE2]
    sizes = {}
    for image in images:  # measure each tree's file alone
        load(image)
        (path,) = cache_files("tree")
        sizes[image] = path.stat().st_size
        path.unlink()
    cap = sizes[BASE] + sizes[STAGE2] + 64  # room for two of the three
    assert cap < sum(sizes.values())
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", str(cap))
    load(BASE)
    load(STAGE1)
    load(BASE)  # a hit: BASE is now the most recently used
    load(STAGE2)  # over the cap: STAGE1, the least recently used, goes
    total = sum(p.stat().st_size for p in cache_files())
    assert total <= cap
    reads.clear()
    load(BASE)
    load(STAGE2)
    assert layer_reads(reads) == 0
    load(STAGE1)
    assert reads["layer0"] == 1


def test_sandboxes_are_never_cached(tmp_path: Path, reads: Counter[str]) -> None:
    root = tmp_path / "sandbox"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("box\n")
    load(root)
    (root / "etc" / "motd").write_text("changed under us\n")
    got = load(root)
    assert reads["layer0"] == 2
    assert got.tree.lookup("/etc/motd") is not None
    assert cache_files() == []


def test_zero_cap_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", "0")
    load(BASE)
    assert cache_files() == []


# -- content hashes ------------------------------------------------------------------------


def test_second_diff_reuses_persisted_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import xxhash

    hashed = Counter[str]()

    class CountingXX:
        @staticmethod
        def xxh3_128() -> Any:
            hashed["files"] += 1
            return xxhash.xxh3_128()

    monkeypatch.setattr("layerscope.hashing.xxhash", CountingXX)

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


# -- CLI -----------------------------------------------------------------------------------


def test_no_cache_writes_nothing(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    r = cli(capsysbinary, "ls", "--no-cache", "--json", str(BASE))
    assert r.code == 0
    assert not cache_dir().exists() or cache_files() == []
    assert "LAYERSCOPE_NO_CACHE" not in os.environ, "the flag must not outlive its command"
    r2 = cli(capsysbinary, "ls", "--json", str(BASE))
    assert r2.out == r.out
    assert len(cache_files("tree")) == 1
    r3 = cli(capsysbinary, "diff", "--no-cache", "--json", str(STAGE1), str(STAGE2))
    assert r3.code == 1
    assert len(cache_files("tree")) == 1


def test_cache_info_and_clear(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERSCOPE_CACHE_MAX", "64M")
    empty = cli(capsysbinary, "cache", "info", "--json").json()
    assert empty["index"]["files"] == 0 and empty["max_bytes"] == 64 << 20
    assert empty["root"] == str(cache_dir())
    load(OVERLAY)
    blob = cache_dir() / "blobs" / "sha256" / ("0" * 64)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"x" * 10)
    info = cli(capsysbinary, "cache", "info", "--json").json()
    assert info["schema"] == "layerscope.cache/1"
    on_disk = sum(p.stat().st_size for p in cache_files())
    assert info["index"]["bytes"] == on_disk > 0
    assert info["index"]["by_kind"]["tree"]["files"] == 1
    assert info["index"]["by_kind"]["layer"]["files"] == 2
    assert info["blobs"] == {"files": 1, "bytes": 10}
    text = cli(capsysbinary, "cache", "info")
    assert str(cache_dir()) in text.out.decode() and "64.0 MiB" in text.out.decode()
    kept = cli(capsysbinary, "cache", "clear", "--keep-blobs")
    assert kept.code == 0 and blob.exists() and cache_files() == []
    load(BASE)
    cleared = cli(capsysbinary, "cache", "clear")
    assert cleared.code == 0 and b"removed 2 files" in cleared.out
    assert not blob.exists() and cache_files() == []
    assert json.loads(cli(capsysbinary, "cache", "info", "--json").out)["index"]["files"] == 0


# -- parallel indexing ---------------------------------------------------------------------


def test_prefetched_layers_build_the_same_tree(
    monkeypatch: pytest.MonkeyPatch, reads: Counter[str]
) -> None:
    import threading

    ref = f"oci:{LAYOUT}:1.0"
    monkeypatch.setattr(loading, "PARALLEL_FORMATS", frozenset())
    sequential = fresh(ref)
    monkeypatch.setattr(loading, "PARALLEL_FORMATS", frozenset({"oci-layout"}))
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
    import threading

    seen: set[str] = set()
    real = Counting.iter_entries

    def spy(self: Counting, layer: int) -> Iterator[Entry]:
        seen.add(threading.current_thread().name)
        return real(self, layer)

    monkeypatch.setattr(Counting, "iter_entries", spy)
    load(f"oci:{LAYOUT}:1.0")
    assert seen == {threading.current_thread().name}


def test_worker_errors_reach_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setenv("LAYERSCOPE_INDEX_THREADS", "2")

    from layerscope.errors import CorruptImageError

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
