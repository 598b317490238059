"""Versions written inside libraries, and version numbers in general.

Package databases are the first source of a version (they name what was installed);
these strings are the fallback for libraries copied in by hand or built from source.
Each scan looks for one library's own banner (`GNU C Library ... release version 2.36`,
`OpenPMIx 4.2.2`, Open MPI's `v4.1.4` tag...) in the bytes that were read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from layerscope.model.portability.window import Window

__all__ = ["SCANS", "compare_versions", "parse_version", "scan_strings", "upstream"]

Scan = Callable[[list[bytes]], dict[str, str]]


def _first(patterns: Iterable[bytes], parts: list[bytes]) -> str | None:
    for pattern in patterns:
        rx = re.compile(pattern)
        for data in parts:
            m = rx.search(data)
            if m is not None:
                return m.group(1).decode("ascii", "replace")
    return None


def _one(key: str, *patterns: bytes) -> Scan:
    def scan(parts: list[bytes]) -> dict[str, str]:
        got = _first(patterns, parts)
        return {key: got} if got is not None else {}

    return scan


# Version numbers as the patterns below match them: bounded, so hostile bytes cannot make
# a match (or an int() of it) huge.
_N = rb"\d{1,9}"
_V2 = _N + rb"\." + _N  # 2.36
_V3 = _V2 + rb"\." + _N  # 4.1.4
_V23 = _V2 + rb"(?:\." + _N + rb")?"  # 4.0 or 4.0.2
_PRE = rb"(?:[ab]\d{1,3}|rc\d{1,3})?"  # 4.1.0rc2

# Which MPI a libmpi is (libmpi.so.12 is MPICH, Intel MPI or MVAPICH alike): a marker
# each writes in its banner, most specific first, and where its version is.
MPI_MARKERS: tuple[tuple[bytes, str, tuple[bytes, ...]], ...] = (
    (
        b"Intel(R) MPI Library",
        "intel-mpi",
        (rb"Intel\(R\) MPI Library,? (?:Version )?(\d{4}(?:\.\d{1,4}){0,3}(?: Update \d{1,3})?)",),
    ),
    (
        b"MVAPICH",
        "mvapich",
        (rb"MVAPICH2? [Vv]ersion\s{0,8}:?\s{0,8}(" + _V23 + _PRE + rb")",
         rb"/mvapich2?-(" + _V23 + _PRE + rb")[/=]"),
    ),
    (b"CRAY MPICH", "cray-mpich", (rb"CRAY MPICH version (" + _V23 + rb")",)),
    (
        b"Open MPI",
        "openmpi",
        (rb"Open MPI v(" + _V3 + _PRE + rb")[^\d.]", rb"\x00v(" + _V3 + _PRE + rb")\x00"),
    ),
    (
        b"MPICH",
        "mpich",
        (rb"MPICH Version:\s{1,8}(" + _V23 + _PRE + rb")", rb"/mpich-(" + _V23 + _PRE + rb")[/=]"),
    ),
)  # fmt: skip


def _mpi(parts: list[bytes]) -> dict[str, str]:
    for marker, family, patterns in MPI_MARKERS:
        if any(marker in data for data in parts):
            got = _first(patterns, parts)
            return {"mpi": family, **({"mpi.version": got} if got else {})}
    return {}


SCANS: dict[str, Scan] = {
    "glibc": _one("glibc", rb"GNU C Library [^\x00\n]{0,200}?release version (" + _V23 + rb")"),
    "mpi": _mpi,
    "pmix": _one("pmix", rb"OpenPMIx (" + _V3 + _PRE + rb")", rb"PMIx v(" + _V3 + _PRE + rb")"),
    "libfabric": _one("libfabric", rb"\x00(" + _V3 + rb")\x00"),
    "nccl": _one("nccl", rb"NCCL version (" + _V3 + rb")"),
    "cudart": _one("cudart", rb"CUDA Runtime (?:version )?(" + _V23 + rb")"),
    "cudnn": _one("cudnn", rb"cuDNN (?:version )?v?(" + _V3 + rb")"),
}


def scan_strings(scans: Iterable[str], window: Window) -> dict[str, str]:
    """Run the named scans over the bytes held."""
    parts = [data for _, data in window.kept()]
    out: dict[str, str] = {}
    for name in scans:
        scan = SCANS.get(name)
        if scan is not None:
            out.update(scan(parts))
    return out


_NUM = re.compile(r"\d{1,9}(?:\.\d{1,9})*")  # bounded: int() of 5,000 digits raises


def parse_version(text: str) -> tuple[int, ...]:
    """The leading numbers of a version, for ordering: "4.2.2rc2" -> (4, 2, 2),
    "GLIBC_2.34" -> (2, 34), "2.36-9+deb12u4" -> (2, 36)."""
    m = _NUM.search(upstream(text))
    return tuple(int(n) for n in m.group().split(".")[:6]) if m else ()


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version `a` is lower than, equal to or higher than `b` (numbers
    only, missing trailing numbers count as 0: "4.1" == "4.1.0")."""
    va, vb = parse_version(a), parse_version(b)
    width = max(len(va), len(vb))
    va, vb = va + (0,) * (width - len(va)), vb + (0,) * (width - len(vb))
    return (va > vb) - (va < vb)


_EPOCH = re.compile(r"^\d+:")
_REVISION = re.compile(r"-[^-]*$")


def upstream(version: str) -> str:
    """A package version without epoch and packaging revision: "1:4.1.4-3+b1" -> "4.1.4"."""
    v = _EPOCH.sub("", version.strip())
    return _REVISION.sub("", v) if "-" in v else v
