"""`layerscope report IMAGE... [-o FILE]`: one self-contained HTML file.

One image: its layers, growth, treemap, findings and metadata. Several images: build
stages in order (each step is what that image changed over the previous one), with the
diff of each pair. Exit 0 once the file is written (a failed check is shown in the
report; `layerscope check` is the gate), 2 for a bad argument, 3 for an unreadable image."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from layerscope.check import evaluate, load_ci_config, parse_overrides
from layerscope.check.accept import Acceptance, apply, read_baseline
from layerscope.check.rules import get
from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.analysis import AnalysisOptions, ci_metrics
from layerscope.engine.browse.stack import open_stack
from layerscope.errors import UsageError
from layerscope.model.bloat.junk import DEFAULT_CLASSES
from layerscope.present import output, units
from layerscope.present.check import check_json
from layerscope.present.text import clean
from layerscope.readers import OpenOptions


@click.command("report", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("images", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "out",
    default="report.html",
    show_default=True,
    metavar="FILE",
    help="Where to write the report ('-' for stdout).",
)
@click.option(
    "--ci-config",
    "ci_config",
    metavar="FILE",
    help="Add the check result with these rules (dive's .dive-ci format); "
    "./.dive-ci is used when present.",
)
@click.option(
    "--rule", "rules", multiple=True, metavar="RULE=VALUE", help="Set one check rule (repeatable)."
)
@click.option(
    "--deep-secrets/--no-deep-secrets",
    default=None,
    help="Scan every small text file for secrets (as `check`).",
)
@click.option("--docs", is_flag=True, help="Count documentation and man pages as junk too.")
@click.option(
    "--baseline",
    metavar="FILE",
    help="Accept the findings fingerprinted in FILE in the check result (as `check`).",
)
@click.option(
    "--portability",
    is_flag=True,
    help="Add the portability report (as `inspect --portability`; reads every ELF file). "
    "On when a portability rule is set.",
)
@source_options
def report_cmd(
    images: tuple[str, ...],
    out: str,
    ci_config: str | None,
    rules: tuple[str, ...],
    deep_secrets: bool | None,
    docs: bool,
    baseline: str | None,
    portability: bool,
    opts: OpenOptions,
) -> None:
    """Write one self-contained HTML report of IMAGE, or of several images as build stages
    (IMAGE1 IMAGE2 ...: what each changed over the one before).

    The report holds the layers or stages with their growth, a treemap of the final tree
    coloured by the layer or stage that wrote each file, the findings of `check` (and its
    result when rules are given), and for stages each pair's changed entries, metadata,
    package and text-file differences. It loads nothing from the network: it opens from a
    CI artifact store or an e-mail attachment."""
    from layerscope.present.portability import portability_doc
    from layerscope.present.report.build import build_page
    from layerscope.present.report.html import render

    target = _target(out, images)
    config = None
    if ci_config is not None or rules or baseline or Path(".dive-ci").is_file():
        config = load_ci_config(ci_config, overrides=parse_overrides(rules))
        for warning in config.warnings:
            output.warn(warning)
        # the portability report reads every ELF file: asked for, or needed by a rule
        portability |= any(get(s.key).portability and s.threshold is not None for s in config.rules)
    stack = open_stack(list(images), opts)
    try:
        assert stack.final is not None
        classes = DEFAULT_CLASSES | {"docs"} if docs else DEFAULT_CLASSES
        report = stack.final.analyze(
            AnalysisOptions(
                junk_classes=classes,
                deep_secrets=deep_secrets,
                package_secrets=config.package_secrets if config is not None else False,
                portability=portability,
            )
        )
        check = None
        if config is not None:
            # the same verdict `check` gives: allowlists and the baseline applied
            path = baseline or config.baseline
            acceptance = Acceptance(config.allow, read_baseline(path) if path else None, path)
            metrics, accepted = apply(report, ci_metrics(report), acceptance)
            check = check_json(report, config, evaluate(config, metrics), accepted)
        port_doc = None
        if report.portability is not None:
            port_doc = portability_doc(report.portability)
        html = render(build_page(stack, report, check, port_doc))
        for src in stack.sources:
            for warning in dict.fromkeys(src.meta.warnings):
                output.warn(warning)
    finally:
        stack.close()
    _write(target, html)


def _target(out: str, images: tuple[str, ...]) -> Path | None:
    """The output path (None: stdout); never one of the images read."""
    if out == "-":
        return None
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"{out}: is a directory (give a file name with -o)")
    if path.exists():
        for ref in images:
            rest = ref.partition(":")[2]
            for name in (ref, rest, rest.rpartition(":")[0]):
                if name and Path(name).exists() and Path(name).resolve() == path.resolve():
                    raise UsageError(f"{out}: is an image this report reads; choose another -o")
    return path


def _write(target: Path | None, html: str) -> None:
    data = html.encode("utf-8", "backslashreplace")
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise UsageError(f"{target}: cannot write there: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    sys.stderr.write(f"layerscope: wrote {clean(str(target))} ({units.size(len(data))})\n")
