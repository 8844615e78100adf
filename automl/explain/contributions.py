"""``explain``: per-row contributions of each input column (SHAP values) for a fitted model.

Output space (``frame.attrs["output"]``):

- a single LightGBM, histogram-boosting (numeric columns only) or linear model: its raw output,
  explained exactly: the log-odds of the positive class (binary), the raw class score before the
  softmax (multiclass), the value (regression);
- a single random forest or extra-trees model: the probability (value), exactly;
- every other model (k-NN, the nets, histogram boosting with native categories) and ensembles:
  the probability of the class explained (value for regression), with a permutation-sampling
  estimate (:mod:`automl.explain.shapley`) for what has no exact method. An ensemble explains each
  member in that space and adds them by weight (members without an exact method in probability
  space are estimated together, as one weighted function: Shapley values add up).

The class explained (``target``): binary, the positive class ``pos_label_``; multiclass, the class
each row is predicted as, named in the column ``class``; or the class label given. In every case
``contributions.sum(axis=1) + base_value`` equals that output for the row (exactly for exact methods,
to rounding for the estimate, whose base value is the mean output over the background rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.calibration import TemperatureScaled
from automl.exceptions import InvalidParameterError
from automl.explain.exact import exact_contributions, exact_space
from automl.explain.shapley import permutation_shapley
from automl.stacking import StackedModel

__all__ = ["explain"]


def _targets(model: Any, canonical: pd.DataFrame, target: Any) -> tuple[np.ndarray | None, str]:
    """Class index explained for each row (None for regression) and the words naming it."""
    task = model.task_
    if task == "regression":
        if target is not None:
            raise InvalidParameterError(f"target={target!r} names a class, but this is a regression model; "
                                        "leave target out")
        return None, ""
    classes = list(np.asarray(model.classes_).tolist())
    if target is not None:
        if target not in classes:
            raise InvalidParameterError(f"target={target!r} is not a class of this model {classes}; "
                                        "pass one of them, or leave it out")
        return np.full(len(canonical), classes.index(target)), repr(target)
    if task == "binary":
        positive = getattr(model, "pos_label_", classes[1])
        return np.full(len(canonical), classes.index(positive)), repr(positive)
    predicted = np.argmax(model.model_.predict_scores(canonical), axis=1) if len(canonical) else np.zeros(0, int)
    return predicted.astype(int), "the class in column 'class'"


def _output_words(space: str, task: str, named: str) -> str:
    if task == "regression":
        return "predicted value"
    if space == "margin":
        return f"log-odds of {named}" if task == "binary" else f"raw score (before the softmax) of {named}"
    return f"probability of {named}"


def _per_input(pipeline: Any, phi: np.ndarray, owner: dict[str, int], p: int) -> np.ndarray:
    """Encoded-feature contributions summed per input column."""
    out = np.zeros((len(phi), p))
    for k, column in enumerate(pipeline.preprocessor_.feature_columns()):
        out[:, owner[column]] += phi[:, k]
    return out


def _exact_member(pipeline: Any, canonical: pd.DataFrame, background: pd.DataFrame, targets: np.ndarray | None,
                  owner: dict[str, int], p: int) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Exact per-input contributions of one pipeline, checked against its own output (None: estimate)."""
    from automl._threads import limit_threads
    from automl.explain.exact import raw_output

    preprocessor = pipeline.preprocessor_
    Z, Z_background = preprocessor.transform(canonical), preprocessor.transform(background)
    with limit_threads(getattr(pipeline, "n_threads_", 1)):
        found = exact_contributions(pipeline, Z, Z_background, targets)
        if found is None:
            return None
        phi, base, space = found
        reference = raw_output(pipeline, Z, targets)
    if not np.allclose(phi.sum(axis=1) + base, reference, rtol=1e-9, atol=1e-7):
        return None  # an exact method that does not add up is not used: the estimate is
    return _per_input(pipeline, phi, owner, p), base, space


def _members(model: Any, weight: float = 1.0) -> list[tuple[Any, float]]:
    """The fitted pipelines inside ``model`` with their weights: an ensemble's and a bag's members, and an
    ensemble's bags' members, flattened."""
    members = getattr(model, "members", None)
    if members is None:
        return [(model, weight)]
    return [pair for member, w in zip(members, model.weights) for pair in _members(member, weight * w)]


def _unscaled(model: Any) -> tuple[Any, float]:
    """A temperature-scaled single pipeline as ``(the pipeline, T)``: its margins over ``T`` are the scaled model's
    (``softmax(log p / T) == softmax(margin / T)``); anything else as ``(model, 1.0)``."""
    if isinstance(model, TemperatureScaled) and getattr(model.model, "members", None) is None \
            and not isinstance(model.model, StackedModel):
        return model.model, model.temperature
    return model, 1.0


