"""Options every image command shares, and the help texts that go with them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from layerscope.readers import OpenOptions

F = TypeVar("F", bound=Callable[..., Any])

EXIT_HELP = """\b
Exit codes: 0 ok / no differences, 1 findings (differences, a failed
check), 2 usage error (also: a named image, path or file that does not
exist), 3 unreadable, corrupt or unsupported input (a safety limit
included), 4 registry, engine or network failure, 130 interrupted."""

SOURCES_HELP = """\b
IMAGE is any of: a SIF file, a squashfs file, a sandbox directory,
an OCI layout directory (oci:DIR[:REF]), oci-archive:FILE[:REF],
docker-archive:FILE[:REF], dir:DIR (skopeo), a single layer tarball
(.tar, .tar.gz, .tar.zst), docker://HOST/REPO[:TAG|@DIGEST],
containers-storage:NAME[:TAG]|@ID (podman/buildah), docker-daemon:NAME[:TAG],
or a bare NAME[:TAG]: the podman/buildah store, then the Docker daemon."""


def _limits(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> None:
    """--limit NAME=N: raise (or lower) one safety limit for this command."""
    from layerscope import limits

    for item in values:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in limits.LIMITS:
            raise click.BadParameter(
                f"{item!r}: expected NAME=N; `layerscope limits` lists the names"
            )
        limits.set_limit(name.strip(), value.strip())


def source_options(f: F) -> F:
    """--platform, --tls-verify, --no-cache and --limit, handed to the command as one
    `opts: OpenOptions` (the index cache is switched off by OpenOptions, not by the
    environment, so nothing outlives the command)."""

    @functools.wraps(f)
    def command(*args: Any, platform: str | None, tls_verify: bool, no_cache: bool,
                storage_root: str | None, keyrings: tuple[str, ...],
                **kwargs: Any) -> Any:  # fmt: skip
        opts = OpenOptions(
            platform=platform,
            tls_verify=tls_verify,
            use_cache=not no_cache,
            storage_root=storage_root,
            keyrings=keyrings,
        )
        return f(*args, opts=opts, **kwargs)

    wrapped: Any = command
    wrapped = click.option(
        "--keyring",
        "keyrings",
        metavar="FILE",
        multiple=True,
        help="Verify SIF signatures against the keys in FILE (OpenPGP keyring or "
        "certificate, or PEM public keys for DSSE; repeatable). Default: "
        "~/.apptainer/keys/pgp-public.",
    )(wrapped)
    wrapped = click.option(
        "--storage-root",
        metavar="DIR",
        help="The podman/buildah store to read containers-storage: and bare names from "
        "(default: the one podman uses, from storage.conf).",
    )(wrapped)
    wrapped = click.option(
        "--limit",
        "limit_overrides",
        metavar="NAME=N",
        multiple=True,
        expose_value=False,
        callback=_limits,
        help="Raise (or lower) a safety limit for this command, e.g. --limit max_entries=50M; "
        "`layerscope limits` lists them. Sizes as in 512MB or 8GiB.",
    )(wrapped)
    wrapped = click.option(
        "--no-cache",
        is_flag=True,
        help="Do not read or write the index cache (nor keep pulled registry blobs).",
    )(wrapped)
    wrapped = click.option(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="Pick one image of a multi-platform index (default: this host's).",
    )(wrapped)
    wrapped = click.option(
        "--tls-verify",
        type=click.BOOL,
        default=True,
        show_default=True,
        help="Verify registry TLS; --tls-verify=false allows plain HTTP.",
    )(wrapped)
    return wrapped  # type: ignore[no-any-return]
