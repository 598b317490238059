"""The portability report: the JSON document (schema layerscope.portability/1), the text
(a Doc, shown by `inspect --portability`, `inspect --analyze`, the TUI's panel and the
HTML report alike), and the answers to --cpu, --kernel and --host-mpi."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from layerscope.model.portability.components import Component
from layerscope.model.portability.cuda import TABLE_DATE
from layerscope.model.portability.isa import IsaFile
from layerscope.model.portability.levels import level_name
from layerscope.model.portability.query import Answers
from layerscope.model.portability.report import PortabilityReport
from layerscope.present import units
from layerscope.present.doc import Doc, image
from layerscope.present.portability_answers import answers_doc, answers_json

__all__ = ["SCHEMA", "portability_doc", "portability_json", "summary_rows"]

SCHEMA = "layerscope.portability/1"
TOP = 20  # files listed per section in text (the JSON has them all)
GROUP_TITLES = {"mpi": "MPI", "pmi": "PMI", "interconnect": "Interconnect", "gpu": "GPU"}
SOURCES = {
    "note": "GNU property note",
    "decoded": "decoded",
    "dispatch": "decoded, chooses code by CPU at run time",
    "distribution": "distribution package",
    "optional": "glibc-hwcaps variant",
    "unknown": "not decoded",
}


def _level(n: int | None) -> str | None:
    return None if n is None else level_name(n)


def portability_json(r: PortabilityReport, answers: Answers | None = None) -> dict[str, Any]:
    isa, g = r.isa, r.glibc
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "image": {"source": r.ref, "format": r.format},
        "elf_files": r.elf_files,
        "architecture": {
            "declared": r.arch.declared,
            "main": r.arch.main,
            "counts": r.arch.counts,
            "foreign": [asdict(f) for f in r.arch.foreign],
        },
        "isa": {
            "level": _level(isa.level),
            "level_number": isa.level,
            "set_by": isa.set_by,
            "extensions": isa.extensions,
            "files": [_isa_file(f) for f in isa.files],
            "decoded_files": isa.decoded,
            "decoded_bytes": isa.decoded_bytes,
            "distribution_files": isa.distribution,
            "distribution_baseline": _level(isa.distro_baseline),
            "optional_files": isa.optional,
            "unknown": isa.unknown,
        },
        "glibc": {
            "libc": g.libc,
            "version": g.version,
            "source": g.source,
            "path": g.path,
            "needed": g.needed,
            "needed_by": g.needed_by,
            "unresolved": [asdict(u) for u in g.unresolved],
        },
        "kernel": {
            "libc": g.kernel,
            "floor": g.kernel_floor,
            "files": [{"path": p, "kernel": k} for p, k in g.kernel_files],
        },
        "components": [_component(c) for c in r.components],
        "driver_libraries": [asdict(d) for d in r.driver_libs],
        "os_release": r.os_release,
        "read": {"files": r.read_files, "bytes": r.read_bytes},
        "problems": r.problems,
        "notes": r.notes,
    }
    if answers is not None and answers.asked:
        doc["answers"] = answers_json(answers)
    return doc


def _isa_file(f: IsaFile) -> dict[str, Any]:
    return {
        "path": f.path,
        "level": level_name(f.level),
        "level_number": f.level,
        "source": f.source,
        "features": list(f.features),
        "samples": f.samples,
        "partial": f.partial,
    }


def _component(c: Component) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": c.key,
        "title": c.title,
        "group": c.group,
        "version": c.version,
        "source": c.source,
        "files": c.files,
    }
    if c.driver is not None:
        out["nvidia_driver"] = {
            "toolkit": c.driver.driver,
            "minor_compat": c.driver.minor_compat,
            "newer_than_table": c.driver.newer_than_table,
            "table": TABLE_DATE,
        }
    return out


def summary_rows(r: PortabilityReport) -> list[tuple[str, str]]:
    """(name, value) headline rows: what a status line or the details pane shows."""
    rows = [("Architecture", _arch_line(r))]
    if r.isa.level is not None:
        rows.append(("x86-64 level", _isa_line(r)))
    g = r.glibc
    if g.libc is not None:
        rows.append(("C library", f"{g.libc} {g.version or '(version unknown)'}"))
    if g.kernel_floor:
        rows.append(("Kernel", f">= {g.kernel_floor}"))
    for group, title in GROUP_TITLES.items():
        comps = [c for c in r.components if c.group == group]
        if comps:
            rows.append((title, ", ".join(_name(c) for c in comps)))
    bundled = [d for d in r.driver_libs if d.reason == "bundled"]
    if bundled:
        rows.append(("GPU driver", f"{len(bundled)} driver libraries bundled (--nv conflicts)"))
    return rows


def _name(c: Component) -> str:
    return f"{c.title} {c.version}" if c.version else c.title


def _arch_line(r: PortabilityReport) -> str:
    a = r.arch
    counts = ", ".join(f"{n:,} {arch}" for arch, n in a.counts.items()) or "no ELF files"
    declared = f"{a.declared} (declared)" if a.declared else f"{a.main or '?'} (not declared)"
    return f"{declared}; ELF files: {counts}"


def _isa_line(r: PortabilityReport) -> str:
    isa = r.isa
    text = level_name(isa.level or 1)
    if isa.set_by:
        more = f" and {len(isa.set_by) - 1} more" if len(isa.set_by) > 1 else ""
        text += f", set by {isa.set_by[0]}{more}"
    elif isa.distribution and isa.level == isa.distro_baseline:
        text += " (the distribution's baseline)"
    elif isa.level == 1:
        text += " (the baseline)"
    return text


def portability_doc(r: PortabilityReport, answers: Answers | None = None, top: int = TOP) -> Doc:
    doc = Doc()
    doc.field("Architecture", _arch_line(r))
    _foreign(doc, r, top)
    if r.isa.level is not None:
        doc.field("x86-64 level", _isa_line(r))
        _isa(doc, r, top)
    elif r.isa.unknown:
        doc.field("x86-64 level", "not known: no x86-64 file could be decoded")
        _isa(doc, r, top)
    _glibc(doc, r, top)
    _stacks(doc, r)
    _drivers(doc, r, top)
    if answers is not None and answers.asked:
        doc.title("Will it run there?")
        doc.extend(answers_doc(answers, top))
    _problems(doc, r, top)
    return doc


def _more(doc: Doc, total: int, top: int) -> None:
    if total > top:
        doc.line((f"    … and {total - top:,} more (--json lists them all)", "dim"))


def _foreign(doc: Doc, r: PortabilityReport, top: int) -> None:
    foreign = r.arch.foreign
    if not foreign:
        return
    doc.line(("  Files for another architecture:", "warn"))
    for f in foreign[:top]:
        why = "" if f.loader else f"  (no {f.arch} loader in the image: it cannot run)"
        doc.line("    ", image(f.path), f"  {f.arch} {f.kind}", (why, "alert"))
    _more(doc, len(foreign), top)


def _isa(doc: Doc, r: PortabilityReport, top: int) -> None:
    isa = r.isa
    if isa.extensions:
        doc.line(("  Also uses: ", "dim"), ", ".join(isa.extensions))
    needs = [f for f in isa.files if f.source != "dispatch"]
    if needs:
        doc.line("  Files above the baseline:")
        for f in needs[:top]:
            doc.line(f"    {level_name(f.level):<10} ", image(f.path), (_how(f), "dim"))
        _more(doc, len(needs), top)
    dispatch = isa.dispatch
    if dispatch:
        doc.line("  Choose their code by CPU at run time (not counted):")
        for f in dispatch[:top]:
            doc.line(f"    up to {level_name(f.level):<10} ", image(f.path), (_how(f), "dim"))
        _more(doc, len(dispatch), top)
    skipped = []
    if isa.distribution:
        base = level_name(isa.distro_baseline)
        skipped.append(f"{isa.distribution:,} distribution files, unchanged (built for {base})")
    if isa.optional:
        skipped.append(f"{isa.optional:,} glibc-hwcaps variants (optional)")
    if skipped:
        doc.line(("  Not decoded: " + "; ".join(skipped), "dim"))
    size = units.size(isa.decoded_bytes)
    doc.line((f"  Decoded: {isa.decoded:,} files, {size} of code", "dim"))
    if isa.unknown:
        doc.line(("  Level not known (not decoded): ", "warn"), image(", ".join(isa.unknown[:top])))


def _how(f: IsaFile) -> str:
    feats = [x for x in f.features if x in f.samples] or list(f.features)
    shown = ", ".join(f"{x} ({f.samples[x]})" if x in f.samples else x for x in feats[:6])
    partial = ", partly read" if f.partial else ""
    return f"  {SOURCES.get(f.source, f.source)}{partial}" + (f": {shown}" if shown else "")


def _glibc(doc: Doc, r: PortabilityReport, top: int) -> None:
    g = r.glibc
    if g.libc is None:
        doc.field("C library", "none found (static binaries only, or no libc.so.6)")
    else:
        source = f" ({g.source})" if g.source else ""
        doc.line(
            (f"{'C library:':<13} ", "name"),
            image(f"{g.libc} {g.version or '(version unknown)'}{source}, {g.path}"),
        )
    if g.needed:
        who = ", ".join(g.needed_by[:3]) + (" …" if len(g.needed_by) > 3 else "")
        doc.line("  Highest version needed: ", image(f"GLIBC_{g.needed} ({who})"))
    if g.unresolved:
        doc.line(("  Cannot be loaded (symbol versions the image does not define):", "alert"))
        for u in g.unresolved[:top]:
            needs = ", ".join(u.versions)
            doc.line("    ", image(u.path), "  needs ", image(f"{needs} from {u.library}"))
        _more(doc, len(g.unresolved), top)
    if g.kernel_floor:
        whose = " (the C library's ABI tag)" if g.kernel == g.kernel_floor else ""
        doc.field("Kernel", f">= {g.kernel_floor}{whose}")
        for path, version in g.kernel_files[:top]:
            doc.line("    ", image(path), f"  declares >= {version}")


def _stacks(doc: Doc, r: PortabilityReport) -> None:
    for group, title in GROUP_TITLES.items():
        comps = [c for c in r.components if c.group == group]
        if not comps:
            continue
        for n, c in enumerate(comps):
            name = f"{title}:" if n == 0 else ""
            source = f" ({c.source})" if c.source else ""
            doc.line((f"{name:<13} ", "name"), image(f"{_name(c)}{source}"))
            doc.line(" " * 16, image(", ".join(c.files[:3]), "dim"))
            if c.driver is not None:
                doc.line(" " * 16, _driver_text(c))


def _driver_text(c: Component) -> str:
    d = c.driver
    assert d is not None
    if d.driver is None:
        base = "NVIDIA's table (" + TABLE_DATE + ") does not list this version"
    else:
        base = f"needs NVIDIA driver >= {d.driver}"
    if d.minor_compat:
        base += f" (>= {d.minor_compat} with minor version compatibility)"
    if d.newer_than_table:
        base += "; newer than the table of " + TABLE_DATE
    return base


def _drivers(doc: Doc, r: PortabilityReport, top: int) -> None:
    bundled = [d for d in r.driver_libs if d.reason == "bundled"]
    if bundled:
        doc.line(("GPU driver libraries in the image (--nv binds the host's; these shadow "
                  "them and must match the host's kernel module):", "alert"))  # fmt: skip
        for d in bundled[:top]:
            doc.line("    ", image(d.path))
        _more(doc, len(bundled), top)
    others = [d for d in r.driver_libs if d.reason != "bundled"]
    if others:
        kinds = sorted({d.reason for d in others})
        text = " and ".join({"stub": "link-time stubs", "compat": "CUDA forward-compat"}[k]
                            for k in kinds)  # fmt: skip
        doc.line((f"  Also {len(others)} driver libraries that are {text} (not a conflict)",
                  "dim"))  # fmt: skip


def _problems(doc: Doc, r: PortabilityReport, top: int) -> None:
    if r.problems:
        doc.title("Files not read whole (a bad or truncated ELF file, or larger than the window)")
        for p in r.problems[:top]:
            doc.line("  ", image(p, "warn"))
        _more(doc, len(r.problems), top)
    if r.notes:
        doc.title("Notes")
        for n in r.notes[:top]:
            doc.line("  ", image(n, "dim"))
