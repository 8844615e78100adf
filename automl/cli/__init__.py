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

import argparse
import os
import sys
from collections.abc import Sequence

from automl.cli.study_lines import study_command

__all__ = ["build_parser", "interrupted_note", "main", "study_command"]


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
        note = interrupted_note(args)
        print(f"automl: {what}" + (f"; {note}" if note else ""), file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:  # the reader of our output went (automl leaderboard M | head): quietly, as Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes it
        return 141
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


def interrupted_note(args: argparse.Namespace) -> str:
    """What an interrupted command kept: the study's name and storage, and how to continue it; for a search
    without a named study, that nothing is kept. Empty for a command that searches nothing.

    ``fit``, ``sweep`` and ``resume`` put their spec on ``args.spec`` (its study name may be made up by
    ``--workers`` later); ``worker`` and ``demo`` name their study in ``--study``.

    Example:
        >>> interrupted_note(argparse.Namespace(command="worker", study="s", storage="runs.journal"))
        "finished trials are kept in study 's' in journal:runs.journal (continue with: automl resume --study s --storage runs.journal)"
        >>> interrupted_note(argparse.Namespace(command="fit", spec=None, study=None, storage=None))
        'nothing is kept: the search had no study name (its trials lived in memory); pass --study NAME to keep them for automl resume'
    """
    from automl.search.storage import STORAGE_ENV, describe_storage

    if args.command not in ("fit", "sweep", "resume", "worker", "demo"):
        return ""
    spec = getattr(args, "spec", None)
    settings = spec.settings if spec is not None else {}
    name = settings.get("study_name") if spec is not None else getattr(args, "study", None)
    storage = settings.get("storage") if spec is not None else getattr(args, "storage", None)
    if not name:
        return ("nothing is kept: the search had no study name (its trials lived in memory); pass --study NAME to "
                "keep them for automl resume")
    if storage is None:  # a --workers helper gets its storage in the environment, not from its user's shell
        storage = os.environ.get(STORAGE_ENV) or None
    where = describe_storage(storage, name)
    if args.command == "demo":
        return f"finished trials are kept in study {name!r} in {where} (continue with: automl demo)"
    return f"finished trials are kept in study {name!r} in {where} (continue with: {study_command('resume', name, storage)})"
