"""Shared test helpers: fixture paths and reference tools that must exist in CI."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.growth_stages import Files, Stages

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECTED = FIXTURES / "expected"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Return the path of an external tool; skip without it locally, fail in CI."""
    path = shutil.which(name)
    if path is None:
        msg = f"reference tool {name!r} is not installed"
        if IN_CI:
            pytest.fail(msg + " (CI must install it: see .ci/run)")
        pytest.skip(msg)
    return path


def require(condition: bool, why: str) -> None:
    """A condition a reference comparison needs (root, user xattrs...): skip without it on
    a laptop, fail in CI, which must provide it."""
    if condition:
        return
    if IN_CI:
        pytest.fail(why + " (CI must provide it: see .ci/run)")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test's cache out of the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of layer and partition reads made through the readers (cache tests)."""
    from tests.cache.support import count_reads

    return count_reads(monkeypatch)


# Three real mksquashfs stages (tests.growth_stages) and their unsquashfs listings, built
# once for the growth tests of the engine and of the TUI.
@pytest.fixture(scope="session")
def growth_stages(tmp_path_factory: pytest.TempPathFactory) -> Stages:
    from tests.growth_stages import build_stages

    return build_stages(tmp_path_factory.mktemp("stages"))


@pytest.fixture(scope="session")
def growth_listings(growth_stages: Stages, tmp_path_factory: pytest.TempPathFactory) -> list[Files]:
    from tests.growth_stages import listed_files

    work = tmp_path_factory.mktemp("listings")
    pairs = zip(growth_stages.images, growth_stages.roots, strict=True)
    return [listed_files(i, r, work) for i, r in pairs]
