"""The analysis Report for people and programs: JSON-ready data (sizes in integer bytes,
absolute paths), the headline numbers, and the findings as a Doc.

`check` (text and JSON), `inspect --analyze` and the TUI's findings panel all print a
Report through here, so they never disagree."""

from __future__ import annotations

from typing import Any

from layerscope.engine.analysis import Report
from layerscope.model.bloat.junk import CACHE, JUNK, SLIMMING
from layerscope.model.bloat.largest import Sized
from layerscope.model.bloat.secrets import SecretFinding
from layerscope.present import units
from layerscope.present.doc import Doc, image, joined


def report_json(r: Report) -> dict[str, Any]:
    return {
        "image": {
            "source": r.ref,
            "format": r.format,
            "layers": r.layer_count,
            "upto": r.upto,
        },
        "sizes": {
            "image_bytes": r.image_bytes,
            "final_bytes": r.final_bytes,
            "reclaimable_bytes": r.waste.total,
            "cache_bytes": r.cache_bytes,
            "junk_bytes": r.junk_bytes,
            "slimming_bytes": r.slimming_bytes,
            "duplicate_savings_bytes": r.duplicates.total_savings,
            "package_owned_bytes": r.owned_bytes,
        },
        "packages": {"count": r.packages, "owned_bytes": r.owned_bytes},
        "dive": _dive(r),
        "reclaimable": _waste(r),
        "duplicates": {
            "total_savings": r.duplicates.total_savings,
            # what the image stores twice: less than total_savings where the format stores
            # identical files once (squashfs); null when the format cannot tell
            "stored_savings": r.duplicates.stored_savings if r.duplicates.stored_known else None,
            "complete": r.duplicates.complete,
            "sets": [
                {
                    "size": s.size,
                    "savings": s.savings,
                    "paths": s.paths,
                    "layers": s.layers,
                    "stored_copies": s.stored or None,
                }
                for s in r.duplicates.sets
            ],
        },
        "caches": {
            "total": r.cache_bytes,
            "junk": r.junk_bytes,
            "slimming": r.slimming_bytes,
            "findings": [
                {
                    "class": j.cls,
                    "category": j.category,
                    "path": j.path,
                    "bytes": j.bytes,
                    "files": j.files,
                    "layers": j.layers,
                }
                for j in r.junk
            ],
        },
        "secrets": {
            "deep_scan": r.deep_secrets,
            "complete": r.secrets_complete,
            "not_scanned": [{"path": p, "why": why} for p, why in r.not_scanned],
            "counted": len(r.counted_secrets()),
            "findings": [secret_json(s) for s in r.secrets],
        },
        "largest": {
            "files": [_sized(s) for s in r.largest.files],
            "dirs": [_sized(s) for s in r.largest.dirs],
            "per_layer": [[_sized(s) for s in rows] for rows in r.largest.per_layer],
        },
        "bytes_read": r.bytes_read,
        "notes": r.notes,
        "signatures": r.signatures,
    }


def summary_json(r: Report) -> dict[str, Any]:
    """The headline numbers only (for `inspect --json` and status lines)."""
    d = r.dive
    return {
        "efficiency": None if d is None else d.efficiency,
        "wasted_bytes": None if d is None else d.wasted_bytes,
        "user_wasted_percent": None if d is None else d.user_wasted_percent,
        "image_bytes": r.image_bytes,
        "final_bytes": r.final_bytes,
        "reclaimable_bytes": r.waste.total,
        "cache_bytes": r.cache_bytes,
        "duplicate_savings_bytes": r.duplicates.total_savings,
        "secrets": len(r.secrets),
        "secrets_recoverable": sum(1 for s in r.secrets if s.recoverable),
        "secrets_shipped": sum(1 for s in r.secrets if s.shipped_by is not None),
        "secrets_complete": r.secrets_complete,
    }


def _dive(r: Report) -> dict[str, Any] | None:
    d = r.dive
    if d is None:
        return None
    return {
        "efficiency": d.efficiency,
        "wasted_bytes": d.wasted_bytes,
        "user_wasted_percent": d.user_wasted_percent,
        "size_bytes": d.size_bytes,
        "user_size_bytes": d.user_size_bytes,
        "layer_sizes": d.layer_sizes,
        "inefficiencies": [
            {"path": p.path, "count": p.count, "cumulative": p.cumulative, "minimum": p.minimum}
            for p in d.inefficiencies
        ],
        "notes": d.notes,
    }


