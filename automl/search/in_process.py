"""The runner protocol, and the runner that keeps trials and refits in the fit's own process.

:class:`Runner` is what the search and the refit stage ask to cross-validate a configuration
or refit one; :class:`~automl.search.isolation.IsolatedRunner` does it in a worker process,
:class:`InProcessRunner` here (``isolation="none"``, or a fit that cannot be sent to a worker).

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.evaluation import Evaluator, get_metric, make_cv_plan
    >>> X = pd.DataFrame({"a": np.arange(40.0)}); y = np.arange(40) % 2
    >>> ev = Evaluator([get_metric("accuracy", "binary")], make_cv_plan(2, "binary").splits(40, y, None),
    ...                task="binary", n_classes=2)
    >>> InProcessRunner(ev, X, y).refit("linear", {}, seed=0).family
    'linear'
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from automl.evaluation.cross_validation import CVResult, Evaluator
from automl.evaluation.monitor import TrialMonitor
from automl.search.failures import DeadlineKilled
from automl.search.kept_models import KeptModels
from automl.search.worker_process import fit_rows, with_columns

__all__ = ["InProcessRunner", "Runner"]


class Runner(Protocol):
    """Runs a fit's trials and refits: in a worker process, or in the fit's own process."""

    isolated: bool

    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None,
                 extra: Mapping[str, Any] | None = None) -> CVResult:
        """Cross-validate one configuration (see :meth:`Evaluator.evaluate`); ``extra``: columns added to the
        data for this request only (name -> one value per row)."""

    def evaluate_pack(self, family: str, params: Sequence[Mapping[str, Any]], *, seed: int | None = None,
                      monitors: Sequence[TrialMonitor | None] | None = None,
                      deadline: float | None = None) -> list[CVResult | BaseException]:
        """Cross-validate several configurations of one net family as packs (see
        :func:`~automl.evaluation.packed_cv.evaluate_packed`): per member its result or what ended it.
        :meth:`keep` with ``member`` then keeps a member's fold models."""

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None, stop_at: float | None = None,
              extra: Mapping[str, Any] | None = None) -> Any:
        """``family`` with ``params`` fitted on all rows (or the share ``fraction``) and the ``extra`` columns;
        nets and boosters end their training at ``stop_at``, and the whole refit is stopped at ``deadline``."""

    def start(self, deadline: float | None = None) -> None:
        """Have the worker ready (started, data loaded) by ``deadline`` if it can be."""

    def keep(self, number: int, retain: Sequence[int], member: int | None = None) -> None:
        """The last trial evaluated was trial ``number`` (or, after a pack, its ``member``-th member): keep its
        fold models if it is in ``retain`` (the trials whose models to keep, best first), and drop those of
        every trial not in ``retain``."""

    def holds(self, number: int) -> bool:
        """Whether trial ``number``'s fold models are kept."""

    def kept_models(self, number: int) -> list[Any] | None:
        """Trial ``number``'s fitted fold models (None if they are not kept); they are kept in the fit's
        process, so a crashed worker does not take them."""

    def close(self) -> None:
        """Release the worker."""


class InProcessRunner:
    """Trials and refits in the fit's own process (``isolation="none"``): nothing can be killed,
    so deadlines are checked between folds and epochs only (by the monitor).

    Args:
        evaluator: The fit's evaluator.
        X: Canonical frame (all rows).
        y: Encoded target.
    """

    isolated = False

    def __init__(self, evaluator: Evaluator, X: Any, y: Any) -> None:
        self.evaluator, self.X, self.y = evaluator, X, y
        self._kept = KeptModels(pickled=False)
        #: The fold models of the last trial (key None) or of each member of the last pack (key: its position).
        self._pending: dict[int | None, Any] = {}

    def __enter__(self) -> InProcessRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate(self, family: str, params: Mapping[str, Any], *, seed: int | None = None,
                 monitor: TrialMonitor | None = None, deadline: float | None = None,
                 extra: Mapping[str, Any] | None = None) -> CVResult:
        """Cross-validate here (``deadline`` is the monitor's to check)."""
        self._pending = {}
        result = self.evaluator.evaluate(family, params, with_columns(self.X, extra), self.y, monitor=monitor,
                                         seed=seed, keep_model=True)
        self._pending = {None: result.models}
        result.models = None
        return result

    def evaluate_pack(self, family: str, params: Sequence[Mapping[str, Any]], *, seed: int | None = None,
                      monitors: Sequence[TrialMonitor | None] | None = None,
                      deadline: float | None = None) -> list[CVResult | BaseException]:
        """Cross-validate the members here, as packs (``deadline`` is the monitors' to check)."""
        from automl.evaluation.packed_cv import evaluate_packed, take_models

        self._pending = {}
        outcomes = evaluate_packed(self.evaluator, family, params, self.X, self.y, monitors=monitors, seed=seed,
                                   keep_models=True)
        self._pending = dict(enumerate(take_models(outcomes)))
        return outcomes

    def refit(self, family: str, params: Mapping[str, Any], *, seed: int, fraction: float = 1.0,
              deadline: float | None = None, stop_at: float | None = None,
              extra: Mapping[str, Any] | None = None) -> Any:
        """Fit here; a refit that cannot start before ``deadline`` raises :class:`DeadlineKilled`."""
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineKilled("not started: the time budget's deadline has passed")
        return fit_rows(self.evaluator, with_columns(self.X, extra), self.y, family, params, seed, fraction, stop_at)

    def start(self, deadline: float | None = None) -> None:
        """Nothing to start."""

    def keep(self, number: int, retain: Sequence[int], member: int | None = None) -> None:
        """Keep the last trial's (or pack member's) fold models if it is in ``retain``; only those of ``retain``."""
        self._kept.add(number, self._pending.pop(member, None), retain)

    def holds(self, number: int) -> bool:
        """Whether trial ``number``'s fold models are kept."""
        return self._kept.holds(number)

    def kept_models(self, number: int) -> list[Any] | None:
        """Trial ``number``'s fold models (None if not kept)."""
        return self._kept.models(number)

    def close(self) -> None:
        """Drop the kept models."""
        self._pending = {}
        self._kept.clear()
