"""What changed for portability from one image (or stage) to the next: the x86-64 level,
glibc and kernel floors, architectures, MPI/interconnect/GPU stacks, driver libraries."""

from __future__ import annotations

from dataclasses import dataclass, field

from layerscope.model.portability.report import PortabilityReport
from layerscope.model.portability.versions import compare_versions

__all__ = ["Change", "portability_changes"]

MAX_FILES = 20


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # isa, glibc, glibc-needed, unresolved, kernel, architecture, foreign,
    #            component, driver-lib
    direction: str  # raised, lowered, added, removed, changed
    old: str | None
    new: str | None
    subject: str = ""  # the component or library it is about
    files: list[str] = field(default_factory=list)


def _cmp(old: str | None, new: str | None) -> str:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    order = compare_versions(new, old)
    return "raised" if order > 0 else "lowered" if order < 0 else "changed"


def portability_changes(a: PortabilityReport, b: PortabilityReport) -> list[Change]:
    out: list[Change] = []
    _isa(out, a, b)
    ga, gb = a.glibc, b.glibc
    if ga.version != gb.version:
        out.append(Change("glibc", _cmp(ga.version, gb.version), ga.version, gb.version))
    if ga.needed != gb.needed:
        direction = _cmp(ga.needed, gb.needed)
        files = gb.needed_by if direction in ("raised", "added") else ga.needed_by
        out.append(Change("glibc-needed", direction, ga.needed, gb.needed, "", files[:MAX_FILES]))
    before = {(u.path, u.library) for u in ga.unresolved}
    for u in gb.unresolved:
        if (u.path, u.library) not in before:
            versions = ", ".join(u.versions)
            out.append(Change("unresolved", "added", None, versions, u.library, [u.path]))
    if ga.kernel_floor != gb.kernel_floor:
        direction = _cmp(ga.kernel_floor, gb.kernel_floor)
        files = [p for p, _ in gb.kernel_files] if direction == "raised" else []
        out.append(Change("kernel", direction, ga.kernel_floor, gb.kernel_floor, "", files))
    _arch(out, a, b)
    _components(out, a, b)
    old_libs = {d.path for d in a.driver_libs if d.reason == "bundled"}
    new_libs = {d.path for d in b.driver_libs if d.reason == "bundled"}
    for path in sorted(new_libs - old_libs):
        out.append(Change("driver-lib", "added", None, path, "", [path]))
    for path in sorted(old_libs - new_libs):
        out.append(Change("driver-lib", "removed", path, None, "", [path]))
    return out


def _isa(out: list[Change], a: PortabilityReport, b: PortabilityReport) -> None:
    la, lb = a.isa.level, b.isa.level
    if la == lb:
        return
    raised = (lb or 0) > (la or 0)
    files = b.isa.set_by if raised else a.isa.set_by
    out.append(
        Change(
            "isa",
            "raised" if raised else "lowered",
            None if la is None else str(la),
            None if lb is None else str(lb),
            "",
            files[:MAX_FILES],
        )
    )


def _arch(out: list[Change], a: PortabilityReport, b: PortabilityReport) -> None:
    if a.arch.declared != b.arch.declared:
        out.append(Change("architecture", "changed", a.arch.declared, b.arch.declared, "declared"))
    old = {f.path: f.arch for f in a.arch.foreign}
    for f in b.arch.foreign:
        if f.path not in old:
            out.append(Change("foreign", "added", None, f.arch, "", [f.path]))


def _components(out: list[Change], a: PortabilityReport, b: PortabilityReport) -> None:
    def index(r: PortabilityReport) -> dict[str, set[str | None]]:
        got: dict[str, set[str | None]] = {}
        for c in r.components:
            got.setdefault(c.key, set()).add(c.version)
        return got

    titles = {c.key: c.title for c in (*a.components, *b.components)}
    ia, ib = index(a), index(b)
    for key in sorted(ia.keys() | ib.keys()):
        va, vb = ia.get(key, set()), ib.get(key, set())
        if va == vb:
            continue
        old = ", ".join(sorted(v or "?" for v in va)) or None
        new = ", ".join(sorted(v or "?" for v in vb)) or None
        direction = "added" if not va else "removed" if not vb else "changed"
        out.append(Change("component", direction, old, new, titles[key]))
