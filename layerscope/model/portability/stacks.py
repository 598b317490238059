"""MPI, PMI/PMIx, interconnect and GPU libraries: how each is recognised by its file name,
where its version is, and which MPI a host's can stand in for.

One row per library in LIBRARIES. A version comes from the package database first (what
was installed, as the distribution numbers it), else from the library's own bytes
(versions.SCANS), else from the file name (`libcudart.so.12.2.140`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layerscope.model.portability.versions import compare_versions

__all__ = [
    "DRIVER_LIBS",
    "LIBRARIES",
    "MPI_FAMILIES",
    "HostMpi",
    "Library",
    "MpiSpec",
    "driver_library",
    "library_for",
    "mpi_compatibility",
    "parse_host_mpi",
    "parse_mpi_spec",
]


@dataclass(frozen=True, slots=True)
class Library:
    key: str  # the component: openmpi, mpich, pmix, ucx, cuda...
    title: str
    group: str  # mpi, pmi, interconnect, gpu
    files: re.Pattern[str]  # the library's file name (a regular file, not a symlink)
    scan: str | None = None  # a versions.SCANS key to run on its bytes
    packages: tuple[str, ...] = ()  # package names that ship it (any manager)
    name_version: re.Pattern[str] | None = None  # a version in the file name


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_SO = r"\.so(?:\.\d+)*$"

LIBRARIES: tuple[Library, ...] = (
    # libmpi.so is Open MPI's (.40, .20) and the MPICH family's (.12): the scan decides
    Library("mpi", "MPI", "mpi", _rx(r"^libmpi" + _SO), "mpi"),
    Library("mpich", "MPICH", "mpi", _rx(r"^libmpich" + _SO), "mpi",
            ("libmpich12", "mpich", "libmpich-dev")),
    Library("pmix", "PMIx", "pmi", _rx(r"^libpmix" + _SO), "pmix", ("libpmix2", "pmix")),
    Library("pmi", "PMI (Slurm)", "pmi", _rx(r"^libpmi2?" + _SO), None,
            ("libpmi2-0", "libpmi0", "slurm-libpmi")),
    Library("ucx", "UCX", "interconnect", _rx(r"^libucp" + _SO), None, ("libucx0", "ucx")),
    Library("libfabric", "libfabric (OFI)", "interconnect", _rx(r"^libfabric" + _SO),
            "libfabric", ("libfabric1", "libfabric")),
    Library("ibverbs", "InfiniBand verbs (rdma-core)", "interconnect",
            _rx(r"^libibverbs" + _SO), None, ("libibverbs1", "rdma-core", "libibverbs"),
            _rx(r"^libibverbs\.so\.1\.\d+\.(\d+\.\d+)$")),
    Library("psm2", "PSM2 (Omni-Path)", "interconnect", _rx(r"^libpsm2" + _SO), None,
            ("libpsm2-2", "libpsm2")),
    Library("cxi", "CXI (Slingshot)", "interconnect", _rx(r"^libcxi" + _SO), None),
    Library("cuda", "CUDA runtime", "gpu", _rx(r"^libcudart" + _SO), "cudart",
            ("libcudart12", "libcudart11.0", "cuda-cudart"),
            _rx(r"^libcudart\.so\.(\d+\.\d+(?:\.\d+)?)$")),
    Library("cudnn", "cuDNN", "gpu", _rx(r"^libcudnn" + _SO), "cudnn",
            ("libcudnn8", "libcudnn9", "cudnn"), _rx(r"^libcudnn\.so\.(\d+\.\d+\.\d+)$")),
    Library("nccl", "NCCL", "gpu", _rx(r"^libnccl" + _SO), "nccl", ("libnccl2", "nccl"),
            _rx(r"^libnccl\.so\.(\d+\.\d+\.\d+)$")),
    Library("cublas", "cuBLAS", "gpu", _rx(r"^libcublas" + _SO), None,
            ("libcublas12", "libcublas11", "libcublas"),
            _rx(r"^libcublas\.so\.(\d+\.\d+\.\d+(?:\.\d+)?)$")),
    Library("hip", "ROCm HIP runtime", "gpu", _rx(r"^libamdhip64" + _SO), None,
            ("libamdhip64-5", "libamdhip64-6", "hip-runtime-amd", "rocm-hip-runtime"),
            _rx(r"^libamdhip64\.so\.(\d+\.\d+\.\d+)$")),
)  # fmt: skip

# libmpi's family, as the mpi scan names it -> (title, packages)
MPI_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "openmpi": ("Open MPI", ("libopenmpi3", "libopenmpi40", "openmpi", "openmpi-bin")),
    "mpich": ("MPICH", ("libmpich12", "mpich")),
    "intel-mpi": ("Intel MPI", ("intel-oneapi-mpi", "impi_rt", "intel-mpi")),
    "mvapich": ("MVAPICH", ("mvapich2", "mvapich", "mvapich2-gdr")),
    "cray-mpich": ("Cray MPICH", ("cray-mpich",)),
}
# MPICH, Intel MPI, MVAPICH and Cray MPICH share the MPICH ABI (libmpi.so.12)
MPICH_ABI = frozenset({"mpich", "intel-mpi", "mvapich", "cray-mpich"})

# Driver libraries Apptainer's --nv binds from the host (its nvliblist.conf): a copy in
# the image shadows the host's, which must match the kernel module.
DRIVER_LIBS = re.compile(
    r"^(?:libcuda|libnvidia-[\w.+-]+|libcudadebugger|libnvcuvid|libnvoptix|libGLX_nvidia"
    r"|libEGL_nvidia|libGLESv1_CM_nvidia|libGLESv2_nvidia|libvdpau_nvidia)\.so(?:\.[\w.]+)?$"
)


def library_for(name: str) -> Library | None:
    """The row whose file name pattern `name` (a basename) matches."""
    for lib in LIBRARIES:
        if lib.files.match(name):
            return lib
    return None


def driver_library(path: str) -> str | None:
    """Why `path` is a bundled driver library, or None: "bundled", or "stub" (link-time
    stubs, never loaded) or "compat" (CUDA forward compatibility, used on purpose)."""
    name = path.rsplit("/", 1)[-1]
    if not DRIVER_LIBS.match(name):
        return None
    if "/stubs/" in path:
        return "stub"
    if "/compat/" in path:
        return "compat"
    return "bundled"


@dataclass(frozen=True, slots=True)
class HostMpi:
    family: str  # openmpi, mpich, intel-mpi, mvapich, cray-mpich
    version: str


_HOST_ALIASES = {
    "openmpi": "openmpi",
    "ompi": "openmpi",
    "open-mpi": "openmpi",
    "mpich": "mpich",
    "intel-mpi": "intel-mpi",
    "intelmpi": "intel-mpi",
    "impi": "intel-mpi",
    "mvapich": "mvapich",
    "mvapich2": "mvapich",
    "cray-mpich": "cray-mpich",
}
_HOST = re.compile(r"^([a-z][a-z0-9-]*?)[-/@ ]?(\d[\w.]{0,40})$")


def parse_host_mpi(text: str) -> HostMpi:
    """`openmpi-4.1.5`, `mpich-4.1`, `intel-mpi-2021.10`; ValueError if not one."""
    m = _HOST.match(text.strip().lower())
    family = _HOST_ALIASES.get(m.group(1)) if m else None
    if m is None or family is None:
        known = ", ".join(sorted(set(_HOST_ALIASES.values())))
        raise ValueError(f"{text!r} is not FAMILY-VERSION (families: {known})")
    return HostMpi(family, m.group(2))


def mpi_compatibility(family: str, version: str | None, host: HostMpi) -> tuple[bool, str]:
    """Whether the host's MPI can replace the image's (the hybrid model binds the host's
    library into the container), and why."""
    if family == host.family or (family in MPICH_ABI and host.family in MPICH_ABI):
        if family == "openmpi" and host.family == "openmpi":
            return _same_series(version, host.version)
        if family != host.family:
            return True, "both implement the MPICH ABI (libmpi.so.12)"
        if version is not None and compare_versions(host.version, version) < 0:
            return True, f"same MPI; the host's {host.version} is older than {version}"
        return True, "same MPI, ABI-compatible"
    if family in MPICH_ABI or host.family in MPICH_ABI:
        return False, "Open MPI and the MPICH family have different ABIs"
    return False, f"{family} and {host.family} are different MPIs"


def _same_series(version: str | None, host: str) -> tuple[bool, str]:
    """Open MPI keeps its ABI within a major series (libmpi.so.40 for 3.x, 4.x and 5.x,
    but the run-time wire protocol changes between major versions)."""
    if version is None:
        return True, "Open MPI on both sides (the image's version is unknown)"
    mine, theirs = version.split(".")[0], host.split(".")[0]
    if mine != theirs:
        return False, f"Open MPI {version} and {host} are different major series"
    if compare_versions(host, version) < 0:
        return True, f"same Open MPI series; the host's {host} is older than {version}"
    return True, "same Open MPI series, the host's as new or newer"


@dataclass(frozen=True, slots=True)
class MpiSpec:
    """What the `mpi` check rule asks for: a family (`mpich-abi`: any of the MPICH ABI
    family) and optionally a version bound (`openmpi>=4.1`)."""

    family: str
    op: str | None = None  # >=, >, ==, <=, <
    version: str | None = None

    def matches(self, family: str, version: str | None) -> bool:
        if self.family == "mpich-abi":
            if family not in MPICH_ABI:
                return False
        elif family != self.family:
            return False
        if self.op is None or self.version is None:
            return True
        if version is None:
            return False
        order = compare_versions(version, self.version)
        return {">=": order >= 0, ">": order > 0, "==": order == 0, "<=": order <= 0,
                "<": order < 0}[self.op]  # fmt: skip

    def __str__(self) -> str:
        return self.family + (f"{self.op}{self.version}" if self.op else "")


_SPEC = re.compile(r"^([a-z][a-z0-9-]*?)\s*(?:(>=|>|==|=|<=|<)\s*(\d[\w.]{0,40}))?$")


def parse_mpi_spec(text: str) -> MpiSpec:
    """`openmpi`, `openmpi>=4.1`, `mpich==4.0.2`, `mpich-abi`; ValueError otherwise."""
    m = _SPEC.match(text.strip().lower())
    family = None
    if m is not None:
        family = "mpich-abi" if m.group(1) == "mpich-abi" else _HOST_ALIASES.get(m.group(1))
    if m is None or family is None:
        known = ", ".join(sorted({*_HOST_ALIASES.values(), "mpich-abi"}))
        raise ValueError(f"{text!r} is not an MPI such as openmpi>=4.1 (families: {known})")
    op = "==" if m.group(2) == "=" else m.group(2)
    return MpiSpec(family, op, m.group(3))
