"""The answers to --cpu, --kernel and --host-mpi, as text lines and JSON."""

from __future__ import annotations

from typing import Any

from layerscope.model.portability.query import Answers
from layerscope.present.doc import Doc, image

__all__ = ["answers_doc", "answers_json"]


def _yes(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return ("cannot tell", "dim")
    return ("yes", "added") if ok else ("no", "alert")


def answers_doc(a: Answers, top: int) -> Doc:
    doc = Doc()
    if a.cpu is not None:
        c = a.cpu
        doc.line(f"  CPU {c.cpu}: ", _yes(c.runs))
        for path, level, missing in c.failing[:top]:
            needs = ", ".join(missing) if missing else level
            doc.line("    ", image(path), f"  needs {needs}")
        if c.dispatch:
            n = len(c.dispatch)
            files = "file chooses its" if n == 1 else "files choose their"
            doc.line((f"    {n} {files} code by CPU at run time and runs on it", "dim"))
        if c.unknown:
            doc.line((f"    {len(c.unknown)} file(s) could not be decoded: not checked", "warn"))
    if a.kernel is not None:
        k = a.kernel
        floor = f" (the image needs >= {k.floor})" if k.floor else " (no kernel floor declared)"
        doc.line(f"  Kernel {k.kernel}: ", _yes(k.ok), floor)
        for path, version in k.files[:top]:
            doc.line("    ", image(path), f"  declares >= {version}")
    if a.mpi is not None:
        m = a.mpi
        doc.line(f"  Host MPI {m.host}: ", _yes(m.ok))
        if m.ok is None:
            doc.line(("    the image carries no MPI library", "dim"))
        for title, found, ok, why in m.verdicts:
            doc.line("    ", image(f"{title} {found or '(version unknown)'}"), ": ", _yes(ok))
            doc.line(image("      " + why, "dim"))
    return doc


def answers_json(a: Answers) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if a.cpu is not None:
        c = a.cpu
        out["cpu"] = {
            "cpu": c.cpu,
            "runs": c.runs,
            "failing": [{"path": p, "level": lv, "missing": m} for p, lv, m in c.failing],
            "dispatch": c.dispatch,
            "unknown": c.unknown,
        }
    if a.kernel is not None:
        k = a.kernel
        out["kernel"] = {
            "kernel": k.kernel,
            "ok": k.ok,
            "floor": k.floor,
            "files": [{"path": p, "kernel": v} for p, v in k.files],
        }
    if a.mpi is not None:
        m = a.mpi
        out["host_mpi"] = {
            "host": m.host,
            "ok": m.ok,
            "verdicts": [
                {"mpi": t, "version": v, "compatible": ok, "why": why}
                for t, v, ok, why in m.verdicts
            ],
        }
    return out
