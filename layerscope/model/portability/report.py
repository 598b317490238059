"""The portability report of one image, from the facts of its ELF files (pure).

The engine hands in every ELF file of the final tree with what its package database says
of it; this module decides what the image needs: an architecture, an x86-64 level, a
glibc and a kernel, and which MPI, interconnect and GPU stacks it carries.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from layerscope.model.portability.arch import arch_name, distro_baseline, is_loader, normalize_arch
from layerscope.model.portability.components import Component, DriverLib, components, driver_libs
from layerscope.model.portability.facts import ElfFacts
from layerscope.model.portability.isa import IsaReport, isa_report
from layerscope.model.portability.libc import GlibcReport, glibc_report

__all__ = [
    "ArchReport",
    "Context",
    "FileInfo",
    "ForeignFile",
    "PackageRef",
    "PortabilityReport",
    "build_report",
]


@dataclass(frozen=True, slots=True)
class PackageRef:
    manager: str  # dpkg, rpm, apk, conda, python
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One ELF file of the final tree."""

    path: str
    elf: ElfFacts
    package: PackageRef | None = None  # the package that installed this path
    unchanged: bool | None = None  # its bytes are as the package shipped them
    optional: int | None = None  # inside glibc-hwcaps/x86-64-vN/ (N; 0 for another)

    @property
    def arch(self) -> str:
        return arch_name(self.elf.machine, self.elf.bits, self.elf.little)

    @property
    def distribution(self) -> bool:
        """Installed by the system's package manager and unchanged since."""
        return (
            self.package is not None
            and self.package.manager in ("dpkg", "rpm", "apk")
            and self.unchanged is True
        )


@dataclass(slots=True)
class Context:
    """What the report needs beyond the files."""

    ref: str
    format: str = ""  # what the image is (SIF, OCI layout...), as ImageMeta says
    declared: str | None = None  # the architecture the image declares
    os_release: dict[str, str] = field(default_factory=dict)
    packages: list[PackageRef] = field(default_factory=list)  # every installed package
    owners_known: bool = False  # FileInfo.package is set wherever a database lists the file
    interpreters: dict[str, bool] = field(default_factory=dict)  # PT_INTERP -> exists


@dataclass(frozen=True, slots=True)
class ForeignFile:
    path: str
    arch: str
    kind: str
    loader: bool  # the image holds a dynamic loader for it (or it needs none)


@dataclass(slots=True)
class ArchReport:
    declared: str | None
    main: str | None  # the declared architecture, else the one most executables have
    counts: dict[str, int]  # architecture -> ELF files
    foreign: list[ForeignFile]

    @property
    def architectures(self) -> list[str]:
        """Every architecture in the image: declared and found."""
        found = set(self.counts)
        if self.declared:
            found.add(self.declared)
        return sorted(found)


@dataclass(slots=True)
class PortabilityReport:
    ref: str
    elf_files: int
    arch: ArchReport
    isa: IsaReport
    glibc: GlibcReport
    components: list[Component]
    driver_libs: list[DriverLib]
    problems: list[str]  # files that could not be read whole, one line each
    notes: list[str] = field(default_factory=list)
    os_release: dict[str, str] = field(default_factory=dict)
    format: str = ""
    read_files: int = 0  # files read for this report (0: every answer came from the cache)
    read_bytes: int = 0


def build_report(files: list[FileInfo], ctx: Context, notes: list[str]) -> PortabilityReport:
    arch = arch_report(files, ctx)
    main = arch.main
    native = [f for f in files if main is None or f.arch == main]
    baseline = distro_baseline(ctx.os_release)
    problems = [f"{f.path}: {'; '.join(f.elf.problems)}" for f in files if f.elf.problems]
    return PortabilityReport(
        ref=ctx.ref,
        elf_files=len(files),
        arch=arch,
        isa=isa_report(native if main == "amd64" else [], baseline),
        glibc=glibc_report(native),
        components=components(native, None if ctx.owners_known else ctx.packages),
        driver_libs=driver_libs(files),
        problems=problems,
        notes=notes,
        os_release=dict(ctx.os_release),
        format=ctx.format,
    )


def arch_report(files: list[FileInfo], ctx: Context) -> ArchReport:
    declared = normalize_arch(ctx.declared) if ctx.declared else None
    counts = Counter(f.arch for f in files)
    runnable = Counter(f.arch for f in files if f.elf.kind in ("exec", "pie"))
    main = declared
    if main is None and files:
        main = (runnable or counts).most_common(1)[0][0]
    loaders = {f.arch for f in files if is_loader(f.path.rsplit("/", 1)[-1])}
    foreign = []
    for f in files:
        if main is not None and f.arch != main:
            if f.elf.interp:
                has = ctx.interpreters.get(f.elf.interp, False)
            else:
                has = not f.elf.dynamic or f.arch in loaders
            foreign.append(ForeignFile(f.path, f.arch, f.elf.kind, has))
    foreign.sort(key=lambda x: (x.arch, x.path))
    return ArchReport(declared, main, dict(sorted(counts.items())), foreign)
