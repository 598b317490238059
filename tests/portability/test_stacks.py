"""MPI, PMI, interconnect and GPU stacks, architectures and glibc, on Debian's own
packages: versions equal the package versions (from the dpkg database when dpkg
installed them, from the libraries' bytes or names when they were only unpacked)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import layerscope
from layerscope.engine.portability import portability
from layerscope.model.portability.query import answer_kernel, answer_mpi
from layerscope.model.portability.stacks import parse_host_mpi
from layerscope.model.portability.versions import upstream
from tests.conftest import require_tool
from tests.portability.conftest import GPU_DEBS, MPI_DEBS
from tests.portability_support import (
    add_files,
    compile_c,
    cuda_stand_ins,
    deb_field,
    layer_tar,
    make_oci,
    shared_object,
    unpack_debs,
)

# component -> the Debian package it comes from
PACKAGE = {
    "openmpi": "libopenmpi3",
    "mpich": "libmpich12",
    "pmix": "libpmix2",
    "ucx": "libucx0",
    "libfabric": "libfabric1",
    "ibverbs": "libibverbs1",
    "hip": "libamdhip64-5",
}


def _versions(root: Path) -> dict[str, tuple[str | None, str | None]]:
    with layerscope.open(str(root)) as img:
        r = portability(img, decode=False)  # versions only: no instruction decoded
    return {c.key: (c.version, c.source) for c in r.components}


def test_versions_from_the_dpkg_database(stacks_root: Path, debs: dict[str, Path]) -> None:
    got = _versions(stacks_root)
    want = {}
    for key, package in PACKAGE.items():
        version = deb_field(debs[package], "Version")
        want[key] = (upstream(version), f"dpkg {package} {version}")
    assert got == want


def test_versions_without_a_database(debs: dict[str, Path], tmp_path: Path) -> None:
    """Only the files (dpkg-deb -x): each library's own version string, else its name."""
    root = unpack_debs(tmp_path / "root", [debs[p] for p in MPI_DEBS + GPU_DEBS])
    got = {k: v for k, (v, _) in _versions(root).items()}
    pkg = {k: upstream(deb_field(debs[p], "Version")) for k, p in PACKAGE.items()}
    assert got["openmpi"] == pkg["openmpi"]  # Open MPI's "v4.1.4" tag
    assert got["mpich"] == pkg["mpich"]  # its source path (mpich-4.0.2)
    assert got["libfabric"] == pkg["libfabric"]  # its version string
    assert got["ibverbs"] == pkg["ibverbs"]  # libibverbs.so.1.14.44.0: rdma-core 44.0
    # PMIx's own banner names the release candidate Debian packaged as 4.2.2
    assert got["pmix"] is not None and got["pmix"].startswith(pkg["pmix"])
    # HIP numbers itself apart from ROCm: 5.2.21153 is HIP's, 5.2.3 the package's
    assert got["hip"] is not None and got["hip"].startswith("5.2.")
    assert got["ucx"] is None  # UCX writes no version where a scan could find it


def test_host_mpi_answers(stacks_root: Path) -> None:
    with layerscope.open(str(stacks_root)) as img:
        r = portability(img)
    same = answer_mpi(r, parse_host_mpi("openmpi-4.1.5"))
    assert same.ok and [(t, ok) for t, _, ok, _ in same.verdicts] == [
        ("MPICH", False),
        ("Open MPI", True),
    ]
    older_major = answer_mpi(r, parse_host_mpi("openmpi-3.1.6"))
    assert older_major.ok is False
    intel = answer_mpi(r, parse_host_mpi("intel-mpi-2021.10"))
    assert intel.ok and dict((t, ok) for t, _, ok, _ in intel.verdicts) == {
        "MPICH": True,  # the MPICH ABI (libmpi.so.12)
        "Open MPI": False,
    }


