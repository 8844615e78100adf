"""Task inference and class-label encoding.

Example:
    >>> import pandas as pd
    >>> infer_task(pd.Series(["yes", "no", "yes"]))
    'binary'
    >>> infer_task(pd.Series([0.5, 1.7, 2.2]))
    'regression'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl._tasks import TASKS
from automl.data.dtypes import foreign_dtype_problem
from automl.exceptions import DataValidationError, InvalidParameterError

__all__ = ["TASKS", "MAX_CLASSES_FROM_INTEGERS", "infer_task", "check_task", "encode_labels", "target_kind_problems",
           "warn_constant_target"]

#: An integer-valued numeric target with at most this many distinct values is
#: taken as classification (for example wine quality 3..9); above, regression.
MAX_CLASSES_FROM_INTEGERS = 20


def _is_integer_valued(y: pd.Series) -> bool:
    values = y.to_numpy(dtype="float64")
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def infer_task(y: pd.Series) -> str:
    """Guess the task from a target without missing values.

    Rules: booleans, strings, categories and objects are classification; a
    whole-numbered target with two distinct values is binary, with at most
    :data:`MAX_CLASSES_FROM_INTEGERS` multiclass, unless more than half its values
    are distinct (then some class would have one row, which classification refuses:
    ten rows valued 0, 2, ..., 18 are a regression); anything else numeric (values
    that are not whole numbers, two of them included) is regression, so that the
    guess is always a task :func:`check_task` accepts. Override with ``task=``.

    Example:
        >>> infer_task(pd.Series([3, 5, 6, 5, 6, 3])), infer_task(pd.Series([0.0, 0.5, 0.5]))
        ('multiclass', 'regression')
        >>> infer_task(pd.Series([3, 5, 6, 5, 7]))
        'regression'
    """
    foreign = foreign_dtype_problem(y.name, y.dtype, what="target")
    if foreign:  # pandas cannot count its values (string_view, half floats): refused before any guess
        raise DataValidationError(foreign)
    if pd.api.types.is_datetime64_any_dtype(y.dtype) or pd.api.types.is_timedelta64_dtype(y.dtype):
        return "regression"  # dates are not classes; the regression's check says to pass them as numbers
    n_unique = y.nunique(dropna=True)
    numeric = pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)
    if not numeric:
        return "binary" if n_unique <= 2 else "multiclass"
    if not _is_integer_valued(y):
        return "regression"  # classifiers refuse such labels (scikit-learn's "continuous" type)
    if n_unique <= 2:
        return "binary"
    return "multiclass" if n_unique <= MAX_CLASSES_FROM_INTEGERS and 2 * n_unique <= len(y) else "regression"


def check_task(task: str, y: pd.Series, target_name: str, classifier: bool | None = None) -> list[str]:
    """Problems with using ``y`` for ``task`` (empty when it fits).

    Example:
        >>> check_task("regression", pd.Series(["a", "b"]), "label")
        ["task='regression' needs a numeric target, but column 'label' holds str values; use task='binary' or 'multiclass', or convert the target to numbers"]
    """
    problems: list[str] = []
    n_unique = y.nunique(dropna=True)
    numeric = pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)
    if task == "regression":
        if not numeric:
            problems.append(
                f"task='regression' needs a numeric target, but column {target_name!r} holds {y.dtype} values; "
                "use task='binary' or 'multiclass', or convert the target to numbers"
            )
        return problems
    if n_unique < 2:
        only = y.dropna().iloc[0] if len(y.dropna()) else None
        only = only.item() if isinstance(only, np.generic) else only
        problems.append(
            f"target {target_name!r} has a single class ({only!r}); one class cannot be learned: classification needs "
            "at least two classes; "
            "check the target column, or use task='regression' for a numeric target"
        )
        return problems
    if numeric and not _is_integer_valued(y) and classifier:  # task='regression' is the one AutoMLClassifier refuses
        problems.append(
            f"AutoMLClassifier got target {target_name!r} of continuous values ({n_unique} distinct, not whole "
            "numbers); use AutoMLRegressor (or automl.fit, which infers the task) for a regression, or bin the target "
            "into classes first"
        )
    elif numeric and not _is_integer_valued(y):
        problems.append(
            f"target {target_name!r} holds continuous values ({n_unique} distinct, not whole numbers) but task={task!r} "
            "(Unknown label type: continuous); use task='regression', or bin the target into classes first"
        )
    elif task == "binary" and n_unique > 2:
        problems.append(
            f"task='binary' but target {target_name!r} has {n_unique} classes; use task='multiclass'"
        )
    elif task == "multiclass" and n_unique == 2:
        problems.append(f"task='multiclass' but target {target_name!r} has 2 classes; use task='binary'")
    return problems


def validate_task_name(task: object) -> str | None:
    """Check a ``task=`` argument; ``None`` means infer.

    Example:
        >>> validate_task_name("binary")
        'binary'
    """
    if task is None or task in TASKS:
        return task
    raise InvalidParameterError(f"task must be one of {list(TASKS)} or None (infer), got {task!r}")


def encode_labels(y: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Encode class labels to ``0..K-1``; return ``(codes, classes)`` with classes sorted.

    Example:
        >>> codes, classes = encode_labels(pd.Series(["b", "a", "b"]))
        >>> codes.tolist(), classes.tolist()
        ([1, 0, 1], ['a', 'b'])
    """
    values = y.to_numpy()
    try:
        classes, codes = np.unique(values, return_inverse=True)
    except TypeError as exc:  # mixed types that cannot be sorted
        raise DataValidationError(
            f"target {y.name!r} mixes value types ({sorted({type(v).__name__ for v in values})}); "
            "convert it to one type, e.g. y.astype(str)"
        ) from exc
    return codes.astype(np.int64), classes


