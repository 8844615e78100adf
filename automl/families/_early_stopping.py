"""The rows a booster holds out to stop early on: one rule for LightGBM, XGBoost, CatBoost and histogram boosting.

Classes are stratified, so the held-out part needs a row of every class, and so does the part trained on:
a fixed fraction (10 %) of a fold with many classes (300 classes of 6 rows: 120 held-out rows) was refused
by scikit-learn ("test_size = 120 should be greater or equal to the number of classes = 300") and every
trial of every booster failed. The held-out part grows to one row per class while that leaves the training
part at least half the rows and a row of every class; where it cannot (or a class has one row), there is no
early stopping.

Example:
    >>> validation_rows(np.repeat(np.arange(300), 4), classification=True, fraction=0.1)
    300
    >>> validation_rows(np.r_[0, np.ones(99, int)], classification=True, fraction=0.1) is None  # a class of one row
    True
    >>> validation_rows(np.arange(1000.0), classification=False, fraction=0.1)
    100
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

__all__ = ["PATIENCE_BASE", "PATIENCE_RATE", "RATE_BEFORE", "STOPPING_PARAMS", "Patience", "StoppingEstimator",
           "early_stopping_split", "patience_rounds", "stopping_args", "validation_rows"]

#: The boosters' patience: stop after ``early_stopping_rounds + early_stopping_rate * r`` rounds without a better
#: held-out loss, ``r`` the best round so far (two fixed parameters of each booster's space). The default is a fixed
#: 50 rounds (rate 0). A rate of 0.3 (AutoGluon's ``AdaptiveES``: 0.3 times the best round plus an offset) gives a
#: booster still improving after many rounds a patience that grows with it. It was measured and not made the
#: default (benchmarks/README.md, fifty-fifth session): per model, on the held-out curves of LightGBM's defaults
#: under 5-fold CV of 101 off-suite tables, regression gained +0.29 % mean (13 better, 5 worse of 51) for 1.21 times
#: the rounds (``python -m benchmarks.patience_curves``); but whole fits at 60 s lost (28 regression tables: mean
#: -1.64 %, median +0.01 %), where the slower trials left two or three where there had been three to seven
#: (cigar sales -33 %, tx housing sales -11 %). Pin it for a search without a tight budget:
#: ``search_space={"lightgbm": {"early_stopping_rate": 0.3}}``.
PATIENCE_BASE = 50
PATIENCE_RATE = 0.0
#: The rate of a trial or a model stored before ``early_stopping_rate`` existed: it stopped with a fixed patience.
RATE_BEFORE = 0.0
#: A booster's own parameters in its space (the rest are the package's): its most rounds and its patience.
STOPPING_PARAMS = ("n_estimators", "early_stopping_rounds", "early_stopping_rate")


def stopping_args(params: Any) -> dict[str, Any]:
    """The booster's own arguments (:data:`STOPPING_PARAMS`) of its space's parameters.

    Example:
        >>> stopping_args({"n_estimators": 2000, "early_stopping_rounds": 50, "learning_rate": 0.1})
        {'n_estimators': 2000, 'early_stopping_rounds': 50, 'early_stopping_rate': 0.0}
    """
    return {"n_estimators": int(params["n_estimators"]), "early_stopping_rounds": int(params["early_stopping_rounds"]),
            "early_stopping_rate": float(params.get("early_stopping_rate", RATE_BEFORE))}


class StoppingEstimator(BaseEstimator):
    """The boosters' base: a model pickled before ``early_stopping_rate`` existed loads with :data:`RATE_BEFORE`."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("early_stopping_rate", RATE_BEFORE)
        super().__setstate__(state)


def patience_rounds(rounds: int, rate: float, best_round: int) -> int:
    """Rounds without improvement before a booster stops: ``rounds`` plus ``rate`` times the best round so far.

    Example:
        >>> patience_rounds(50, 0.3, 0), patience_rounds(50, 0.3, 1000), patience_rounds(20, 0.0, 1000)
        (50, 350, 20)
    """
    return int(rounds) + int(max(float(rate), 0.0) * max(best_round, 0))


class Patience:
    """A booster's early stopping on its held-out loss (lower is better), one round at a time.

    We count the rounds ourselves because LightGBM's, XGBoost's and CatBoost's own early stopping take a fixed
    number of rounds, and ``early_stopping_rate`` grows it with the best round (:func:`patience_rounds`).

    Args:
        rounds: ``early_stopping_rounds``.
        rate: ``early_stopping_rate``.

    Example:
        >>> p = Patience(50, 0.0)
        >>> [p.update(r, 1.0 / (r + 1)) for r in range(3)], p.best_round
        ([False, False, False], 2)
        >>> any(p.update(r, 1.0) for r in range(3, 52)), p.update(52, 1.0)
        (False, True)
    """

    def __init__(self, rounds: int, rate: float) -> None:
        self.rounds = rounds
        self.rate = rate
        self.best = float("inf")
        self.best_round = -1

    def update(self, round_: int, loss: float) -> bool:
        """Record the held-out loss after round ``round_`` (0-based); True when it is time to stop."""
        if loss < self.best:
            self.best, self.best_round = float(loss), int(round_)
        return round_ - self.best_round >= patience_rounds(self.rounds, self.rate, self.best_round + 1)


def validation_rows(y: np.ndarray, classification: bool, fraction: float) -> int | None:
    """How many rows to hold out for early stopping (``fraction`` of them, at least one per class), or None
    where no stratified split can hold every class on both sides with at most half the rows held out."""
    n = len(y)
    wanted = max(1, math.ceil(fraction * n))
    if not classification:
        return wanted if n - wanted >= 1 else None
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        return None
    held = max(wanted, len(counts))
    return held if held <= n // 2 and n - held >= len(counts) else None


def early_stopping_split(y: np.ndarray, classification: bool, fraction: float,
                         seed: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(training rows, held-out rows)`` for early stopping (stratified for classes), or None (see the module)."""
    held = validation_rows(y, classification, fraction)
    if held is None:
        return None
    fit_rows, val_rows = train_test_split(np.arange(len(y)), test_size=held, random_state=seed,
                                          stratify=y if classification else None)
    return fit_rows, val_rows
