"""layerscope's command line: a thin skin over the public API and present/.

One place (main) turns errors into `layerscope: error: <one line>` and an exit code, with
errors.exit_code_for. click's own `main` is not used: its handlers exit 1 on a closed
stdout pipe (1 means "findings" here) and print a blank line on Ctrl+C.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click

from layerscope.errors import ExitCode, LayerscopeError, exit_code_for
from layerscope.present import output

__all__ = ["main"]


def _fail(message: str, code: int) -> None:
    output.error(message)
    raise SystemExit(code)


# SIGTERM (a batch system, `kill`) and SIGHUP (a dropped ssh session) unwind like an
# exception, so every `finally` runs (partial registry downloads are removed); the status
# stays the shell's 128 + signal number.
_UNWIND = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _terminated(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _unwind_on_signals() -> dict[int, Any]:
    """Install _terminated where the default action (die at once) is in force; a signal
    the caller ignores (nohup) stays ignored. Returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        sig: signal.signal(sig, _terminated)
        for sig in _UNWIND
        if signal.getsignal(sig) is signal.SIG_DFL
    }


def main(argv: list[str] | None = None) -> None:
    from layerscope.cli.commands import cli

    output.install()
    args = sys.argv[1:] if argv is None else argv
    previous = _unwind_on_signals()
    try:
        with cli.make_context("layerscope", list(args)) as ctx:
            cli.invoke(ctx)
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
        _fail(str(e) or type(e).__name__, exit_code_for(e))
    except KeyboardInterrupt as e:
        _fail("interrupted", exit_code_for(e))
    except MemoryError:
        _fail("out of memory", ExitCode.BAD_INPUT)
    except RecursionError:
        _fail("input nests too deeply", ExitCode.BAD_INPUT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        output.finish()
    raise SystemExit(ExitCode.OK)
