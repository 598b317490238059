"""`layerscope inspect`: what an image says of itself, and what its layers store; with
--portability, whether it will run on a cluster."""

from __future__ import annotations

from typing import Any

import click

from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.inspect import inspect
from layerscope.errors import ExitCode, UsageError
from layerscope.present import output
from layerscope.present.inspect import inspect_doc, inspect_json
from layerscope.readers import OpenOptions

PORTABILITY_HELP = """\b
--portability: the architecture of every ELF file, the x86-64 level
each needs (GNU property notes, else decoded instructions; files the
distribution's packages installed unchanged are built for its baseline),
the glibc and kernel floors, MPI, PMI, interconnect and GPU stacks.
--cpu, --kernel and --host-mpi ask whether it runs there: exit 1 if not."""


def _parse(kind: str, parse: Any) -> Any:
    def callback(_ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as e:
            raise UsageError(f"--{kind}: {e}") from None

    return callback


def _cpu(text: str) -> Any:
    from layerscope.model.portability.levels import parse_cpu

    return parse_cpu(text)


def _kernel(text: str) -> Any:
    from layerscope.model.portability.query import parse_kernel

    return parse_kernel(text)


def _host_mpi(text: str) -> Any:
    from layerscope.model.portability.stacks import parse_host_mpi

    return parse_host_mpi(text)


@click.command("inspect", epilog=PORTABILITY_HELP + "\n\n" + SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.inspect/1).")
@click.option(
    "--analyze",
    is_flag=True,
    help="Add efficiency, wasted and reclaimable bytes, caches, secrets and portability "
    "(reads every layer).",
)
@click.option(
    "--portability",
    is_flag=True,
    help="Only the portability report (JSON schema layerscope.portability/1).",
)
@click.option(
    "--cpu",
    metavar="LEVEL|MODEL",
    callback=_parse("cpu", _cpu),
    help="Will every binary run on this CPU? x86-64-v3, skylake-avx512, znver3...",
)
@click.option(
    "--kernel",
    metavar="VERSION",
    callback=_parse("kernel", _kernel),
    help="Is this host kernel new enough? e.g. 3.10.0",
)
@click.option(
    "--host-mpi",
    metavar="FAMILY-VERSION",
    callback=_parse("host-mpi", _host_mpi),
    help="Can the host's MPI replace the image's? e.g. openmpi-4.1.5, mpich-4.1",
)
@source_options
def inspect_cmd(
    image: str,
    as_json: bool,
    analyze: bool,
    portability: bool,
    cpu: Any,
    kernel: str | None,
    host_mpi: Any,
    opts: OpenOptions,
) -> None:
    """Format, layers with their sizes, SIF descriptors, definition file, labels, config."""
    asked = cpu is not None or kernel is not None or host_mpi is not None
    if portability or (asked and not analyze):
        _portability(image, as_json, opts, cpu, kernel, host_mpi)
        return
    found = inspect(image, opts, analyze)
    answers = None
    if found.analysis is not None and found.analysis.portability is not None:
        from layerscope.model.portability.query import ask

        answers = ask(found.analysis.portability, cpu, kernel, host_mpi)
    if as_json:
        from layerscope.present.jsonout import dump_json

        dump_json(inspect_json(found, answers))
    else:
        output.lines(inspect_doc(found, answers).plain())
    if found.errors:
        # What could be read is printed; the exit status still says the input is broken.
        raise found.errors[0]
    if answers is not None and answers.no:
        raise SystemExit(ExitCode.FINDINGS)


def _portability(
    ref: str, as_json: bool, opts: OpenOptions, cpu: Any, kernel: str | None, host_mpi: Any
) -> None:
    from layerscope.cli.commands import open_image, warn_of
    from layerscope.engine.portability import portability
    from layerscope.model.portability.query import ask
    from layerscope.present.portability import portability_doc, portability_json

    with open_image(ref, opts) as img:
        report = portability(img)
        answers = ask(report, cpu, kernel, host_mpi)
        if as_json:
            from layerscope.present.jsonout import dump_json

            doc = portability_json(report, answers)
            doc["warnings"] = img.meta.warnings
            dump_json(doc)
        else:
            output.lines(portability_doc(report, answers).plain())
        warn_of(img)
        if report.problems:
            n = len(report.problems)
            output.warn(f"{n} ELF file(s) could not be read whole: see the report's problems")
    if answers.no:
        raise SystemExit(ExitCode.FINDINGS)
