"""Answers to "will it run here?": a CPU (`--cpu`), a host kernel (`--kernel`) and a
host MPI (`--host-mpi`), each against a PortabilityReport."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from layerscope.model.portability.levels import CpuSpec, level_name
from layerscope.model.portability.report import PortabilityReport
from layerscope.model.portability.stacks import HostMpi, mpi_compatibility
from layerscope.model.portability.versions import compare_versions

__all__ = [
    "Answers",
    "CpuAnswer",
    "KernelAnswer",
    "MpiAnswer",
    "answer_cpu",
    "answer_kernel",
    "answer_mpi",
    "ask",
    "parse_kernel",
]


@dataclass(slots=True)
class CpuAnswer:
    cpu: str
    runs: bool
    failing: list[tuple[str, str, list[str]]] = field(default_factory=list)  # path, level, missing
    dispatch: list[str] = field(default_factory=list)  # choose their code by CPU at run time
    unknown: list[str] = field(default_factory=list)  # level not told
    optional_skipped: int = 0  # glibc-hwcaps variants this CPU would not load


def answer_cpu(report: PortabilityReport, spec: CpuSpec) -> CpuAnswer:
    isa = report.isa
    out = CpuAnswer(spec.name, True, unknown=list(isa.unknown))
    if isa.distro_baseline > spec.level and isa.distribution:
        out.runs = False
        out.failing.append(
            (
                f"({isa.distribution} files of the distribution)",
                level_name(isa.distro_baseline),
                [],
            )
        )
    for f in isa.files:
        if f.source == "dispatch":
            out.dispatch.append(f.path)
            continue
        needed = frozenset(f.features)
        if not spec.runs(needed, f.level):
            out.runs = False
            missing = spec.missing(needed) if needed else []
            out.failing.append((f.path, level_name(f.level), missing))
    return out


_KERNEL = re.compile(r"^\d{1,4}(\.\d{1,6}){0,2}")


def parse_kernel(text: str) -> str:
    """`3.10.0`, `5.14.0-362.el9.x86_64` (uname -r) -> the numbers; ValueError if none."""
    m = _KERNEL.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a kernel version such as 3.10.0")
    return m.group()


@dataclass(slots=True)
class KernelAnswer:
    kernel: str
    ok: bool | None  # None: the image declares no floor
    floor: str | None
    files: list[tuple[str, str]] = field(default_factory=list)  # files needing more


def answer_kernel(report: PortabilityReport, host: str) -> KernelAnswer:
    g = report.glibc
    floor = g.kernel_floor
    if floor is None:
        return KernelAnswer(host, None, None)
    ok = compare_versions(host, floor) >= 0
    files: list[tuple[str, str]] = []
    if not ok:
        files = [(p, v) for p, v in g.kernel_files if compare_versions(host, v) < 0]
        if g.kernel is not None and compare_versions(host, g.kernel) < 0 and g.path:
            files.insert(0, (g.path, g.kernel))
    return KernelAnswer(host, ok, floor, files)


@dataclass(slots=True)
class MpiAnswer:
    host: str
    ok: bool | None  # None: the image carries no MPI
    verdicts: list[tuple[str, str | None, bool, str]] = field(default_factory=list)


def answer_mpi(report: PortabilityReport, host: HostMpi) -> MpiAnswer:
    shown = f"{host.family} {host.version}"
    mpis = [c for c in report.components if c.group == "mpi"]
    if not mpis:
        return MpiAnswer(shown, None)
    out = MpiAnswer(shown, True)
    for c in mpis:
        ok, why = mpi_compatibility(c.key, c.version, host)
        out.verdicts.append((c.title, c.version, ok, why))
    out.ok = any(v[2] for v in out.verdicts)
    return out


@dataclass(slots=True)
class Answers:
    """What `--cpu`, `--kernel` and `--host-mpi` asked, answered (None: not asked)."""

    cpu: CpuAnswer | None = None
    kernel: KernelAnswer | None = None
    mpi: MpiAnswer | None = None

    @property
    def asked(self) -> bool:
        return any(a is not None for a in (self.cpu, self.kernel, self.mpi))

    @property
    def no(self) -> bool:
        """Some answer is "no": the image will not run there."""
        return (
            (self.cpu is not None and not self.cpu.runs)
            or (self.kernel is not None and self.kernel.ok is False)
            or (self.mpi is not None and self.mpi.ok is False)
        )


def ask(
    report: PortabilityReport,
    cpu: CpuSpec | None = None,
    kernel: str | None = None,
    host_mpi: HostMpi | None = None,
) -> Answers:
    """Every question asked, answered."""
    return Answers(
        answer_cpu(report, cpu) if cpu is not None else None,
        answer_kernel(report, kernel) if kernel is not None else None,
        answer_mpi(report, host_mpi) if host_mpi is not None else None,
    )