def test_foreign_architectures(
    debs: dict[str, Path], programs: dict[str, Path], tmp_path: Path
) -> None:
    """An arm64 binary from Debian's arm64 `hello` and a 32-bit library (lib32z1, without
    libc6-i386's loader) in an amd64 OCI image (declared amd64 by umoci)."""
    arm = unpack_debs(tmp_path / "arm", [debs["hello:arm64"]])
    lib32 = unpack_debs(tmp_path / "lib32", [debs["lib32z1"]])
    real32 = next(p for p in lib32.rglob("libz.so.1.*") if not p.is_symlink())
    files = {
        "/usr/bin/hello": (arm / "usr/bin/hello").read_bytes(),
        "/usr/lib32/" + real32.name: real32.read_bytes(),
        "/usr/bin/native": programs["base"].read_bytes(),
    }
    ref = make_oci(tmp_path / "layout", [layer_tar(files)])
    with layerscope.open(ref) as img:
        r = portability(img)
    assert r.arch.declared == r.arch.main == "amd64"
    assert r.arch.counts == {"386": 1, "amd64": 1, "arm64": 1}
    got = [(f.path, f.arch, f.kind, f.loader) for f in r.arch.foreign]
    assert got == [
        ("/usr/lib32/" + real32.name, "386", "shared", False),
        ("/usr/bin/hello", "arm64", "pie", False),
    ]
    assert r.arch.architectures == ["386", "amd64", "arm64"]
    # `file`, the reference, says the same of the arm64 binary
    described = subprocess.run(
        [require_tool("file"), "-b", str(arm / "usr/bin/hello")], capture_output=True, text=True
    ).stdout
    assert "ARM aarch64" in described and "/lib/ld-linux-aarch64.so.1" in described


def test_glibc_and_kernel(debs: dict[str, Path], tmp_path: Path) -> None:
    """Debian bookworm's libc6 (2.36; its ABI note says Linux 3.2.0) and a program that
    needs GLIBC_2.99 of libm.so.6, which no glibc defines (made with a version script)."""
    readelf = require_tool("readelf")
    root = unpack_debs(tmp_path / "root", [debs["libc6"]])
    build = tmp_path / "build"
    build.mkdir()
    fake = shared_object(
        build / "libm-2.99.so",
        "libm.so.6",
        version_script="GLIBC_2.99 { global: newer_function; local: *; };\n",
    )
    source = "extern int newer_function(void);\nint main(void) { return newer_function(); }\n"
    prog = compile_c(source, build / "newer", libs=(str(fake),))
    add_files(root, {"/opt/app/bin/newer": prog})
    with layerscope.open(str(root)) as img:
        r = portability(img, decode=False)  # glibc's 250 modules need no decoding here
    g = r.glibc
    version = upstream(deb_field(debs["libc6"], "Version"))
    assert (g.libc, g.version, g.source) == ("glibc", version, "its version string")
    assert g.path is not None and g.path.endswith("/libc.so.6")
    note = subprocess.run(
        [readelf, "-n", str(root / g.path.lstrip("/"))], capture_output=True, text=True
    ).stdout
    abi = re.search(r"OS: Linux, ABI: (\d+\.\d+\.\d+)", note)
    assert abi is not None and g.kernel == g.kernel_floor == abi.group(1) == "3.2.0"
    assert g.needed == "2.99" and g.needed_by == ["/opt/app/bin/newer"]
    assert [(u.path, u.library, u.versions) for u in g.unresolved] == [
        ("/opt/app/bin/newer", "libm.so.6", ("GLIBC_2.99",))
    ]
    assert answer_kernel(r, "3.10.0").ok is True
    old = answer_kernel(r, "2.6.32")
    assert old.ok is False and old.files[0] == (g.path, "3.2.0")


def test_cuda_stand_ins(tmp_path: Path) -> None:
    """Stand-ins for NVIDIA's libraries (not in Debian main): real sonames, file names as
    NVIDIA's packages install them, NCCL's banner; the driver table says what CUDA
    12.2 needs; the bundled libcuda is flagged, the link-time stub and cuda-compat not."""
    root = tmp_path / "root"
    add_files(root, cuda_stand_ins(tmp_path / "build"), mode=0o644)
    with layerscope.open(str(root)) as img:
        r = portability(img)
    got = {c.key: (c.version, c.source) for c in r.components}
    assert got == {
        "cuda": ("12.2.140", "its file name"),
        "cublas": ("12.2.5.6", "its file name"),
        "cudnn": ("8.9.2", "its file name"),
        "nccl": ("2.18.3", "its version string"),
    }
    (cuda,) = [c for c in r.components if c.key == "cuda"]
    assert cuda.driver is not None
    assert (cuda.driver.driver, cuda.driver.minor_compat) == ("535.54.03", "525.60.13")
    libs = [(d.path, d.reason, d.version) for d in r.driver_libs]
    assert libs == [
        ("/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "bundled", "535.104.05"),
        ("/usr/local/cuda-12.2/compat/libcuda.so.535.104.05", "compat", "535.104.05"),
        ("/usr/local/cuda-12.2/targets/x86_64-linux/lib/stubs/libcuda.so", "stub", None),
    ]


@pytest.mark.parametrize("cuda", ["11.8.89", "12.4.127", "13.0.48"])
def test_cuda_driver_table(cuda: str) -> None:
    from layerscope.model.portability.cuda import driver_for

    need = driver_for(cuda)
    assert need.driver is not None and need.minor_compat is not None
    assert not need.newer_than_table
