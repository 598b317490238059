"""The MPI, PMI, interconnect and GPU stacks an image carries, with versions, the NVIDIA
driver its CUDA runtime needs, and the driver libraries it should not carry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from layerscope.model.portability.cuda import DriverNeed, driver_for
from layerscope.model.portability.stacks import (
    MPI_FAMILIES,
    Library,
    driver_library,
    library_for,
)
from layerscope.model.portability.versions import upstream

if TYPE_CHECKING:
    from layerscope.model.portability.report import FileInfo, PackageRef

__all__ = ["Component", "DriverLib", "components", "driver_libs"]

GROUPS = ("mpi", "pmi", "interconnect", "gpu")


@dataclass(slots=True)
class Component:
    key: str  # openmpi, mpich, pmix, ucx, cuda...
    title: str
    group: str  # mpi, pmi, interconnect, gpu
    version: str | None
    source: str | None  # "dpkg libopenmpi3 4.1.4-3+b1", "its version string", "its file name"
    files: list[str] = field(default_factory=list)
    driver: DriverNeed | None = None  # for a CUDA runtime: the NVIDIA driver it needs


@dataclass(frozen=True, slots=True)
class DriverLib:
    path: str
    reason: str  # bundled, stub, compat
    version: str | None  # the driver version in its file name


_SONAME_FAMILY = {"40": "openmpi", "20": "openmpi", "12": "mpich"}


def _mpi_family(f: FileInfo, lib: Library) -> str | None:
    """Which MPI a libmpi/libmpich is: its banner, else its soname's number."""
    family = f.elf.strings.get("mpi")
    if family is not None:
        return family
    if lib.key == "mpich":
        return "mpich"
    m = re.search(r"\.so\.(\d+)", f.elf.soname or f.path.rsplit("/", 1)[-1])
    return _SONAME_FAMILY.get(m.group(1)) if m else None


def _version(
    f: FileInfo, lib: Library, packages: tuple[str, ...], installed: list[PackageRef] | None
) -> tuple[str | None, str | None]:
    """The package that installed the file; without file ownership (`installed` given
    instead), an installed package of a known name; else the library's own string, else
    its file name."""
    if f.package is not None:
        pkg = f.package
        return upstream(pkg.version), f"{pkg.manager} {pkg.name} {pkg.version}"
    for pkg in installed or ():
        if pkg.name in packages:
            return upstream(pkg.version), f"{pkg.manager} {pkg.name} {pkg.version}"
    found = f.elf.strings.get("mpi.version" if lib.scan == "mpi" else lib.scan or "")
    if found:
        return found, "its version string"
    if lib.name_version is not None:
        m = lib.name_version.match(f.path.rsplit("/", 1)[-1])
        if m is not None:
            return m.group(1), "its file name"
    return None, None


def components(files: list[FileInfo], installed: list[PackageRef] | None) -> list[Component]:
    """`installed`: the packages by name, for images whose files' owners are not known
    (None when they are: a file no package owns was put there by hand)."""
    found: dict[tuple[str, str | None], Component] = {}
    for f in files:
        lib = library_for(f.path.rsplit("/", 1)[-1])
        if lib is None or f.elf.kind not in ("shared", "pie", "exec"):
            continue
        key, title, packages = lib.key, lib.title, lib.packages
        if lib.scan == "mpi":
            family = _mpi_family(f, lib)
            if family is None:
                continue
            title, packages = MPI_FAMILIES.get(family, (family, ()))
            key = family
        version, source = _version(f, lib, packages, installed)
        comp = found.get((key, version))
        if comp is None:
            comp = found[(key, version)] = Component(key, title, lib.group, version, source)
            if key == "cuda" and version is not None:
                comp.driver = driver_for(version)
        comp.files.append(f.path)
    out = list(found.values())
    for c in out:
        c.files.sort()
    out.sort(key=lambda c: (GROUPS.index(c.group), c.key, c.version or ""))
    return out


_DRIVER_VERSION = re.compile(r"\.so\.(\d{3}\.\d+(?:\.\d+)?)$")


def driver_libs(files: list[FileInfo]) -> list[DriverLib]:
    out = []
    for f in files:
        reason = driver_library(f.path)
        if reason is not None:
            m = _DRIVER_VERSION.search(f.path)
            out.append(DriverLib(f.path, reason, m.group(1) if m else None))
    out.sort(key=lambda d: (d.reason != "bundled", d.path))
    return out
