"""A one-line progress display for the command line: trials done, best score so far, time left.

On a terminal the line is redrawn after every trial; otherwise (logs, CI) a line
is printed at most every ``every`` seconds. After the search, :meth:`Progress.state` shows what
the fit does now ("refitting the best model ..."); :meth:`Progress.end_line` ends an open line
before anything else is printed (a warning, a log line), so that nothing is glued onto it.

Example:
    >>> import io
    >>> p = Progress(io.StringIO(), time_budget=None, n_trials=10)
    >>> p.line(3, 0.91234, "lightgbm", 7)
    '3/10 trials | best 0.91234 (trial 7, lightgbm)'
"""

from __future__ import annotations

import time
from typing import Any, TextIO

__all__ = ["Progress"]


class Progress:
    """Called as ``progress(study, trial)`` after each trial; ``close()`` ends the line.

    Args:
        stream: Where to write (standard error in the CLI).
        time_budget: Seconds of the whole run, for the "time left" part (None: not shown).
        n_trials: Trials expected in this run, for "done/total" (None: not shown).
        every: Seconds between two lines when ``stream`` is not a terminal.
    """

    def __init__(self, stream: TextIO, time_budget: float | None, n_trials: int | None, every: float = 5.0) -> None:
        self.stream = stream
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.every = every
        self.started = time.monotonic()
        self.done = 0
        self._last = 0.0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._width = 0
        self._study: Any = None
        self._pending = False
        self._in_state = False

    def line(self, done: int, best: float | None, family: str | None, trial: int | None) -> str:
        """The text of the progress line."""
        parts = [f"{done}/{self.n_trials} trials" if self.n_trials else f"{done} trials"]
        if best is not None:
            parts.append(f"best {best:.5g} (trial {trial}, {family})")
        if self.time_budget is not None:
            left = max(0.0, self.time_budget - (time.monotonic() - self.started))
            parts.append(f"{left:.0f} s left")
        return " | ".join(parts)

    def __call__(self, study: Any, trial: Any) -> None:
        self.done += 1
        self._study = study
        now = time.monotonic()
        if not self._tty and now - self._last < self.every:
            self._pending = True
            return
        self._last, self._pending = now, False
        self._show(study)

    def _show(self, study: Any) -> None:
        try:
            best_trial = study.best_trial
            best, family, number = best_trial.value, best_trial.params.get("family"), best_trial.number
        except ValueError:  # no completed trial yet
            best, family, number = None, None, None
        self._write(self.line(self.done, best, family, number))

    def _write(self, text: str) -> None:
        """Redraw the current line with ``text`` on a terminal; elsewhere write it as a line of its own."""
        if self._tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _flush_pending(self) -> None:
        if self._pending and self._study is not None:
            self._pending = False
            self._show(self._study)

    def end_line(self) -> None:
        """End the line being redrawn (on a terminal), so that what is printed next starts a line of its own."""
        if self._tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def state(self, text: str) -> None:
        """Show what the fit does after its trials, e.g. ``"refitting the best model ..."``.

        The trials line is kept (ended); on a terminal each state then replaces the previous one.

        Example:
            >>> import io
            >>> stream = io.StringIO()
            >>> p = Progress(stream, time_budget=None, n_trials=None)
            >>> p.state("logging to MLflow ...")
            >>> stream.getvalue()
            'logging to MLflow ...\\n'
        """
        self._flush_pending()
        if not self._in_state:
            self.end_line()
            self._in_state = True
        self._write(text)

    def close(self) -> None:
        """Show the last state if it was not shown, and end the line (on a terminal)."""
        self._flush_pending()
        self.end_line()
