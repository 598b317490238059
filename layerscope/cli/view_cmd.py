"""`layerscope view IMAGE...`: the terminal browser. Textual is imported only when it runs."""

from __future__ import annotations

import sys

import click

from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.errors import LayerscopeError, UsageError
from layerscope.readers import OpenOptions

VIEW_HELP = """\b
Keys: Tab switches pane, arrows or j/k/h/l move, Space opens/closes a
directory, Ctrl+L / Ctrl+A show the layer's own / aggregated changes,
Ctrl+F or / filters by regex, Ctrl+B attributes, Ctrl+O sort, 1-4 show/hide
added/removed/modified/unchanged, c collapses/expands all, s saves a file,
i shows image details, ? lists every key, q quits."""


@click.command("view", epilog=VIEW_HELP + "\n\n" + SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@source_options
def view_cmd(images: tuple[str, ...], opts: OpenOptions) -> None:
    """Browse an image layer by layer, as dive does; with several IMAGEs (build stages in
    order), each step shows what that image changed over the previous one."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("view needs a terminal (use ls, diff or inspect in scripts)")
    from layerscope.ui.app import make_app

    app = make_app(list(images), opts)
    result = app.run()
    if isinstance(result, LayerscopeError):
        raise result
    code = app.return_code or 0
    if code:
        raise SystemExit(code)