def _waste(r: Report) -> dict[str, Any]:
    w = r.waste
    return {
        "total": w.total,
        "by_reason": dict(sorted(w.by_reason.items())),
        "by_layer": [
            {"layer": i, "written": written, "hidden": hidden}
            for i, (written, hidden) in enumerate(
                zip(w.written_by_layer, w.hidden_by_layer, strict=True)
            )
        ],
        "items": [
            {
                "path": item.path,
                "size": item.size,
                "layer": item.layer,
                "hidden_by": item.hidden_by,
                "reason": item.reason,
                "class": r.waste_classes.get(item.path),
            }
            for item in w.items
        ],
    }


def secret_json(s: SecretFinding) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "source": s.source,
        "location": s.location,
        "how": s.how,
        "detail": s.detail,
        "line": s.line,
        "layer": s.layer,
        "hidden_by": s.hidden_by,
        "hidden_how": s.hidden_how,
        "visible": s.visible,
        "recoverable": s.recoverable,
        "shipped_by": s.shipped_by,
        "fingerprint": s.fingerprint,
        "status": s.status(),
    }


def _sized(s: Sized) -> dict[str, Any]:
    return {"path": s.path, "size": s.size, "layer": s.layer, "visible": s.visible}


# -- for people ----------------------------------------------------------------------------

TOP = 15  # rows per section; the JSON lists them all


PENDING = "duplicates and secrets: pending"


def headline(r: Report) -> list[tuple[str, str]]:
    """(name, value) rows: dive's two numbers (its formula, to compare with dive) and ours."""
    rows = []
    if r.dive is not None:
        rows.append(("Efficiency", f"{units.percent(r.dive.efficiency)} (dive)"))
        rows.append(("Wasted", f"{units.size(r.dive.wasted_bytes)} (dive)"))
    rows.append(("Reclaimable", units.size(r.waste.total)))
    if r.cache_bytes or r.pycache_pending:
        later = " (byte-code: pending)" if r.pycache_pending else ""
        rows.append(("Caches", units.size(r.cache_bytes) + later))
    if r.slimming_bytes:
        rows.append(("Slimming", f"{units.size(r.slimming_bytes)} optional"))
    if r.pending:
        rows.append(("Content", PENDING))  # duplicates, secrets, packages: contents read
        return rows
    dupes = r.duplicates
    if dupes.stored_known and dupes.total_savings:
        rows.append(("Duplicates", f"{units.size(dupes.stored_savings)} stored twice "
                     f"({units.size(dupes.total_savings)} in the tree)"))  # fmt: skip
    elif dupes.total_savings:
        rows.append(("Duplicates", f"{units.size(dupes.total_savings)} to save"))
    if r.secrets:
        recoverable = sum(1 for s in r.secrets if s.recoverable)
        shipped = sum(1 for s in r.secrets if s.shipped_by is not None)
        more = f", {shipped} shipped by packages" if shipped else ""
        rows.append(("Secrets", f"{len(r.secrets)} ({recoverable} recoverable{more})"))
    else:
        rows.append(("Secrets", "none found"))
    if not r.secrets_complete:
        rows.append(("Scan", f"incomplete: {units.count(len(r.not_scanned))} file(s) not read"))
    if r.packages:
        owned = units.size(r.owned_bytes)
        rows.append(("Packages", f"{units.count(r.packages)}, owning {owned} of the final tree"))
    if r.signatures:
        rows.append(("Signatures", f"{r.valid_signatures} of {len(r.signatures)} valid"))
    return rows


def summary_doc(r: Report) -> Doc:
    """What the layers store against what the image shows, then the headline."""
    doc = Doc()
    doc.field("Stored", f"{units.size_exact(r.image_bytes)} in the layers (each copy once)")
    doc.field("Visible", f"{units.size_exact(r.final_bytes)} in the final tree")
    if r.dive is not None and r.dive.user_wasted_percent is not None:
        doc.field("User wasted", f"{units.percent(r.dive.user_wasted_percent)} (dive)")
    for name, value in headline(r):
        doc.field(name, value)
    return doc


def findings_doc(r: Report, top: int = TOP) -> Doc:
    """Every finding, section by section, largest first (`top` rows each)."""
    doc = summary_doc(r)
    _reclaimable(doc, r, top)
    _inefficient(doc, r, top)
    _caches(doc, r, top)
    _duplicates(doc, r, top)
    _secrets(doc, r, top)
    _largest(doc, r, top)
    if r.notes:
        doc.title("Notes")
        for note in r.notes:
            doc.line("  ", image(note, "dim"))
    return doc


def _more(doc: Doc, n: int, top: int) -> None:
    if n > top:
        doc.line((f"  … {n - top} more (--json lists them all)", "dim"))