def target_kind_problems(y: pd.Series, name: object, regression: bool = False) -> list[str]:
    """A target whose values no model learns or scores as they are: complex numbers (their imaginary part would be
    dropped without a word), and for a regression dates and durations (read as nanoseconds).

    Example:
        >>> target_kind_problems(pd.Series([1 + 2j, 3j]), "y")  # doctest: +ELLIPSIS
        ["target 'y' holds complex numbers (complex128)..."]
        >>> target_kind_problems(pd.Series(pd.to_datetime(["2020-01-01"])), "y", regression=True)  # doctest: +ELLIPSIS
        ["target 'y' holds dates or durations (datetime64[...])..."]
    """
    dtype = y.dtype
    foreign = foreign_dtype_problem(name, dtype, what="target")
    if foreign:
        return [foreign]
    if dtype == object:
        nested = y.map(lambda v: isinstance(v, (tuple, list, dict, set, np.ndarray)))
        if nested.any():
            kind = type(y[nested].iloc[0]).__name__
            return [f"target {name!r} holds {kind} values in its cells; a target is one label or number per row: "
                    f"make each a label, e.g. y = y.map(str) (or one number per row for a regression)"]
    if pd.api.types.is_complex_dtype(dtype) or (dtype == object and y.map(lambda v: isinstance(v, complex)).any()):
        return [f"target {name!r} holds complex numbers ({dtype}); a model learns real values: pass its real part "
                f"(y.real), its imaginary part (y.imag) or its magnitude (abs(y))"]
    if regression and (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)):
        return [f"target {name!r} holds dates or durations ({dtype}); a regression learns and scores numbers: pass "
                "them as numbers in the unit you mean, e.g. (y - y.min()).dt.total_seconds() (as classes: task='multiclass')"]
    return []


def warn_constant_target(task: str, y: pd.Series, target_name: str) -> None:
    """Warn that a regression target of one value will be predicted by every model (classification refuses one
    class: :func:`check_task`)."""
    from automl._warnings import warn_user

    if task == "regression" and len(y) and y.nunique(dropna=True) == 1:
        warn_user(f"target {target_name!r} has a single value ({y.dropna().iloc[0]}): every model will predict it; "
                  "check the target column")


def warn_unweighted_classes(task: str, y: pd.Series, weights: np.ndarray | None) -> None:
    """Warn about classes whose every row has weight 0: no model learns them, so they get about no probability
    (a binary target whose weighted rows hold one class is refused instead: :func:`automl.data.validation`).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_unweighted_classes("multiclass", pd.Series(list("abcc")), np.array([1.0, 1.0, 0.0, 0.0]))
        >>> str(caught[0].message)[:40]
        "class(es) 'c' have sample_weight 0 on ev"
    """
    from automl._warnings import warn_user

    if task == "regression" or weights is None:
        return
    weighted = set(y[np.asarray(weights) > 0].dropna().unique())
    unweighted = [c for c in y.dropna().unique() if c not in weighted]
    if unweighted:
        listed = ", ".join(repr(c) for c in unweighted[:5])
        warn_user(f"class(es) {listed} have sample_weight 0 on every row: no model learns them, and predict gives them "
                  "almost no probability; give some of their rows a positive weight, or drop their rows")
