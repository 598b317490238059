"""The click command group, `ls`, `cat` and `limits`; the other commands live in their own
modules and are imported when run."""

from __future__ import annotations

import importlib
import sys
from typing import ClassVar

import click

import layerscope
from layerscope import __version__
from layerscope.cli.options import EXIT_HELP, SOURCES_HELP, source_options
from layerscope.errors import UsageError
from layerscope.model.entry import EntryKind
from layerscope.present import output
from layerscope.readers import OpenOptions


class LazyGroup(click.Group):
    """Commands defined in other modules are imported only when run (or listed in help):
    `layerscope ls` and the TUI's first frame do not pay for every command's imports."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "inspect": ("layerscope.cli.inspect_cmd", "inspect_cmd"),
        "diff": ("layerscope.cli.diff_cmd", "diff_cmd"),
        "view": ("layerscope.cli.view_cmd", "view_cmd"),
        "check": ("layerscope.cli.check_cmd", "check_cmd"),
        "cache": ("layerscope.cli.cache_cmd", "cache_cmd"),
        "report": ("layerscope.cli.report_cmd", "report_cmd"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attr = self.LAZY[cmd_name]
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_HELP,
)
@click.version_option(__version__, prog_name="layerscope")
def cli() -> None:
    """Look inside SIF, squashfs and OCI/Docker images."""


def open_image(ref: str, opts: OpenOptions, layer: int | None = None) -> layerscope.Image:
    """layerscope.open with the command's options; warnings the readers had go to stderr
    when the command ends (commands call `warn_of(img)`)."""
    return layerscope.open(
        ref,
        layer=layer,
        platform=opts.platform,
        tls_verify=opts.tls_verify,
        use_cache=opts.use_cache,
        storage_root=opts.storage_root,
        keyrings=opts.keyrings,
    )


def warn_of(img: layerscope.Image) -> None:
    """Say on stderr what the readers had to warn about (an incomplete listing, a name
    normalised...), once each; `--json` documents carry the same list."""
    for warning in dict.fromkeys(img.meta.warnings):
        output.warn(warning)


@cli.command("ls", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.argument("path", required=False, default="/")
@click.option(
    "--layer", "layer", type=int, help="The tree as of layer N (layers 0..N); -1 is the last."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.ls/1).")
@source_options
def ls_cmd(image: str, path: str, layer: int | None, as_json: bool, opts: OpenOptions) -> None:
    """List PATH (default /) and everything under it in the merged tree (or the tree as of
    layer N), sorted by path. Directory sizes count regular-file bytes as `du -s` does."""
    from layerscope.present import ls

    with open_image(image, opts, layer) as img:
        top = img.find(path)
        if as_json:
            from layerscope.present import entries  # msgspec: for JSON only

            entries.stream_ls_json(img, ls.listing(img.tree, top))
        else:
            ls.write_listing(img.tree, top, sys.stdout)
        warn_of(img)


@cli.command("cat", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.argument("path")
@click.option("--layer", "layer", type=int, help="Read PATH as of layer N.")
@source_options
def cat_cmd(image: str, path: str, layer: int | None, opts: OpenOptions) -> None:
    """Write a regular file's bytes to stdout. Symlinks are not followed."""
    with open_image(image, opts, layer) as img:
        node = img.find(path)
        kind = EntryKind(img.tree.kind[node])
        if kind != EntryKind.FILE:
            what = (
                f"a symlink to {img.tree.target.get(node)}"
                if kind == EntryKind.SYMLINK
                else f"a {kind.json_name}"
            )
            raise UsageError(f"{path}: is {what}, not a regular file")
        out = sys.stdout.buffer
        for chunk in img.iter_content(node):
            out.write(chunk)
            if output.closed():
                break
        out.flush()
        warn_of(img)


@cli.command("limits")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.limits/1).")
def limits_cmd(as_json: bool) -> None:
    """The safety limits, their values now and how to raise each (--limit NAME=N, or the
    LAYERSCOPE_<NAME> environment variable). Sizes as in 512MB (SI) or 8GiB (IEC)."""
    from layerscope.present.limits import limits_json, limits_lines

    if as_json:
        from layerscope.present.jsonout import dump_json

        dump_json(limits_json())
    else:
        output.lines(limits_lines())


__all__ = ["cli", "open_image", "source_options", "warn_of"]
