"""The real-image tier: tests on real Debian root filesystems and images built from them
by real tools (mmdebstrap, buildah, mksquashfs, siftool), marked `real`. CI runs them;
`pytest -m "not real"` leaves them out on a laptop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.real.images import Built, build_images
from tests.real.rootfs import build_rootfs

# the tier's one heavy root filesystem: the issue's "Debian with build-essential cmake
# python3-scipy" (~1 GB; python3-scipy depends on pythran, boost and a C++ toolchain)
DEVEL = ("build-essential", "cmake", "python3-scipy")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="session")
def minbase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Debian bookworm minbase root filesystem (a directory; do not modify it)."""
    return build_rootfs(tmp_path_factory.mktemp("minbase") / "root")


@pytest.fixture(scope="session")
def real_images(minbase: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The multi-layer image of tests/real/images.py, built once per session by buildah
    from the minbase root filesystem, as docker-archive and oci-archive."""
    tarball = minbase.with_suffix(".tar")  # build_rootfs keeps the tarball beside the tree
    assert tarball.is_file()
    return build_images(tarball, tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def devel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian with build-essential, cmake and python3-scipy (~1 GB: the tier's one heavy
    root filesystem; a directory, do not modify it)."""
    return build_rootfs(tmp_path_factory.mktemp("devel") / "root", include=DEVEL)
