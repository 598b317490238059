"""`layerscope check IMAGE`: dive-compatible CI rules plus honest waste, caches and secrets.

Exit 0 when every rule passes or is skipped, 1 when one fails, 2 for a bad config (checked
before the image is opened), 3 for an image that cannot be read."""

from __future__ import annotations

import sys
from typing import Any

import click

from layerscope.check import (
    CiConfig,
    RuleResult,
    evaluate,
    load_ci_config,
    parse_overrides,
    rules_help,
)
from layerscope.cli.commands import EXIT_HELP, SOURCES_HELP, open_source, source_options
from layerscope.engine.analysis import AnalysisOptions, Report, analyze, ci_metrics
from layerscope.errors import ExitCode
from layerscope.model.bloat.junk import DEFAULT_CLASSES
from layerscope.present import render
from layerscope.present.analysis import report_json

RULES_HELP = rules_help()

TOP = 10


@click.command("check", epilog=RULES_HELP + "\n\n" + SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.option(
    "--ci-config",
    "ci_config",
    metavar="FILE",
    help="Rules file (dive's .dive-ci format). Default: ./.dive-ci if present.",
)
@click.option(
    "--rule", "rules", multiple=True, metavar="RULE=VALUE", help="Set one rule (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.check/1).")
@click.option(
    "--deep-secrets/--no-deep-secrets",
    default=None,
    help="Scan every small text file for secrets, not only likely names "
    "(default: on for SIF/squashfs/directories, off for tar layers).",
)
@click.option("--docs", is_flag=True, help="Count documentation and man pages as junk too.")
@source_options
def check_cmd(
    image: str,
    ci_config: str | None,
    rules: tuple[str, ...],
    as_json: bool,
    deep_secrets: bool | None,
    docs: bool,
    platform: str | None,
    tls_verify: bool,
) -> None:
    """Analyse IMAGE and evaluate CI rules: PASS, FAIL or SKIP each, with value and threshold.

    Prints dive's efficiency and wasted bytes (same formula, to compare), bytes that are
    stored but invisible in the final tree (by layer and reason), duplicates, caches, and
    secrets in any layer (deleted ones too) and in the image's metadata."""
    config = load_ci_config(ci_config, overrides=parse_overrides(rules))
    for warning in config.warnings:
        sys.stderr.write(f"layerscope: warning: {warning}\n")
    img = open_source(image, platform, tls_verify)
    try:
        classes = DEFAULT_CLASSES | {"docs"} if docs else DEFAULT_CLASSES
        report = analyze(img, AnalysisOptions(junk_classes=classes, deep_secrets=deep_secrets))
    finally:
        img.close()
    results = evaluate(config, ci_metrics(report))
    failed = any(r.status == "FAIL" for r in results)
    if as_json:
        render.dump_json(check_json(report, config, results))
    else:
        print_text(report, config, results)
    raise SystemExit(ExitCode.FINDINGS if failed else ExitCode.OK)


def check_json(report: Report, config: CiConfig, results: list[RuleResult]) -> dict[str, Any]:
    return {
        "schema": "layerscope.check/1",
        "result": "FAIL" if any(r.status == "FAIL" for r in results) else "PASS",
        "counts": _counts(results),
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
        },
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
    }


def _counts(results: list[RuleResult]) -> dict[str, int]:
    return {s.lower(): sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "SKIP")}


def print_text(r: Report, config: CiConfig, results: list[RuleResult]) -> None:
    w = sys.stdout.write
    safe = render.safe_text
    w(f"Image:   {safe(r.ref)} ({r.format}, {r.layer_count} layer(s))\n")
    w(f"Config:  {config.path or 'defaults (no .dive-ci)'}\n")
    w("Analysis:\n")
    if r.dive is not None:
        uwp = r.dive.user_wasted_percent
        w(f"  efficiency (dive):       {r.dive.efficiency * 100:.4f} %\n")
        w(f"  wasted bytes (dive):     {r.dive.wasted_bytes} B\n")
        w(f"  user wasted (dive):      {'n/a' if uwp is None else f'{uwp * 100:.4f} %'}\n")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(r.waste.by_reason.items()))
    w(f"  reclaimable:             {r.waste.total} B{f'  ({reasons})' if reasons else ''}\n")
    w(f"  image bytes:             {r.image_bytes} B (final tree {r.final_bytes} B)\n")
    w(f"  caches:                  {r.cache_bytes} B\n")
    w(f"  duplicates:              {r.duplicates.total_savings} B could be saved\n")
    w(f"  secrets:                 {len(r.secrets)}\n")
    _waste_text(r)
    if r.dive is not None and r.dive.inefficiencies:
        w("Inefficient files (dive's formula):\n")
        w(f"  {'Count':>5}  {'Wasted':>12}  Path\n")
        for p in r.dive.inefficiencies[:TOP]:
            w(f"  {p.count:>5}  {p.cumulative:>10} B  {safe(p.path)}\n")
        _more(len(r.dive.inefficiencies))
    if r.duplicates.sets:
        w("Duplicates (same content, different paths):\n")
        for d in r.duplicates.sets[:TOP]:
            w(f"  {d.savings:>10} B  {d.size} B x {len(d.paths)}: {safe(', '.join(d.paths))}\n")
        _more(len(r.duplicates.sets))
    if r.junk:
        w("Caches and junk:\n")
        for j in r.junk[:TOP]:
            layers = ",".join(str(x) for x in j.layers)
            w(f"  {j.bytes:>10} B  {j.cls:<13} {safe(j.path)}  ({j.files} files, layer {layers})\n")
        _more(len(r.junk))
    if r.secrets:
        w("Secrets (values redacted):\n")
        for f in r.secrets:
            line = f":{f.line}" if f.line is not None else ""
            w(f"  {f.kind:<20} {safe(f.location)}{line}  {safe(f.detail)}\n")
            w(f"  {'':<20} {f.status()}\n")
    for note in r.notes:
        w(f"Note: {safe(note)}\n")
    w("Rules:\n")
    for res in results:
        w(f"  {res.status}  {res.key}: {res.message} (configured: {res.configured})\n")
    counts = _counts(results)
    verdict = "FAIL" if counts["fail"] else "PASS"
    w(f"Result: {verdict} [pass:{counts['pass']} fail:{counts['fail']} skip:{counts['skip']}]\n")


def _waste_text(r: Report) -> None:
    w = sys.stdout.write
    if not r.waste.items:
        return
    w("Reclaimable by layer (bytes it stored that are invisible / bytes it hid):\n")
    for i, (wrote, hid) in enumerate(
        zip(r.waste.written_by_layer, r.waste.hidden_by_layer, strict=True)
    ):
        if wrote or hid:
            w(f"  [{i}] stored {wrote} B, hid {hid} B\n")
    w("Largest reclaimable:\n")
    for item in r.waste.items[:TOP]:
        cls = r.waste_classes.get(item.path)
        tag = f"  [{cls}]" if cls else ""
        w(
            f"  {item.size:>10} B  {render.safe_text(item.path)}  layer {item.layer}, "
            f"{item.reason} in layer {item.hidden_by}{tag}\n"
        )
    _more(len(r.waste.items))


def _more(n: int) -> None:
    if n > TOP:
        sys.stdout.write(f"  ... {n - TOP} more (--json lists all)\n")
