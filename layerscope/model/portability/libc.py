"""glibc and the kernel: the image's C library, the newest symbol versions its binaries
need, the versions no library of the image defines, and the oldest kernel it runs on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from layerscope.model.portability.versions import compare_versions, parse_version, upstream

if TYPE_CHECKING:
    from layerscope.model.portability.report import FileInfo

__all__ = ["GlibcReport", "Unresolved", "glibc_report", "kernel_text"]

MAX_LISTED = 50
_STANDARD = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/lib32/")


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A file needs symbol versions that the library it names does not define: the
    dynamic loader refuses to run it ("version `GLIBC_2.38' not found")."""

    path: str
    library: str
    versions: tuple[str, ...]
    provider: str  # the image's library of that name


@dataclass(slots=True)
class GlibcReport:
    libc: str | None = None  # "glibc", "musl" or None (none found)
    version: str | None = None
    source: str | None = None  # where the version comes from
    path: str | None = None  # the C library's file
    needed: str | None = None  # the highest GLIBC_x.y any file needs
    needed_by: list[str] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    kernel: str | None = None  # the C library's NT_GNU_ABI_TAG
    kernel_floor: str | None = None  # the highest any file declares
    kernel_files: list[tuple[str, str]] = field(default_factory=list)  # above the libc's


def kernel_text(tag: tuple[int, int, int]) -> str:
    return ".".join(str(n) for n in tag)


def _libc(files: list[FileInfo]) -> tuple[FileInfo | None, str | None]:
    glibc = [f for f in files if f.elf.soname == "libc.so.6"]
    if glibc:
        glibc.sort(key=lambda f: (not f.path.startswith(_STANDARD), f.path))
        return glibc[0], "glibc"
    musl = [f for f in files if (f.elf.soname or "").startswith("libc.musl-")]
    musl += [f for f in files if f.path.rsplit("/", 1)[-1].startswith("ld-musl-")]
    return (musl[0], "musl") if musl else (None, None)


def glibc_report(files: list[FileInfo]) -> GlibcReport:
    out = GlibcReport()
    libc, out.libc = _libc(files)
    if libc is not None:
        out.path = libc.path
        if libc.package is not None:
            pkg = libc.package
            out.version = upstream(pkg.version)
            out.source = f"{pkg.manager} {pkg.name} {pkg.version}"
        elif "glibc" in libc.elf.strings:
            out.version, out.source = libc.elf.strings["glibc"], "its version string"
        if libc.elf.abi_tag is not None:
            out.kernel = kernel_text(libc.elf.abi_tag)
    _needed(out, files)
    out.unresolved = unresolved(files)
    _kernel(out, files)
    return out


def _needed(out: GlibcReport, files: list[FileInfo]) -> None:
    best: str | None = None
    by: list[str] = []
    for f in files:
        mine = [
            v
            for versions in f.elf.version_needs.values()
            for v in versions
            if v.startswith("GLIBC_") and v[6:7].isdigit()
        ]
        if not mine:
            continue
        top = max(mine, key=lambda v: parse_version(v[6:]))
        order = 1 if best is None else compare_versions(top[6:], best[6:])
        if order > 0:
            best, by = top, [f.path]
        elif order == 0:
            by.append(f.path)
    out.needed = best[6:] if best else None
    out.needed_by = sorted(by)[:MAX_LISTED]


def unresolved(files: list[FileInfo]) -> list[Unresolved]:
    """Needed symbol versions that the image's library of that name does not define."""
    providers: dict[str, FileInfo] = {}
    for f in sorted(files, key=lambda f: (not f.path.startswith(_STANDARD), f.path)):
        if f.elf.soname and f.elf.version_defs:
            providers.setdefault(f.elf.soname, f)
    out = []
    for f in files:
        for lib, versions in f.elf.version_needs.items():
            provider = providers.get(lib)
            if provider is None or provider is f:
                continue
            have = set(provider.elf.version_defs)
            missing = tuple(v for v in versions if v not in have)
            if missing:
                out.append(Unresolved(f.path, lib, missing, provider.path))
    out.sort(key=lambda u: (u.path, u.library))
    return out


def _kernel(out: GlibcReport, files: list[FileInfo]) -> None:
    tags = [(f.elf.abi_tag, f.path) for f in files if f.elf.abi_tag is not None]
    if not tags:
        return
    floor = max(t for t, _ in tags)
    out.kernel_floor = kernel_text(floor)
    base = out.kernel
    if base is not None:
        above = [(p, kernel_text(t)) for t, p in tags if compare_versions(kernel_text(t), base) > 0]
        out.kernel_files = sorted(above)[:MAX_LISTED]
