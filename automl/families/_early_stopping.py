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

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["early_stopping_split", "validation_rows"]


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
