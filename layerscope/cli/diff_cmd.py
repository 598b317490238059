"""`layerscope diff A B` and `layerscope diff IMAGE --layer N`."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from layerscope.cli.commands import open_image, warn_of
from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.compare import compare_images, layer_states
from layerscope.engine.hashing import ContentHasher
from layerscope.engine.image import Image
from layerscope.engine.pending import ContentProgress, complete_diff
from layerscope.errors import ExitCode, LayerscopeError, UsageError
from layerscope.model.diff import (
    ALL_FIELDS,
    DEFAULT_COMPARE,
    SEMANTIC_IGNORE,
    TreeDiff,
    parse_fields,
)
from layerscope.present import output
from layerscope.present.progress import content_progress
from layerscope.readers import OpenOptions

DEFAULTS = ", ".join(f for f in ALL_FIELDS if f in DEFAULT_COMPARE)
OFF = ", ".join(f for f in ALL_FIELDS if f not in DEFAULT_COMPARE)


def run_tui(
    a: str,
    b: str | None,
    layer: int | None,
    opts: OpenOptions,
    fields: set[str],
    portability: bool = False,
) -> NoReturn:
    """The diff screen; exits as diff(1) does (130 when quit before the comparison ended)."""
    from layerscope.ui.app import make_diff_app  # Textual only when the screen opens

    app = make_diff_app(a, b, layer, opts, fields, portability=portability)
    result = app.run()
    if isinstance(result, LayerscopeError):
        raise result
    raise SystemExit(app.return_code or 0)


def diff_with_progress(a: Image, b: Image, fields: set[str]) -> TreeDiff:
    """The tree diff, its content comparison shown on stderr (a terminal) as one line
    rewritten in place and erased at the end: the output itself is the whole answer."""
    shown = False

    def show(p: ContentProgress) -> None:
        nonlocal shown
        if p.files_total:
            sys.stderr.write(f"\r{content_progress(p)}\x1b[K")
            sys.stderr.flush()
            shown = True

    try:
        return complete_diff(a, b, fields, ContentHasher(), on_progress=show)
    finally:
        if shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


@click.command("diff", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("a")
@click.argument("b", required=False)
@click.option("--layer", type=int, help="With one IMAGE: what layer N changed over layers 0..N-1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.diff/2).")
@click.option("--summary", is_flag=True, help="Print the text report even on a terminal.")
@click.option(
    "--compare",
    "compare_",
    multiple=True,
    metavar="FIELD[,FIELD...]",
    help=f"Also compare these fields (comma-separated, repeatable). Compared by default: "
    f"{DEFAULTS}; off by default: {OFF}.",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="FIELD[,FIELD...]",
    help="Do not compare these fields (comma-separated, repeatable; same names).",
)
@click.option("--semantic", is_flag=True, help="Ignore what rebuilds change meaninglessly (mtime).")
@click.option(
    "--portability",
    is_flag=True,
    help="Also what changed for portability: x86-64 level, glibc and kernel floors, "
    "architectures, MPI/interconnect/GPU stacks (reads every ELF file of both).",
)
@source_options
def diff_cmd(
    a: str,
    b: str | None,
    layer: int | None,
    as_json: bool,
    summary: bool,
    compare_: tuple[str, ...],
    ignore: tuple[str, ...],
    semantic: bool,
    portability: bool,
    opts: OpenOptions,
) -> None:
    """What changed between two images (any formats), or what one layer changed.

    On a terminal (without --json or --summary) this opens the diff screen; `m` shows the
    metadata differences, `?` every key. Exit status as diff(1): 0 no differences,
    1 differences (the screen too, when quit after comparing)."""
    try:
        fields = (set(DEFAULT_COMPARE) | parse_fields(compare_)) - parse_fields(ignore)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if semantic:
        fields -= SEMANTIC_IGNORE
    if as_json and summary:
        raise UsageError("--summary prints text and --json prints JSON: choose one")
    if b is None and layer is None:
        raise UsageError("diff needs two images, or one image and --layer N")
    if b is not None and layer is not None:
        raise UsageError("--layer takes one image (diff IMAGE --layer N)")
    if not (as_json or summary) and sys.stdout.isatty() and sys.stdin.isatty():
        run_tui(a, b, layer, opts, fields, portability)
    if b is None:
        assert layer is not None
        left, right = layer_states(a, layer, opts)
    else:
        left = open_image(a, opts)
        try:
            right = open_image(b, opts)
        except BaseException:
            left.close()
            raise
    with left, right:
        tree = None
        if "content" in fields and sys.stderr.isatty():
            tree = diff_with_progress(left, right, fields)
        d = compare_images(left, right, fields, with_meta=b is not None, tree=tree)
        changes = None
        if portability:
            from layerscope.engine.portability import portability_changes_of

            changes = portability_changes_of(left, right)
        if as_json:
            from layerscope.present.diff import diff_json
            from layerscope.present.jsonout import dump_json

            doc = diff_json(d)
            if changes is not None:
                from layerscope.present.portability_diff import changes_json

                doc["portability"] = changes_json(changes)
            dump_json(doc)
        else:
            from layerscope.present.diff import diff_doc

            text = diff_doc(d)
            if changes is not None:
                from layerscope.present.portability_diff import changes_doc

                text.title("Portability")
                text.extend(changes_doc(changes, "B"))
            output.lines(text.plain())
        warn_of(left)
        if right.meta is not left.meta:
            warn_of(right)
    same = d.tree.empty and not d.meta and not d.packages and not changes
    raise SystemExit(ExitCode.OK if same else ExitCode.FINDINGS)
