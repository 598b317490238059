"""layerscope's command line: a thin skin over layerscope.engine.loading and the model.

One place (main) turns errors into `layerscope: error: <one line>` and an exit code.
"""

from __future__ import annotations

import os
import sys

import click

from layerscope.cli.exitcodes import ExitCode
from layerscope.errors import LayerscopeError

__all__ = ["ExitCode", "main"]


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"layerscope: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _escape_undecodable() -> None:
    """Names, labels and messages from images may hold bytes that are not UTF-8 (kept as
    surrogates): print them backslash-escaped instead of failing on them."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    from layerscope.cli.commands import cli

    _escape_undecodable()
    try:
        cli.main(args=argv, prog_name="layerscope", standalone_mode=False)
    except click.exceptions.Exit as e:
        raise SystemExit(e.exit_code) from None
    except click.Abort:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except click.UsageError as e:
        msg = e.format_message().splitlines()[0] if e.format_message() else "usage error"
        _fail(msg, ExitCode.USAGE)
    except click.ClickException as e:
        _fail(e.format_message(), ExitCode.USAGE)
    except LayerscopeError as e:
        _fail(" ".join(str(e).split()) or type(e).__name__, e.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader of our stdout went away (`| head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(ExitCode.OK) from None
    except MemoryError:
        _fail("out of memory", ExitCode.BAD_INPUT)
    except RecursionError:
        _fail("input nests too deeply", ExitCode.BAD_INPUT)
    raise SystemExit(ExitCode.OK)
