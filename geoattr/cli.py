"""Command-line interface: ``geoattr demo``, ``geoattr run CONFIG.toml``, ``geoattr forecast CONFIG.toml`` and
``geoattr choice CONFIG.toml``.

A thin wrapper over :func:`geoattr.pipeline.run`.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from geoattr import pipeline
from geoattr._versions import versions
from geoattr.config import load_choice_config, load_run_config
from geoattr.exceptions import InputError
from geoattr.models.choice import run_choice
from geoattr.pipeline.forecast import run_forecast

__all__ = ["console", "main"]


_OUT_HELP = ("output folder{}: new, empty or an earlier geoattr output, which is replaced as a whole once the "
             "run is complete (an interrupted run leaves .<name>.partial-<pid> beside it)")


class _Parser(argparse.ArgumentParser):
    """argparse with the same ``geoattr: error:`` prefix for every sub-command's usage errors."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"geoattr: error: {message}\n")


def _config_parser(sub: Any, name: str, help_text: str, config_help: str) -> None:
    """A subcommand that runs a TOML configuration: ``CONFIG --out DIR [--data-dir DIR] [--no-progress]``."""
    c = sub.add_parser(name, help=help_text)
    c.add_argument("config", help=config_help)
    c.add_argument("--out", required=True, help=_OUT_HELP.format(""))
    c.add_argument("--data-dir", default=None, help="base folder of relative data paths (overrides [data] dir)")
    c.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="geoattr",
        description="Residential attractiveness: the commuting-weighted VRA model and its residuals.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the main job on the embedded synthetic Norway")
    d.add_argument("--out", default="demo_output", help=_OUT_HELP.format(" (default: demo_output)"))
    d.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _config_parser(sub, "run", "run the job described by a TOML configuration", "path of the TOML configuration")
    _config_parser(sub, "forecast", "project net migration and population ([forecast]: horizon, draws, "
                   "scenarios, backtest) from the model of [data] and [model]",
                   "path of the TOML configuration (see examples/norway_forecast.toml)")
    ch = sub.add_parser("choice", help="migration choice: stay / domestic move / emigration, a multinomial logit "
                                       "on person-years (tables, predictions, hypotheses, figure)")
    ch.add_argument("config", help="path of the TOML configuration (see examples/choice.toml)")
    ch.add_argument("--out", required=True, help=_OUT_HELP.format(""))
    sub.add_parser("versions", help="print the versions of geoattr and its dependencies")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geoattr`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input: one line ``geoattr: error: ...`` on
        stderr says what to fix (a bad configuration or data file, an output folder that
        cannot be used, a file that cannot be read or written).  Anything else is a bug
        and keeps its traceback.
    """
    args = _parser().parse_args(argv)
    try:
        _dispatch(args)
    except InputError as err:
        return _fail(str(err))
    except OSError as err:
        if err.filename is None:  # not about a file the user named: a bug, keep the traceback
            raise
        return _fail(f"cannot use {str(err.filename)!r}: {err.strerror or err}")
    return 0


def console() -> NoReturn:
    """The ``geoattr`` console script and ``python -m geoattr``: :func:`main`, then exit at once.

    After :func:`main` returns, the process ends the way a :mod:`multiprocessing` child
    does: threading's exit hooks run (idle thread pools are told to stop) and the threads
    that are not daemons are joined, the ``atexit`` handlers run (so temporary folders,
    log handlers and child processes are cleaned up as usual), the standard streams are
    flushed, and then ``os._exit`` skips the interpreter's teardown of every imported
    module.  That teardown does nothing a user can see and costs about 0.8 s once numpy,
    pandas, scipy, libpysal and matplotlib are loaded (measured on a 2-core machine:
    ``import geoattr.cli`` and exit).  Output that cannot be flushed (the reader of a
    pipe has gone) ends the process with status 120, as the interpreter's own exit would,
    without a traceback.  Outside CPython, or when :func:`main` raises (a bug: the
    traceback is kept), the interpreter exits as usual.
    """
    status = main()
    _finish(status)


def _finish(status: int) -> NoReturn:
    # CPython's own exit steps, in its order (multiprocessing's children call the same two)
    join_threads = getattr(threading, "_shutdown", None)  # threading's exit hooks, then non-daemon threads joined
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if join_threads is None or run_exit_handlers is None:  # pragma: no cover - not CPython
        sys.exit(status)
    join_threads()
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: as the interpreter's own exit, status 120
            status = status or 120
    os._exit(status)


def _fail(message: str) -> int:
    """Print the one-line error (exit status 2: bad input, the message says what to fix)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    print("geoattr: error: " + " ".join(lines), file=sys.stderr)
    return 2


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "demo":
        pipeline.run(pipeline.DEFAULT_CONFIG, out=args.out, progress=not args.no_progress, echo=print)
    elif args.command == "run":
        cfg = load_run_config(args.config)
        pipeline.run(cfg, out=args.out, data_dir=args.data_dir, progress=not args.no_progress, echo=print)
    elif args.command == "forecast":
        run_forecast(load_run_config(args.config), out=args.out, data_dir=args.data_dir, progress=not args.no_progress,
                     echo=print)
    elif args.command == "choice":
        run_choice(load_choice_config(args.config), out=args.out, echo=print)
    else:
        for k, v in versions().items():
            print(f"{k:<14} {v}")


if __name__ == "__main__":  # pragma: no cover
    console()
