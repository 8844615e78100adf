"""A second level over the blend: a model trained on the data plus the base models' predictions (stacking).

Wolpert's stacked generalisation, as AutoGluon stacks its bagged models: each base model's out-of-fold
predictions become new columns of the data, and a second-level model is cross-validated on them with the same
folds as every trial. At ``predict`` time the base models (the blend's members, refitted on all rows or bagged)
predict the new rows, and the second level reads those predictions beside the row's own columns. The
prediction is a blend of the base models' and the second level's (AutoGluon's weighted ensemble over its levels),
with weights chosen by greedy selection over their out-of-fold predictions.

The columns: one per class but the first for classification (the first is one minus the rest), one for
regression, named ``__stack_<trial>_<k>`` (a fit whose data already has a column of that prefix is not
stacked, :func:`automl._fit.stack.stack_cv`).

Example:
    >>> import numpy as np, pandas as pd
    >>> from automl.families.pipeline import FamilyPipeline
    >>> X = pd.DataFrame({"a": np.arange(40.0) % 7, "b": np.arange(40.0)}); y = (np.arange(40) >= 20).astype(int)
    >>> base = FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X, y)
    >>> oof = stack_columns([base.predict_scores(X)], [3], "binary")
    >>> list(oof)
    ['__stack_3_1']
    >>> top = FamilyPipeline("linear", {}, task="binary", n_classes=2).fit(X.assign(**oof), y)
    >>> stacked = StackedModel([base], [3], top, weights=[1, 3], top_trial=5)
    >>> stacked.predict_scores(X).shape, stacked.weights
    ((40, 2), [0.25, 0.75])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from automl.ensemble import blend

__all__ = ["STACK_PREFIX", "StackedModel", "stack_columns"]

#: The prefix of the columns the base models' predictions become.
STACK_PREFIX = "__stack_"


def stack_columns(predictions: Sequence[np.ndarray], trials: Sequence[int], task: str) -> dict[str, np.ndarray]:
    """The base models' predictions as named columns (``float32``), in the base models' order.

    Args:
        predictions: Per base model, class scores ``(n, K)`` or values ``(n,)``.
        trials: The trial each base model comes from (names the columns).
        task: ``binary``, ``multiclass`` or ``regression``.

    Example:
        >>> cols = stack_columns([np.array([[.2, .3, .5], [.1, .1, .8]])], [4], "multiclass")
        >>> sorted(cols), cols["__stack_4_2"].tolist()
        (['__stack_4_1', '__stack_4_2'], [0.5, 0.800000011920929])
    """
    out: dict[str, np.ndarray] = {}
    for prediction, trial in zip(predictions, trials):
        values = np.asarray(prediction, dtype="float32")
        if task == "regression" or values.ndim == 1:
            out[f"{STACK_PREFIX}{trial}_0"] = values.reshape(len(values))
            continue
        for k in range(1, values.shape[1]):
            out[f"{STACK_PREFIX}{trial}_{k}"] = values[:, k]
    return out


class StackedModel:
    """Base models whose predictions a second-level model reads beside the data, and the blend of both (what
    ``predict`` uses when the stack wins).

    Args:
        base: The fitted base models (:class:`~automl.families.pipeline.FamilyPipeline` or
            :class:`~automl.families.bagged.BaggedModel`), the blend's members.
        trials: The trial each base model comes from.
        top: The fitted second-level :class:`~automl.families.pipeline.FamilyPipeline`.
        weights: One weight per base model, then the second level's (normalised here): the blend chosen over
            the base models' and the second level's out-of-fold predictions.
        top_trial: The trial whose configuration the second level is.
    """

    def __init__(self, base: Sequence[Any], trials: Sequence[int], top: Any, weights: Sequence[float],
                 top_trial: int) -> None:
        total = float(np.sum(weights))
        self.base = list(base)
        self.trials = [int(t) for t in trials]
        self.top = top
        self.weights = [float(w) / total for w in weights]
        self.top_trial = int(top_trial)

    @property
    def family(self) -> str:
        """The second level's family."""
        return str(self.top.family)

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return str(self.top.task)

    @property
    def families(self) -> list[str]:
        """The families used: the base models' (each once), then the second level's."""
        names: list[str] = []
        for model in [*self.base, self.top]:
            for name in getattr(model, "families", [model.family]):
                if name not in names:
                    names.append(name)
        return names

    def predict_scores(self, X: Any) -> np.ndarray:
        """The blend of the base models' scores (probabilities or values) and the second level's, which reads
        ``X`` with the base models' scores as extra columns."""
        scores = [np.asarray(m.predict_scores(X)) for m in self.base]
        columns = stack_columns(scores, self.trials, self.task)
        return blend([*scores, np.asarray(self.top.predict_scores(X.assign(**columns)))], self.weights)

    def __repr__(self) -> str:
        base = ", ".join(f"{getattr(m, 'family', '?')}#{t}: {w:.2f}" for m, t, w in zip(self.base, self.trials,
                                                                                         self.weights))
        return f"StackedModel({self.family}#{self.top_trial} (second level): {self.weights[-1]:.2f}, {base})"
