"""The click command group and the shared options."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import click

from layerscope import __version__
from layerscope.engine.loading import LoadedImage, find, load_image
from layerscope.errors import ExitCode, UsageError
from layerscope.model.entry import EntryKind, normalize_path
from layerscope.present import render
from layerscope.present.entries import ls_entries
from layerscope.readers import OpenOptions

F = TypeVar("F", bound=Callable[..., Any])

EXIT_HELP = """\b
Exit codes: 0 ok / no differences, 1 findings, 2 usage error,
3 unreadable, corrupt or unsupported input, 4 registry or network failure,
130 interrupted."""

SOURCES_HELP = """\b
IMAGE is any of: a SIF file, a squashfs file, a sandbox directory,
an OCI layout directory (oci:DIR[:REF]), oci-archive:FILE[:REF],
docker-archive:FILE[:REF], dir:DIR (skopeo), a single layer tarball
(.tar, .tar.gz, .tar.zst) or docker://HOST/REPO[:TAG|@DIGEST]."""


def _no_cache(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--no-cache: every load in this command bypasses the caches (loading honours
    LAYERSCOPE_NO_CACHE, so commands that build their own OpenOptions need no change)."""
    if not value:
        return
    from layerscope.cache import NO_CACHE_ENV

    before = os.environ.get(NO_CACHE_ENV)
    os.environ[NO_CACHE_ENV] = "1"

    def restore() -> None:
        if before is None:
            os.environ.pop(NO_CACHE_ENV, None)
        else:
            os.environ[NO_CACHE_ENV] = before

    ctx.call_on_close(restore)


def _limits(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    """--limit NAME=N: raise (or lower) one safety limit for this command."""
    from layerscope import limits

    for item in values:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in limits.LIMITS:
            known = ", ".join(sorted(limits.LIMITS))
            raise click.BadParameter(f"{item!r}: expected NAME=N with NAME one of {known}")
        limits.set_limit(name.strip(), value.strip())


def source_options(f: F) -> F:
    f = click.option(
        "--limit",
        "limit_overrides",
        metavar="NAME=N",
        multiple=True,
        expose_value=False,
        callback=_limits,
        help="Raise a safety limit (see layerscope/limits.py), e.g. --limit max_entries=50000000.",
    )(f)
    f = click.option(
        "--no-cache",
        is_flag=True,
        expose_value=False,
        callback=_no_cache,
        help="Do not read or write the index cache (nor keep pulled registry blobs).",
    )(f)
    f = click.option(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="Pick one image of a multi-platform index (default: this host's).",
    )(f)
    f = click.option(
        "--tls-verify",
        type=click.BOOL,
        default=True,
        show_default=True,
        help="Verify registry TLS; --tls-verify=false allows plain HTTP.",
    )(f)
    return f


def open_source(
    image: str, platform: str | None, tls_verify: bool, upto: int | None = None
) -> LoadedImage:
    opts = OpenOptions(platform=platform, tls_verify=tls_verify)
    return load_image(image, opts, upto=upto)


class LazyGroup(click.Group):
    """Commands defined in other modules are imported only when run (or listed in help):
    `layerscope ls` and the TUI's first frame do not pay for every command's imports."""

    LAZY: ClassVar[dict[str, tuple[str, str]]] = {
        "inspect": ("layerscope.cli.inspect_cmd", "inspect_cmd"),
        "diff": ("layerscope.cli.diff_cmd", "diff_cmd"),
        "view": ("layerscope.cli.view_cmd", "view_cmd"),
        "check": ("layerscope.cli.check_cmd", "check_cmd"),
        "cache": ("layerscope.cli.cache_cmd", "cache_cmd"),
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


@cli.command("ls", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.argument("path", required=False, default="/")
@click.option(
    "--layer", "layer", type=int, help="The tree as of layer N (layers 0..N); -1 is the last."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (schema layerscope.ls/1).")
@source_options
def ls_cmd(
    image: str, path: str, layer: int | None, as_json: bool, platform: str | None, tls_verify: bool
) -> None:
    """List the merged tree (or PATH and what is under it), sorted by path."""
    img = open_source(image, platform, tls_verify, layer)
    try:
        tree = img.tree
        top = find(img, normalize_path(path))
        if tree.is_dir(top):
            nodes: Iterable[tuple[int, str]] = tree.walk_paths(top)
        else:
            nodes = [(top, tree.path(top))]
        if as_json:
            render.stream_json(
                {"schema": "layerscope.ls/1", "image": render.image_json(img)},
                "entries",
                ls_entries(tree, nodes, tree.link_counts()),
            )
            return
        out = sys.stdout
        ls_line, safe = render.ls_line, render.safe_text
        out.writelines(safe(ls_line(tree, n, p)) + "\n" for n, p in nodes)
    finally:
        img.close()


@cli.command("cat", epilog=SOURCES_HELP + "\n\n" + EXIT_HELP)
@click.argument("image")
@click.argument("path")
@click.option("--layer", "layer", type=int, help="Read PATH as of layer N.")
@source_options
def cat_cmd(
    image: str, path: str, layer: int | None, platform: str | None, tls_verify: bool
) -> None:
    """Write a regular file's bytes to stdout. Symlinks are not followed."""
    img = open_source(image, platform, tls_verify, layer)
    try:
        node = find(img, normalize_path(path))
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
        out.flush()
    finally:
        img.close()


__all__ = ["ExitCode", "cli", "open_source", "source_options"]
