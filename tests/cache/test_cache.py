"""The index cache: hits read no layer, misses and changed or corrupt files rebuild, two
processes can write at once, the size cap evicts the least recently used, --no-cache
writes nothing, and `layerscope cache info|clear` report and empty it. Layer indexes,
content hashes and parallel indexing: test_cache_layers.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from layerscope.cache import IndexCache
from layerscope.cache.store import HEADER
from tests.cache.support import (
    BASE,
    LAYOUT,
    OVERLAY,
    STAGE1,
    STAGE2,
    cache_dir,
    cache_files,
    flip,
    fresh,
    layer_reads,
    load,
)
from tests.cli.run import cli
from tests.conftest import ROOT
from tests.model.test_tree_codec import assert_same

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
        flip(path, size - 100)
    elif damage == "flip-header":
        flip(path, HEADER.size - 3)  # inside the stored checksum
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        flip(path, 8)  # the store format version
    reads.clear()
    got = load(BASE)
    assert reads["layer0"] == 1, "a damaged entry must be rebuilt, never trusted"
    assert_same(want.tree, got.tree)
    reads.clear()
    load(BASE)
    assert layer_reads(reads) == 0, "the rebuilt entry serves the next open"


def test_stray_temporary_files_are_ignored_and_swept() -> None:
    load(BASE)
    (path,) = cache_files("tree")
    stray = path.with_name(f".{path.name}.1.{'ab' * 6}.tmp")  # as a Writer names it
    stray.write_bytes(b"half written")
    foreign = path.with_name(".junk.1.ab.tmp")  # not a name the cache writes: left alone
    foreign.write_bytes(b"someone's")
    for p in (stray, foreign):
        os.utime(p, (1, 1))  # a crashed writer, long ago
    IndexCache(max_bytes=1 << 30).store.evict()
    assert not stray.exists() and foreign.exists()
    assert path.exists()


# -- concurrency ---------------------------------------------------------------------------

_WRITER = """
import sys, time
from layerscope.engine.loading import load_image
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
    assert empty["index"]["files"] == 0 and empty["max_bytes"] == 64_000_000
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
    # the overlay's index only: a squashfs layer is listed column-wise, faster than an index
    assert info["index"]["by_kind"]["layer"]["files"] == 1
    assert info["blobs"] == {"files": 1, "bytes": 10, "max_bytes": 10 * 1000**3}
    text = cli(capsysbinary, "cache", "info")
    assert str(cache_dir()) in text.out.decode() and "64.0 MB" in text.out.decode()
    kept = cli(capsysbinary, "cache", "clear", "--keep-blobs")
    assert kept.code == 0 and blob.exists() and cache_files() == []
    load(BASE)
    cleared = cli(capsysbinary, "cache", "clear")
    assert cleared.code == 0 and b"removed 2 files" in cleared.out
    assert not blob.exists() and cache_files() == []
    assert json.loads(cli(capsysbinary, "cache", "info", "--json").out)["index"]["files"] == 0
