"""The ``automl`` command line.

``demo``, ``fit``, ``sweep``, ``worker``, ``resume``, ``leaderboard``,
``predict``, ``families``, ``spaces show|check`` and ``ui``; ``automl COMMAND --help``
shows each one's options and examples. Exit codes: 0 done, 1 failed, 2 usage or
data error (with the message and a hint), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM, from ``timeout``, systemd, docker or CI: handled as Ctrl-C, so the MLflow run is
marked KILLED and the worker processes stop).

Example:
    >>> main(["families"])  # doctest: +ELLIPSIS
    lightgbm ...
    0
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser():  # noqa: ANN201 - argparse is imported with the parser module
    """The argument parser of the ``automl`` command (see :mod:`automl.cli.parser`)."""
    from automl.cli.parser import build_parser as build

    return build()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 done, 1 failed, 2 usage error, 130 interrupted,
    143 terminated)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from automl.exceptions import AutoMLError

    from automl._spawn import Terminated, sigterm_as_interrupt, watch_parent
    from automl.cli.output import console

    command = " ".join(a for a in [args.command, getattr(args, "spaces_command", None)] if a)
    try:
        with console(args.verbose), sigterm_as_interrupt():
            watch_parent()  # a helper started by --workers stops when its parent dies
            return int(args.run(args))
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"automl: {what}; finished trials are kept in the study (continue with: automl resume --study NAME)",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except AutoMLError as exc:
        usage = isinstance(exc, (ValueError, TypeError, LookupError))
        print(f"automl: error: {exc}", file=sys.stderr)
        if usage:
            print(f"hint: automl {command} --help shows the options and examples", file=sys.stderr)
        return 2 if usage else 1
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, unless -v
        if args.verbose:
            raise
        print(f"automl: failed: {type(exc).__name__}: {exc} (run with -v for the traceback)", file=sys.stderr)
        return 1
