"""``feature_importance``: permutation importance of each input column for a fitted model.

Example:
    >>> import numpy as np, pandas as pd, automl
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"signal": rng.normal(size=200), "noise": rng.normal(size=200)})
    >>> model = automl.AutoMLRegressor(n_trials=1, families=["linear"], cv=2).fit(X, 3 * X["signal"])
    >>> model.feature_importance(X, 3 * X["signal"])["feature"].tolist()
    ['signal', 'noise']
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from automl.data.scoring import named_columns, scoring_truth
from automl.exceptions import InvalidParameterError

__all__ = ["feature_importance"]


def _score(estimator: Any, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> float:
    return float(estimator.score(X, y, sample_weight=sample_weight))


def feature_importance(model: Any, X: Any, y: Any = None, *, n_repeats: int = 5,
                       random_state: int | None = 0, sample_weight: Any = None) -> pd.DataFrame:
    """Drop of the search metric when each input column is shuffled (scikit-learn's permutation importance).

    The model scored is the one ``predict`` uses (an ensemble as a whole), with :meth:`score`, the
    search metric with greater better (losses negated), so importances are positive when shuffling
    hurts. Use held-out rows: on the rows the model was trained on, the importance also counts what
    it memorised.

    Args:
        model: A fitted :class:`~automl.AutoMLClassifier` or :class:`~automl.AutoMLRegressor`.
        X: Rows, as ``predict`` takes them (bad input raises what ``predict`` raises).
        y: Their target; may be left out when ``X`` holds the target column.
        n_repeats: Shuffles per column.
        random_state: Seed of the shuffles.
        sample_weight: Weight of each row in the metric (as :meth:`score` takes it: values, or a column of ``X``).

    Returns:
        Columns ``feature`` (input column), ``importance_mean`` and ``importance_std`` (over the
        repeats), most important first; ``attrs["metric"]`` names the metric.
    """
    from sklearn.inspection import permutation_importance

    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int | np.integer) or n_repeats < 1:
        raise InvalidParameterError(f"n_repeats must be a whole number >= 1, got {n_repeats!r}; pass e.g. 5")
    model._check_fitted()
    X, _, sample_weight = named_columns(X, None, sample_weight)  # a column's name, as score() and fit take it
    X, y = model._split_target(X, y)
    features = model._features(X)
    model.schema_.transform(features)  # refuses what predict refuses, warns once about what it warns
    features = features[model.schema_.names]
    classes = getattr(model, "classes_", None)
    # every problem of y before the first shuffle: evaluate would find it on each
    scoring_truth(y, len(features), model.task_, model.target_name_, None if classes is None else classes.tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same unseen categories would be reported on every shuffle
        result = permutation_importance(model, features, pd.Series(np.asarray(y)), scoring=_score,
                                        n_repeats=n_repeats, random_state=random_state,
                                        sample_weight=None if sample_weight is None else np.asarray(sample_weight))
    if len(features) and np.isnan(result.importances_mean).all():  # the warnings above were silenced, not this
        from automl._warnings import warn_user

        warn_user(f"feature_importance: {model.metric_.name} is undefined on these {len(features)} row(s) (e.g. one "
                  "class under roc_auc), so every importance is NaN; pass more rows, of every class")
    frame = pd.DataFrame({
        "feature": list(model.schema_.names),
        "importance_mean": result.importances_mean,
        "importance_std": result.importances_std,
    }).sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["metric"] = model.metric_.name
    return frame
