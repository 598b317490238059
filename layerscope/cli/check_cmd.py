"""`layerscope check IMAGE`: dive-compatible CI rules plus honest waste, caches and secrets.

Exit 0 when every rule passes or is skipped, 1 when one fails, 2 for a bad config or
baseline (checked before the image is opened), 3 for an image that cannot be read."""

from __future__ import annotations

import gc

import click

from layerscope.check import evaluate, load_ci_config, parse_overrides, rules_help
from layerscope.check.accept import Acceptance, apply, read_baseline
from layerscope.check.accept import write_baseline as write_baseline_file
from layerscope.check.rules import get
from layerscope.cli.commands import open_image, warn_of
from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.analysis import AnalysisOptions, ci_metrics
from layerscope.errors import ExitCode
from layerscope.model.bloat.junk import DEFAULT_CLASSES
from layerscope.present import output
from layerscope.present.check import check_doc, check_json, verdict
from layerscope.present.jsonout import dump_json
from layerscope.readers import OpenOptions

RULES_HELP = rules_help()


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
    help="Scan every text file for secrets, not only likely names (default: on; off is faster "
    "on tar layers but no longer a complete scan).",
)
@click.option("--docs", is_flag=True, help="Report documentation and man pages as slimming too.")
@click.option(
    "--baseline",
    "baseline",
    metavar="FILE",
    help="Accept the findings whose fingerprints FILE holds (made by --write-baseline).",
)
@click.option(
    "--write-baseline",
    "write_baseline",
    metavar="FILE",
    help="Write every current finding's fingerprint to FILE, then check with it accepted.",
)
@source_options
def check_cmd(
    image: str,
    ci_config: str | None,
    rules: tuple[str, ...],
    as_json: bool,
    deep_secrets: bool | None,
    docs: bool,
    baseline: str | None,
    write_baseline: str | None,
    opts: OpenOptions,
) -> None:
    """Analyse IMAGE and evaluate CI rules: PASS, FAIL or SKIP each, with value and threshold.

    Prints dive's efficiency and wasted bytes (same formula, to compare), bytes that are
    stored but invisible in the final tree (by layer and reason), duplicates, caches, and
    secrets in any layer (deleted ones too) and in the image's metadata."""
    config = load_ci_config(ci_config, overrides=parse_overrides(rules))
    for warning in config.warnings:
        output.warn(warning)
    path = baseline or config.baseline
    acceptance = Acceptance(config.allow, read_baseline(path) if path else None, path)
    with open_image(image, opts) as img:
        classes = DEFAULT_CLASSES | {"docs"} if docs else DEFAULT_CLASSES
        # the portability report reads every ELF file: only when a rule asks for it
        port = any(get(s.key).portability and s.threshold is not None for s in config.rules)
        analysis = AnalysisOptions(
            junk_classes=classes,
            deep_secrets=deep_secrets,
            package_secrets=config.package_secrets,
            portability=port,
        )
        # The loaded tree and its indexes outlive the analysis: the collector's full
        # passes need not walk them again and again while it allocates (1.3-1.9 s of
        # ~19 s of analysis on a 1.5 GB, 300,000-entry OCI image). Unfrozen after, for
        # callers that run many commands in one process (the tests).
        gc.freeze()
        try:
            report = img.analyze(analysis)
        finally:
            gc.unfreeze()
        warn_of(img)
    if write_baseline is not None:
        acceptance.baseline = write_baseline_file(write_baseline, report)
        acceptance.baseline_path = write_baseline
    metrics, accepted = apply(report, ci_metrics(report), acceptance)
    results = evaluate(config, metrics)
    if as_json:
        dump_json(check_json(report, config, results, accepted))
    else:
        output.lines(check_doc(report, config, results, accepted).plain())
    failed = verdict(results) == "FAIL"
    raise SystemExit(ExitCode.FINDINGS if failed else ExitCode.OK)
