"""``BaggedModel``: the fold models a trial trained in cross-validation, predicting with their average.

Each fold's model of a trial was fitted on that fold's training rows and scored on its validation
rows; averaged, they predict new rows as AutoGluon's bagged models do, and the trial's out-of-fold
predictions are exactly this model's cross-validation predictions (so ensemble selection on them
scores the model ``predict`` uses). A bag costs no refit on all rows, and ``k`` times one model's
prediction time.

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.families.pipeline import FamilyPipeline
    >>> X = pd.DataFrame({"a": np.arange(20.0)}); y = (np.arange(20) >= 10).astype(int)
    >>> folds = [FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X.iloc[r], y[r])
    ...          for r in (np.arange(0, 20, 2), np.arange(1, 20, 2))]
    >>> bag = BaggedModel(folds)
    >>> bag.family, len(bag.members), bag.predict_scores(X).shape
    ('linear', 2, (20, 2))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from automl.exceptions import InvalidParameterError

__all__ = ["BaggedModel"]


class BaggedModel:
    """Fitted fold pipelines of one trial, averaged with equal weights.

    Args:
        members: The trial's fitted :class:`~automl.families.pipeline.FamilyPipeline` objects, one per
            fold (all of one family and task).
    """

    def __init__(self, members: Sequence[Any]) -> None:
        if not members:
            raise InvalidParameterError("a bag needs at least one fitted fold model; got none")
        self.members = list(members)

    @property
    def family(self) -> str:
        """The family of every member."""
        return str(self.members[0].family)

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return str(self.members[0].task)

    @property
    def families(self) -> list[str]:
        """Family of each member."""
        return [m.family for m in self.members]

    @property
    def weights(self) -> list[float]:
        """Equal weights, one per member."""
        return [1.0 / len(self.members)] * len(self.members)

    def predict_scores(self, X: Any) -> np.ndarray:
        """The members' scores (probabilities or values), averaged."""
        total = np.asarray(self.members[0].predict_scores(X), dtype="float64")
        for member in self.members[1:]:
            total = total + np.asarray(member.predict_scores(X), dtype="float64")
        return total / len(self.members)

    def refit_hints(self) -> dict[str, Any]:
        """The first member's hints (what its family learned, e.g. boosting rounds)."""
        return dict(self.members[0].refit_hints())

    def __repr__(self) -> str:
        return f"BaggedModel({self.family} x {len(self.members)} folds)"
