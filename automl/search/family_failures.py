"""Families whose every trial fails: left out of the rest of the search.

A family can fail on any configuration for a reason of the data or the machine: a shape or a value its
library cannot take, a crash of its native code on this input, a library missing in the worker. Each such
trial costs its run, and a crash costs a new worker process (seconds); Optuna's samplers do not learn from a
failed trial (TPE leaves them out), so the family kept being drawn, and failing, for the whole budget.

:class:`FamilyFailures` counts, per family, the trials of this search that failed and those that completed.
Once :data:`FAILURES_TO_DROP` of a family's trials have failed and none has completed, its later trials end
unrun: pruned with the reason (which names the last failure), and not counted towards ``n_trials``, so that
the other families get the trials asked for. A family with a completed trial is never left out: its failures
depend on its parameters, and the search learns to avoid those. When every family is left out the search
ends, and the fit raises :class:`~automl.exceptions.AllTrialsFailedError` with the failures by family.

Example:
    >>> failures = FamilyFailures()
    >>> for _ in range(3):
    ...     failures.failed("knn", "ValueError: bad input")
    >>> print(failures.left_out_reason("knn"))
    not run: the 3 trials of 'knn' in this search failed and none completed (the last: ValueError: bad input); it is left out for the rest of the search
    >>> failures.left_out_reason("linear") is None, failures.all_left_out(["knn", "linear"])
    (True, False)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

__all__ = ["FAILURES_TO_DROP", "FamilyFailures"]

#: Failed trials of one family, with none of its trials completed, after which the search leaves it out.
FAILURES_TO_DROP = 3
#: Most characters of the last failure quoted in the reason.
_QUOTED = 300


class FamilyFailures:
    """What the search has seen each family's trials do: how many failed, whether one completed.

    Args:
        limit: Failed trials, with none completed, after which a family is left out.
    """

    def __init__(self, limit: int = FAILURES_TO_DROP) -> None:
        self.limit = limit
        self._failed: Counter[str] = Counter()
        self._last: dict[str, str] = {}
        self._completed: set[str] = set()

    def failed(self, family: str, reason: str) -> None:
        """Learn that a trial of ``family`` failed with ``reason``."""
        self._failed[family] += 1
        self._last[family] = reason

    def completed(self, family: str) -> None:
        """Learn that a trial of ``family`` completed (the family is then never left out)."""
        self._completed.add(family)

    def left_out_reason(self, family: str) -> str | None:
        """Why a trial of ``family`` does not run (None: it runs)."""
        count = self._failed[family]
        if family in self._completed or count < self.limit:
            return None
        last = self._last[family]
        last = last if len(last) <= _QUOTED else last[:_QUOTED] + "..."
        return (f"not run: the {count} trials of {family!r} in this search failed and none completed (the last: "
                f"{last}); it is left out for the rest of the search")

    def all_left_out(self, families: Iterable[str]) -> bool:
        """Whether every one of ``families`` is left out."""
        return all(self.left_out_reason(family) is not None for family in families)
