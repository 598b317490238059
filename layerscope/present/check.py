"""`check`: the JSON document (schema layerscope.check/1) and the text: the analysis, then
each rule PASS, FAIL or SKIP with its value and threshold."""

from __future__ import annotations

from typing import Any

from layerscope.check import CiConfig, RuleResult
from layerscope.check.accept import Accepted
from layerscope.engine.analysis import Report
from layerscope.present.analysis import findings_doc, report_json
from layerscope.present.doc import Doc, image

SCHEMA = "layerscope.check/1"
TOP = 10


def counts(results: list[RuleResult]) -> dict[str, int]:
    return {s.lower(): sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "SKIP")}


def verdict(results: list[RuleResult]) -> str:
    return "FAIL" if any(r.status == "FAIL" for r in results) else "PASS"


def check_json(
    report: Report,
    config: CiConfig,
    results: list[RuleResult],
    accepted: list[Accepted] | None = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "result": verdict(results),
        "counts": counts(results),
        "config": {
            "path": config.path,
            "warnings": config.warnings,
            "rules": [
                {
                    "key": r.key,
                    "configured": r.configured,
                    "threshold": r.threshold,
                    "source": r.source,
                }
                for r in config.rules
            ],
            "allow": config.allow,
            "package_secrets": config.package_secrets,
        },
        "accepted": [_accepted(a) for a in accepted or []],
        "rules": [
            {
                "key": r.key,
                "status": r.status,
                "value": r.value,
                "threshold": r.threshold,
                "configured": r.configured,
                "message": r.message,
            }
            for r in results
        ],
        "analysis": report_json(report),
        **_portability(report),
    }


def _portability(report: Report) -> dict[str, Any]:
    """The portability report, when a rule asked for it."""
    if report.portability is None:
        return {}
    from layerscope.present.portability import portability_json

    port = portability_json(report.portability)
    del port["schema"]
    return {"portability": port}


def _accepted(a: Accepted) -> dict[str, str]:
    return {"rule": a.rule, "kind": a.kind, "location": a.location,
            "fingerprint": a.fingerprint, "why": a.why}  # fmt: skip


def check_doc(
    report: Report,
    config: CiConfig,
    results: list[RuleResult],
    accepted: list[Accepted] | None = None,
) -> Doc:
    doc = Doc()
    doc.field("Image", f"{report.ref} ({report.format}, {report.layer_count} layer(s))")
    doc.field("Config", config.path or "defaults (no .dive-ci)")
    doc.title("Analysis")
    doc.extend(findings_doc(report, TOP))
    if report.portability is not None:
        from layerscope.present.portability import summary_rows

        doc.title("Portability")
        for name, value in summary_rows(report.portability):
            doc.field(name, value)
    if accepted:
        doc.title(f"Accepted findings (not counted by their rule): {len(accepted)}")
        for a in accepted[:TOP]:
            doc.line(f"  {a.rule:<11} {a.kind:<20} ", image(a.location), "  ", image(a.why, "dim"))
        if len(accepted) > TOP:
            doc.line((f"  … {len(accepted) - TOP} more (--json lists them all)", "dim"))
    doc.title("Rules")
    for res in results:
        style = {"FAIL": "alert", "PASS": "added"}.get(res.status, "dim")
        doc.line(
            (f"  {res.status}", style),
            f"  {res.key}: ",
            image(res.message),
            " (configured: ",
            image(str(res.configured)),
            ")",
        )
    c = counts(results)
    doc.line(f"Result: {verdict(results)} [pass:{c['pass']} fail:{c['fail']} skip:{c['skip']}]")
    return doc