def contributions(model: Any, canonical: pd.DataFrame, background: pd.DataFrame, groups: list[list[str]],
                  targets: np.ndarray | None, *, n_permutations: int,
                  seed: int | None) -> tuple[np.ndarray, np.ndarray, str, str]:
    """``(phi per input column, base, space, method)`` of ``model_`` (a pipeline or an ensemble)."""
    owner = {column: j for j, columns in enumerate(groups) for column in columns}
    members, task = _members(model), model.task if hasattr(model, "task") else model.members[0].task
    phi, base = np.zeros((len(canonical), len(groups))), np.zeros(len(canonical))
    estimated: list[tuple[Any, float]] = []
    methods: list[str] = []
    single = len(members) == 1
    for entry, weight in members:
        member, temperature = _unscaled(entry)
        transform = getattr(getattr(member, "target_transform_", None), "name", "none")
        # a model of f(y) has exact contributions to f(y), not to the prediction: those are estimated
        # a stack's second level reads its base models' predictions too: estimated as a whole
        inexact = isinstance(member, (StackedModel, TemperatureScaled))
        space = exact_space(member.family, task) if transform == "none" and not inexact else None
        if temperature != 1.0 and space != "margin":
            space = None  # a temperature-scaled probability is no sum of the model's: estimated
        found = None
        if space is not None and (single or space == "score"):
            found = _exact_member(member, canonical, background, targets, owner, len(groups))
        if found is None:
            estimated.append((entry, weight))
            continue
        phi += weight * found[0] / temperature  # softmax(margin / T) is the scaled model: its margin is over T
        base += weight * found[1] / temperature
        methods.append(f"{member.family}: exact")
        if single:
            return phi, base, found[2], methods[0]
    if estimated:
        def f(frame: pd.DataFrame) -> np.ndarray:
            return np.asarray(sum(w * m.predict_scores(frame) for m, w in estimated))

        part, part_base = permutation_shapley(f, canonical, background, groups, targets,
                                              n_permutations=n_permutations, seed=seed)
        phi += part
        base += part_base
        methods.append(", ".join(dict.fromkeys(_described(m) for m, _ in estimated))
                       + f": permutation estimate ({n_permutations} permutations, {len(background)} background rows)")
    return phi, base, "score", "; ".join(dict.fromkeys(methods))  # a bag's members: one entry per family


def _described(model: Any) -> str:
    """How a method line names ``model``: its family; a stack by its levels (its family is its second level's)."""
    inner = model.model if isinstance(model, TemperatureScaled) else model
    if isinstance(inner, StackedModel):
        return f"stack of {inner.family} over {', '.join(dict.fromkeys(str(b.family) for b in inner.base))}"
    return str(model.family)


def _free_name(name: str, taken: list[str]) -> str:
    """``name``, or ``name_`` (``name__``, ...) when an input column is called that already.

    Example:
        >>> _free_name("base_value", ["a"]), _free_name("base_value", ["base_value", "base_value_"])
        ('base_value', 'base_value__')
    """
    while name in taken:
        name += "_"
    return name


def explain(model: Any, X: Any, *, background: Any = None, target: Any = None, n_background: int = 100,
            n_permutations: int = 10, random_state: int | None = 0) -> pd.DataFrame:
    """Contributions of each input column to the model's output for each row of ``X``.

    Args:
        model: A fitted :class:`~automl.AutoMLClassifier` or :class:`~automl.AutoMLRegressor`.
        X: Rows to explain, as ``predict`` takes them (bad input raises what ``predict`` raises).
        background: Rows the estimate (and a linear model's base value) compares with, as ``predict``
            takes them; default: ``X`` itself. Never training rows kept in the model: there are none.
        target: Class label explained (classification); default: ``pos_label_`` for binary, each
            row's predicted class for multiclass.
        n_background: Background rows used at most (a seeded sample).
        n_permutations: Permutations per row of the estimate (rounded up to an even number).
        random_state: Seed of the background sample and of the permutations.

    Returns:
        One row per row of ``X``: a column per input column, ``base_value`` and, for multiclass,
        ``class`` (each with ``_`` appended while an input column has the name); ``attrs["output"]`` names the output space, ``attrs["method"]`` how it was computed.

    Example:
        >>> import numpy as np, pandas as pd, automl
        >>> X = pd.DataFrame({"a": np.arange(40.0), "b": np.zeros(40) + np.arange(40) % 3})
        >>> model = automl.AutoMLRegressor(n_trials=1, families=["linear"], cv=2).fit(X, 2 * X["a"])
        >>> frame = model.explain(X.head(3))
        >>> list(frame.columns), frame.attrs["output"]
        (['a', 'b', 'base_value'], 'predicted value')
        >>> np.allclose(frame.sum(axis=1), model.predict(X.head(3)))
        True
    """
    problems = [f"{name} must be a whole number >= 1, got {value!r}; pass e.g. {example}"
                for name, value, example in (("n_background", n_background, 100), ("n_permutations", n_permutations, 10))
                if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1]
    if problems:
        raise InvalidParameterError(problems)
    features = model._features(X)
    schema = model.schema_
    canonical = schema.transform(features)
    reference = canonical if background is None else schema.transform(model._features(background), warn=False)
    if len(reference) == 0 and (background is not None or len(canonical)):  # no rows to explain needs none
        raise InvalidParameterError("background has no rows; pass rows like X, or leave it out")
    reference = reference.sample(min(n_background, len(reference)), random_state=random_state) \
        .reset_index(drop=True)
    targets, named = _targets(model, canonical, target)
    groups = [spec.output_names() for spec in schema.columns]
    if len(canonical):
        phi, base, space, method = contributions(model.model_, canonical, reference, groups, targets,
                                                 n_permutations=n_permutations, seed=random_state)
    else:
        phi, base, space, method = np.zeros((0, len(groups))), np.zeros(0), "score", "none (no rows)"
    index = X.index if isinstance(X, pd.DataFrame) and len(X) == len(phi) else pd.RangeIndex(len(phi))
    frame = pd.DataFrame(phi, columns=schema.names, index=index)
    frame[_free_name("base_value", schema.names)] = base
    if model.task_ == "multiclass":
        frame[_free_name("class", schema.names)] = np.asarray(model.classes_)[targets] if targets is not None else []
    frame.attrs["output"] = _output_words(space, model.task_, named)
    frame.attrs["method"] = method
    if background is None and len(reference) == 1 and "permutation" in method:
        from automl._warnings import warn_user

        warn_user("explain() of one row against itself (background=None: a sample of X) gives every column 0; "
                  "pass background= rows like the training data")
    return frame
