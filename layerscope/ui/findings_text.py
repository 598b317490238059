"""The findings texts (no Textual here): what makes the image big or leaky, from the
analysis report as `check --json` prints it (layerscope.present.analysis), so the panel and
the JSON never disagree.

Two views: a few headline rows for the image-details pane (dive's "image efficiency
score" and "potential wasted space", plus ours), and the full panel `f` opens."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from layerscope.ui.fmt import human_size, safe

# Rows per section of the panel; the JSON (`check --json`) has them all.
TOP = 15


def headline_rows(report: dict[str, Any] | None, running: bool) -> list[tuple[str, str]]:
    """(name, value) rows for the image-details pane."""
    if report is None:
        return [("Findings", "analysing…")] if running else []
    rows = []
    dive = report["dive"]
    if dive is not None:
        rows.append(("Efficiency", f"{dive['efficiency'] * 100:.1f} % (dive)"))
        rows.append(("Wasted", f"{human_size(dive['wasted_bytes'])} (dive)"))
    sizes = report["sizes"]
    rows.append(("Reclaimable", human_size(sizes["reclaimable_bytes"])))
    if sizes["cache_bytes"]:
        rows.append(("Caches", human_size(sizes["cache_bytes"])))
    if sizes["duplicate_savings_bytes"]:
        rows.append(("Duplicates", human_size(sizes["duplicate_savings_bytes"])))
    secrets = report["secrets"]["findings"]
    if secrets:
        recoverable = sum(1 for s in secrets if s["recoverable"])
        rows.append(("Secrets", f"{len(secrets)} ({recoverable} recoverable)"))
    else:
        rows.append(("Secrets", "none found"))
    return rows


def findings(report: dict[str, Any]) -> Text:
    out = Text()
    sizes = report["sizes"]
    out.append(f"{safe(report['image']['source'])}\n", style="bold")
    out.append(
        f"Stored in the layers {human_size(sizes['image_bytes'])}, "
        f"visible in the image {human_size(sizes['final_bytes'])}\n"
    )
    for name, value in headline_rows(report, False):
        out.append(f"{name:<12}", style="bold")
        out.append(f"{value}\n")
    _reclaimable(out, report["reclaimable"])
    _dive(out, report["dive"])
    _caches(out, report["caches"]["findings"])
    _duplicates(out, report["duplicates"])
    _secrets(out, report["secrets"])
    _largest(out, report["largest"]["files"])
    if report["notes"]:
        _title(out, "Notes")
        for note in report["notes"]:
            out.append(f"  {safe(note)}\n", style="dim")
    return out


def _title(out: Text, title: str) -> None:
    out.append(f"\n{title}\n", style="bold underline")


def _more(out: Text, items: list[Any]) -> None:
    if len(items) > TOP:
        out.append(f"  … {len(items) - TOP} more (layerscope check --json)\n", style="dim")


def _reclaimable(out: Text, waste: dict[str, Any]) -> None:
    _title(out, f"Reclaimable: {human_size(waste['total'])}, bytes no layer needed")
    reasons = ", ".join(f"{r} {human_size(n)}" for r, n in waste["by_reason"].items())
    if reasons:
        out.append(f"  {reasons}\n", style="dim")
    for item in waste["items"][:TOP]:
        hidden = "" if item["hidden_by"] is None else f" → layer {item['hidden_by']}"
        cls = f"  [{item['class']}]" if item["class"] else ""
        out.append(f"  {human_size(item['size']):>10}  ", style="yellow")
        out.append(f"{item['reason']:<17} layer {item['layer']}{hidden}  ")
        out.append(f"{safe(item['path'])}{cls}\n")
    _more(out, waste["items"])


def _dive(out: Text, dive: dict[str, Any] | None) -> None:
    if dive is None or not dive["inefficiencies"]:
        return
    _title(out, "Inefficient files (dive: the same path in several layers)")
    for row in dive["inefficiencies"][:TOP]:
        out.append(f"  {human_size(row['cumulative']):>10}  ", style="yellow")
        out.append(f"×{row['count']:<3} {safe(row['path'])}\n")
    _more(out, dive["inefficiencies"])


def _caches(out: Text, junk: list[dict[str, Any]]) -> None:
    if not junk:
        return
    _title(out, "Caches and junk left in the image")
    for j in junk[:TOP]:
        layers = ",".join(str(n) for n in j["layers"])
        out.append(f"  {human_size(j['bytes']):>10}  ", style="yellow")
        out.append(f"{j['class']:<12} {j['files']:>6} files  layer {layers}  {safe(j['path'])}\n")
    _more(out, junk)


def _duplicates(out: Text, dupes: dict[str, Any]) -> None:
    if not dupes["sets"]:
        return
    _title(out, f"Duplicate files: {human_size(dupes['total_savings'])} to save")
    for s in dupes["sets"][:TOP]:
        out.append(f"  {human_size(s['savings']):>10}  ", style="yellow")
        out.append(f"{len(s['paths'])} × {human_size(s['size'])}: ")
        out.append(", ".join(safe(p) for p in s["paths"][:4]))
        out.append(" …\n" if len(s["paths"]) > 4 else "\n")
    _more(out, dupes["sets"])
    if not dupes["complete"]:
        out.append("  (read budget reached: some candidates were not compared)\n", style="dim")


def _secrets(out: Text, secrets: dict[str, Any]) -> None:
    found = secrets["findings"]
    scope = "every file" if secrets["deep_scan"] else "files with telling names"
    _title(out, f"Secrets ({scope} read; values redacted)")
    if not found:
        out.append("  none found\n", style="dim")
    for s in found[:TOP]:
        style = "bold red" if s["recoverable"] or s["visible"] else "red"
        out.append(f"  {s['kind']:<20}", style=style)
        out.append(f" {safe(s['location'])}  {safe(s['detail'])}\n")
        out.append(f"  {'':<20} {s['status']}\n", style="dim")
    _more(out, found)


def _largest(out: Text, files: list[dict[str, Any]]) -> None:
    if not files:
        return
    _title(out, "Largest files")
    for f in files[:TOP]:
        gone = "" if f["visible"] else "  (hidden by a later layer)"
        out.append(f"  {human_size(f['size']):>10}  ", style="yellow")
        out.append(f"layer {f['layer']}  {safe(f['path'])}{gone}\n")
