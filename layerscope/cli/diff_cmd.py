"""`layerscope diff A B` and `layerscope diff IMAGE --layer N`."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from layerscope.cli.commands import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.engine.compare import ImageDiff, compare_images, diff_json, layer_states
from layerscope.engine.loading import load_image
from layerscope.errors import ExitCode, LayerscopeError, UsageError
from layerscope.model.diff import ALL_FIELDS, DEFAULT_COMPARE, SEMANTIC_IGNORE, parse_fields
from layerscope.model.entry import EntryKind
from layerscope.present import render
from layerscope.readers import OpenOptions

FIELDS_HELP = ", ".join(ALL_FIELDS)


def print_text(d: ImageDiff) -> None:
    w = sys.stdout.write
    ta, tb = d.a.tree, d.b.tree
    for path, node in d.tree.added:
        w(f"+ {render.safe_text(path)}  ({tb.rolled_size(node)} B)\n")
    for path, node in d.tree.removed:
        w(f"- {render.safe_text(path)}  ({ta.rolled_size(node)} B)\n")
    for m in d.tree.modified:
        sizes = ""
        if "size" in m.changes:
            sizes = f"  {ta.size[m.old]} -> {tb.size[m.new]} B"
        w(f"M {render.safe_text(m.path)}  [{','.join(m.changes)}]{sizes}\n")
    for key, value in d.meta.items():
        if isinstance(value, str):
            w(f"~ {key}:\n")
            for line in value.splitlines():
                w(f"    {line}\n")
        else:
            w(f"~ {key}: {value}\n")
    for manager, delta in d.packages.items():
        for name, version in delta["added"].items():
            w(f"P+ {manager} {name} {version}\n")
        for name, version in delta["removed"].items():
            w(f"P- {manager} {name} {version}\n")
        for name, change in delta["changed"].items():
            w(f"P~ {manager} {name} {change['old']} -> {change['new']}\n")
    added_bytes = sum(tb.size[n] for _, n in d.tree.added if tb.kind[n] == EntryKind.FILE)
    removed_bytes = sum(ta.size[n] for _, n in d.tree.removed if ta.kind[n] == EntryKind.FILE)
    w(
        f"{len(d.tree.added)} added ({added_bytes} B), {len(d.tree.removed)} removed "
        f"({removed_bytes} B), {len(d.tree.modified)} modified; "
        f"size {ta.total_size()} -> {tb.total_size()} B\n"
    )


def run_tui(
    a: str, b: str | None, layer: int | None, opts: OpenOptions, fields: set[str]
) -> NoReturn:
    """The diff screen; exits as diff(1) does (130 when quit before the comparison ended)."""
    from layerscope.ui.app import make_diff_app  # Textual only when the screen opens

    app = make_diff_app(a, b, layer, opts, fields)
    result = app.run()
    if isinstance(result, LayerscopeError):
        raise result
    raise SystemExit(app.return_code or 0)


@click.command("diff", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("a")
@click.argument("b", required=False)
@click.option("--layer", type=int, help="With one IMAGE: what layer N changed over layers 0..N-1.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.diff/1).")
@click.option("--summary", is_flag=True, help="Print the text report even on a terminal.")
@click.option("--compare", "compare_", multiple=True, help=f"Also compare: {FIELDS_HELP}.")
@click.option("--ignore", multiple=True, help="Do not compare these fields.")
@click.option("--semantic", is_flag=True, help="Ignore what rebuilds change meaninglessly (mtime).")
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
    platform: str | None,
    tls_verify: bool,
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
    opts = OpenOptions(platform=platform, tls_verify=tls_verify)
    if b is None and layer is None:
        raise UsageError("diff needs two images, or one image and --layer N")
    if b is not None and layer is not None:
        raise UsageError("--layer takes one image (diff IMAGE --layer N)")
    if not (as_json or summary) and sys.stdout.isatty() and sys.stdin.isatty():
        run_tui(a, b, layer, opts, fields)
    if b is None:
        assert layer is not None
        left, right = layer_states(a, layer, opts)
    else:
        left = load_image(a, opts)
        try:
            right = load_image(b, opts)
        except BaseException:
            left.close()
            raise
    try:
        d = compare_images(left, right, fields, with_meta=b is not None)
        if as_json:
            render.dump_json(diff_json(d))
        else:
            print_text(d)
    finally:
        left.close()
        right.close()
    same = d.tree.empty and not d.meta and not d.packages
    raise SystemExit(ExitCode.OK if same else ExitCode.FINDINGS)