def _reclaimable(doc: Doc, r: Report, top: int) -> None:
    w = r.waste
    if not w.items:
        return
    doc.title(f"Reclaimable: {units.size(w.total)} stored in lower layers and invisible")
    reasons = ", ".join(f"{k} {units.size(v)}" for k, v in sorted(w.by_reason.items()))
    doc.line((f"  {reasons}", "dim"))
    for i, (wrote, hid) in enumerate(zip(w.written_by_layer, w.hidden_by_layer, strict=True)):
        if wrote or hid:
            doc.line(f"  layer {i}: stored {units.size(wrote)} that is invisible, ",
                     f"hid {units.size(hid)}")  # fmt: skip
    for item in w.items[:top]:
        cls = r.waste_classes.get(item.path)
        doc.line(
            (f"  {units.size(item.size):>10}  ", "size"),
            f"{item.reason:<9} layer {item.layer} -> {item.hidden_by}  ",
            image(item.path),
            f"  [{cls}]" if cls else "",
        )
    _more(doc, len(w.items), top)


def _inefficient(doc: Doc, r: Report, top: int) -> None:
    if r.dive is None or not r.dive.inefficiencies:
        return
    doc.title("Inefficient files (dive: the same path in several layers)")
    for p in r.dive.inefficiencies[:top]:
        doc.line((f"  {units.size(p.cumulative):>10}  ", "size"), f"x{p.count:<3} ", image(p.path))
    _more(doc, len(r.dive.inefficiencies), top)


CATEGORY_TITLES = (
    (CACHE, "Caches"),
    (JUNK, "Junk (not needed at run time)"),
    (SLIMMING, "Optional slimming (shipped by packages; not caches)"),
)


def _caches(doc: Doc, r: Report, top: int) -> None:
    for category, title in CATEGORY_TITLES:
        rows = [j for j in r.junk if j.category == category]
        if not rows:
            continue
        doc.title(f"{title}: {units.size(r.category_bytes(category))}")
        for j in rows[:top]:
            layers = ",".join(str(x) for x in j.layers)
            doc.line(
                (f"  {units.size(j.bytes):>10}  ", "size"),
                f"{j.cls:<15} {units.count(j.files):>7} files  layer {layers}  ",
                image(j.path),
            )
        _more(doc, len(rows), top)


def _duplicates(doc: Doc, r: Report, top: int) -> None:
    dupes = r.duplicates
    if not dupes.sets:
        return
    if dupes.stored_known:
        doc.title(
            f"Duplicates: {units.size(dupes.stored_savings)} stored twice, "
            f"{units.size(dupes.total_savings)} in the tree"
        )
        if dupes.stored_savings < dupes.total_savings:
            why = ("  the format already stores identical files once (squashfs deduplication):"
                   " the first column is what the image stores more than once")  # fmt: skip
        else:
            why = ("  squashfs can store identical files once, but this image stores every"
                   " copy (made with mksquashfs -no-duplicates?)")  # fmt: skip
        doc.line((why, "dim"))
    else:
        doc.title(f"Duplicates: {units.size(dupes.total_savings)} could be saved")
    for d in dupes.sets[:top]:
        shown = joined(d.paths[:4]) + (" …" if len(d.paths) > 4 else "")
        stored = f" (stored {d.stored}x)" if dupes.stored_known else ""
        doc.line(
            (f"  {units.size(d.stored_savings):>10}  ", "size"),
            f"{len(d.paths)} x {units.size(d.size)}{stored}: ",
            (shown, ""),
        )
    _more(doc, len(dupes.sets), top)
    if not dupes.complete:
        doc.line(("  (read budget reached: some candidates were not compared)", "dim"))


def _secrets(doc: Doc, r: Report, top: int) -> None:
    scope = "every text file" if r.deep_secrets else "files with telling names"
    doc.title(f"Secrets ({scope} read; values redacted)")
    if not r.secrets_complete:
        path, why = r.not_scanned[0]
        doc.line(("  scan incomplete: ", "alert"), f"{units.count(len(r.not_scanned))} file(s) ",
                 "not read, e.g. ", image(path), f" ({why})")  # fmt: skip
    if not r.secrets:
        doc.line(("  none found", "dim"))
    for f in r.secrets[:top]:
        line = f":{f.line}" if f.line is not None else ""
        doc.line((f"  {f.kind:<20} ", "alert"), image(f.location + line), "  ", image(f.detail))
        doc.line((f"  {'':<20} {f.status()}", "dim"))
    _more(doc, len(r.secrets), top)


def _largest(doc: Doc, r: Report, top: int) -> None:
    if not r.largest.files:
        return
    doc.title("Largest files")
    for f in r.largest.files[:top]:
        gone = "" if f.visible else "  (hidden by a later layer)"
        doc.line((f"  {units.size(f.size):>10}  ", "size"), f"layer {f.layer}  ", image(f.path),
                 (gone, "dim"))  # fmt: skip
