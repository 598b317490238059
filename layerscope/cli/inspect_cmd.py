"""`layerscope inspect`: what an image says of itself, and what its layers store."""

from __future__ import annotations

import click

from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.inspect import inspect
from layerscope.present import output
from layerscope.present.inspect import inspect_doc, inspect_json
from layerscope.readers import OpenOptions


@click.command("inspect", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.inspect/1).")
@click.option(
    "--analyze",
    is_flag=True,
    help="Add efficiency, wasted and reclaimable bytes, caches and secrets (reads every layer).",
)
@source_options
def inspect_cmd(image: str, as_json: bool, analyze: bool, opts: OpenOptions) -> None:
    """Format, layers with their sizes, SIF descriptors, definition file, labels, config."""
    found = inspect(image, opts, analyze)
    if as_json:
        from layerscope.present.jsonout import dump_json

        dump_json(inspect_json(found))
    else:
        output.lines(inspect_doc(found).plain())
    if found.errors:
        # What could be read is printed; the exit status still says the input is broken.
        raise found.errors[0]
