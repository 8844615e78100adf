"""What the command line prints besides its results: our warnings and log lines, the fit's stages,
and none of the libraries' chatter unless ``-v``.

:func:`console` is entered by :func:`automl.cli.main` around one command and undoes everything on
exit (the Python API's logging and warnings state is left as it was):

- a warning raised by automl's own code is printed as ``automl: warning: ...``; one raised by a
  library (MLflow's colour-coded notes, scikit-learn's ``ConvergenceWarning`` inside a trial, ...)
  is not, since the user cannot act on it. The filters also travel to the trial worker processes,
  which receive the search's warning filters.
- log records of logger ``automl`` at WARNING and above are printed (all of them with ``-v``);
  records of ``automl.stage`` (the fit's stages: refit, ensemble, MLflow, saving) become the
  progress display's state; MLflow's, Alembic's and Optuna's INFO lines are not printed.
- whatever is printed first ends the progress line, so that nothing is glued onto it.

Example:
    >>> import io, logging, warnings
    >>> stream = io.StringIO()
    >>> with console(verbose=False, stream=stream):
    ...     logging.getLogger("automl").warning("the refit of trial 3 failed")
    ...     logging.getLogger("mlflow.store").info("Creating initial MLflow database tables...")
    >>> stream.getvalue()
    'automl: warning: the refit of trial 3 failed\\n'
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["Console", "console", "current"]

#: Modules whose warnings the user cannot act on (hidden, in this process and in the trial workers).
LIBRARY_MODULES = r"(sklearn|lightgbm|torch|mlflow|optuna|alembic|sqlalchemy|pandas|numpy|scipy|joblib|threadpoolctl)(\.|$)"
#: Loggers of libraries that log INFO lines at import or start-up; kept at WARNING unless ``-v``.
LIBRARY_LOGGERS = ("mlflow", "alembic", "optuna", "sqlalchemy", "urllib3", "huey")
#: The logger whose INFO records are the fit's stages ("refitting the best model ...").
STAGE_LOGGER = "automl.stage"

_current: Console | None = None


def current() -> Console | None:
    """The console of the command running now (None outside :func:`console`)."""
    return _current


class Console:
    """Writes messages to ``stream``, ending the progress line first; shows the fit's stages on it."""

    def __init__(self, stream: TextIO, verbose: bool) -> None:
        self.stream = stream
        self.verbose = verbose
        self.progress: Any = None

    def end_line(self) -> None:
        """End the progress line (if one is open)."""
        if self.progress is not None:
            self.progress.end_line()

    def say(self, text: str) -> None:
        """Print one message on a line of its own."""
        self.end_line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def stage(self, text: str) -> None:
        """Show what the fit does now: on the progress display, else as a line (only with ``-v``)."""
        if self.progress is not None:
            self.progress.state(text)
        elif self.verbose:
            self.say(text)


class _Handler(logging.Handler):
    def __init__(self, out: Console) -> None:
        super().__init__(logging.DEBUG)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.name == STAGE_LOGGER:
                self.out.stage(text)
            elif record.levelno >= logging.WARNING:
                self.out.say(f"automl: {record.levelname.lower()}: {text}")
            elif self.out.verbose:
                self.out.say(text)
        except Exception:  # noqa: BLE001 - logging never raises into the fit
            self.handleError(record)


def _raised_by_automl() -> bool:
    """Whether the warning being shown was raised by automl's code (the caller of ``warnings.warn``)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") == "warnings":
        frame = frame.f_back  # type: ignore[assignment]
    name = frame.f_globals.get("__name__", "") if frame is not None else ""
    return isinstance(name, str) and (name == "automl" or name.startswith("automl."))


def _show_warning(out: Console, original: Any) -> Any:
    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        if out.verbose:
            out.end_line()
            original(message, category, filename, lineno, file, line)
        elif _raised_by_automl():
            out.say(f"automl: warning: {message}")

    return show


@contextlib.contextmanager
def _library_loggers(verbose: bool) -> Iterator[None]:
    """Library loggers at WARNING (MLflow reads ``MLFLOW_LOGGING_LEVEL`` when it is imported); undone after."""
    if verbose:
        yield
        return
    saved_env = os.environ.get("MLFLOW_LOGGING_LEVEL")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.WARNING))
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if saved_env is None:
            os.environ.pop("MLFLOW_LOGGING_LEVEL", None)


@contextlib.contextmanager
def console(verbose: bool, stream: TextIO | None = None) -> Iterator[Console]:
    """The command line's output, for the duration of one command (see the module docstring)."""
    global _current
    out = Console(stream if stream is not None else sys.stderr, verbose)
    logger = logging.getLogger("automl")
    handler = _Handler(out)
    saved = (logger.level, logger.propagate, _current)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False  # the root logger (and Python's last resort) would print it again
    root = logging.getLogger()
    root_handler = logging.StreamHandler(out.stream) if verbose else None
    if root_handler is not None:  # -v: the libraries' INFO lines too
        root_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(root_handler)
    saved_root = root.level
    if verbose:
        root.setLevel(logging.INFO)
    _current = out
    try:
        with warnings.catch_warnings(), _library_loggers(verbose):
            if not verbose:
                warnings.filterwarnings("ignore", module=LIBRARY_MODULES)
            warnings.showwarning = _show_warning(out, warnings.showwarning)
            yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        _current = saved[2]
        root.setLevel(saved_root)
        if root_handler is not None:
            root.removeHandler(root_handler)
