"""Session fixtures of the portability tests: compiled programs, Debian packages, root
filesystems with a real dpkg database (tests/portability_support.py makes them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.portability_support import (
    add_files,
    build_programs,
    download_debs,
    install_debs,
    make_sif,
)

MPI_DEBS = ("libopenmpi3", "libmpich12", "libpmix2", "libucx0", "libfabric1", "libibverbs1")
GPU_DEBS = ("libamdhip64-5",)
OTHER_DEBS = ("libc6", "lib32z1", "hello:arm64")
BIN = "/opt/app/bin"


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> a program compiled with Debian's gcc (portability_support.LEVELS)."""
    return build_programs(tmp_path_factory.mktemp("programs"))


@pytest.fixture(scope="session")
def debs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """package -> its .deb, from Debian's mirror (one apt-get download per session)."""
    return download_debs(tmp_path_factory.mktemp("debs"), MPI_DEBS + GPU_DEBS + OTHER_DEBS)


@pytest.fixture(scope="session")
def stacks_root(tmp_path_factory: pytest.TempPathFactory, debs: dict[str, Path]) -> Path:
    """The MPI, interconnect and ROCm packages installed by dpkg into an empty root
    (do not modify it: copy it)."""
    root = tmp_path_factory.mktemp("stacks") / "root"
    return install_debs(root, [debs[p] for p in MPI_DEBS + GPU_DEBS])


@pytest.fixture(scope="session")
def stages(programs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three SIF stages (mksquashfs + siftool): the baseline program; + the v3 one; + the
    AVX-512 one."""
    work = tmp_path_factory.mktemp("stages")
    root = work / "root"
    out = []
    for n, name in enumerate(["base", "v3", "avx512f"], 1):
        add_files(root, {f"{BIN}/{name}": programs[name]})
        out.append(make_sif(root, work / f"stage{n}.sif"))
    return out
