"""The pulled-blob cache stays under its cap (LAYERSCOPE_BLOB_CACHE_MAX): least recently
used blobs go first, never those of the image being read, and crashed downloads' parts."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import closing
from pathlib import Path

import pytest

from layerscope.cache.blobs import BlobCache, blob_cache_max
from layerscope.readers import OpenOptions, open_image

pytest_plugins = ["tests.registry_server"]

INSECURE = OpenOptions(tls_verify=False)


def _put(cache: BlobCache, data: bytes, age: float) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    cache.put_bytes(digest, data)
    stamp = time.time() - age
    os.utime(cache.path(digest), (stamp, stamp))
    return digest


def test_evicts_least_recently_used_but_never_what_is_kept(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    old, mid, new = (
        _put(cache, bytes([i]) * 100, age) for i, age in ((1, 300), (2, 200), (3, 100))
    )
    stale = cache.dir / ".0123456789ab-1-00000000000a.part"  # names put() writes
    stale.write_bytes(b"x" * 50)
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    fresh = (
        cache.dir / ".0123456789ab-2-00000000000b.part"
    )  # another process's download in progress
    fresh.write_bytes(b"y" * 50)
    with cache.open(old):  # a read is a use: `old` is now the most recent
        pass
    freed = cache.evict(250, keep={new})
    assert not cache.has(mid) and cache.has(old) and cache.has(new)
    assert not stale.exists() and fresh.exists()
    assert freed == 100 + 50
    assert cache.evict(0, keep={old, new}) == 0  # the image being read stays, cap or not
    assert cache.has(old) and cache.has(new)
    cache.evict(0, keep=set())
    assert not cache.has(old) and not cache.has(new) and fresh.exists()


def test_cap_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAYERSCOPE_BLOB_CACHE_MAX", raising=False)
    assert blob_cache_max() == 10 * 1000**3
    monkeypatch.setenv("LAYERSCOPE_BLOB_CACHE_MAX", "512M")
    assert blob_cache_max() == 512 * 1000**2
    monkeypatch.setenv("LAYERSCOPE_BLOB_CACHE_MAX", "512MiB")
    assert blob_cache_max() == 512 << 20


def test_pulling_another_image_evicts_the_first(
    registry_addr: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERSCOPE_BLOB_CACHE_MAX", "1")  # keep only the image being read
    blobs = Path(os.environ["XDG_CACHE_HOME"]) / "layerscope" / "blobs" / "sha256"

    def pull(tag: str) -> set[str]:
        with closing(open_image(f"docker://{registry_addr}/layerscope/app:{tag}", INSECURE)) as r:
            layers = r.describe().layers
            for info in layers:
                for _ in r.iter_entries(info.index):
                    pass
            return {x.id.removeprefix("sha256:") for x in layers}

    first = pull("1.0")
    assert first <= {p.name for p in blobs.iterdir()}
    second = pull("1.1")
    held = {p.name for p in blobs.iterdir()}
    assert second <= held  # all of the image being read, over the cap
    assert not (first - second) & held  # the other image's own layers are gone
    assert pull("1.0") == first  # and come back when it is opened again
