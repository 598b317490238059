"""Shared pieces of the index-cache tests: fixture images, a reader proxy that counts
layer listings and content reads, and helpers to load and look at the cache."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import layerscope.engine.loading as loading
from layerscope.engine.image import Image
from layerscope.engine.loading import load_image
from layerscope.model.entry import Entry
from layerscope.readers import OpenOptions, open_image
from tests.conftest import FIXTURES

STAGE1 = FIXTURES / "sif/stage1.sif"
BASE = FIXTURES / "sif/alpine-like-base.sif"
STAGE2 = FIXTURES / "sif/stage2.sif"
OVERLAY = FIXTURES / "sif/with-overlay.sif"
LAYOUT = FIXTURES / "oci/app-layout"


class Counting:
    """A reader proxy counting layer listings and content reads."""

    def __init__(self, inner: Any, counts: Counter[str]) -> None:
        self.inner = inner
        self.counts = counts

    @property
    def traits(self) -> Any:
        return self.inner.traits

    def describe(self) -> Any:
        return self.inner.describe()

    def layer_identity(self, layer: int) -> str | None:
        return self.inner.layer_identity(layer)  # type: ignore[no-any-return]

    def iter_entries(self, layer: int) -> Iterator[Entry]:
        self.counts[f"layer{layer}"] += 1
        return self.inner.iter_entries(layer)  # type: ignore[no-any-return]

    def read_content(self, layer: int, loc: int, size: int) -> Iterator[bytes]:
        self.counts["content"] += 1
        return self.inner.read_content(layer, loc, size)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.inner.close()


def count_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Make every load_image reader a Counting one; returns the shared counter."""
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


def load(ref: str | Path, **kw: Any) -> Image:
    img = load_image(str(ref), **kw)
    img.close()
    return img


def fresh(ref: str | Path, upto: int | None = None) -> Image:
    return load(ref, options=OpenOptions(use_cache=False), upto=upto)


def layer_reads(counts: Counter[str]) -> int:
    return sum(v for k, v in counts.items() if k.startswith("layer"))


def flip(path: Path, at: int) -> None:
    """Change one byte of a file in place."""
    data = bytearray(path.read_bytes())
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))
