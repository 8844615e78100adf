"""Cross-validation schemes: parse the ``cv=`` argument into a scikit-learn splitter.

Accepted forms:

- ``None`` (the default): 5 folds, stratified for classification; a class
  with fewer than 5 rows (but at least 2) is tolerated with a warning, since
  some validation folds then lack it, and there are never more folds than the
  largest class has rows (stratified folds need it). On small data (at most
  :data:`SMALL_DATA_ROWS` rows, every class with 5 rows or more) the 5 folds
  are repeated twice with another shuffle (``repeated:5x2``): scores of
  small validation folds are noisy, and a second repeat halves their variance.
  Under a time budget the folds follow the work per second of budget
  (``rows x columns / seconds``, as FLAML chooses between CV and holdout,
  times the classes on multiclass data, where a booster grows one tree per
  class each round; the caller counts a free-text column by its length,
  :func:`automl.data.text.text_cells`, since every fold encodes it, once a
  search with :mod:`automl.data.text_cache`):
  repeated folds only up to :data:`REPEATED_MAX_WORK`, 5 folds up to
  :data:`FIVE_FOLDS_MAX_WORK`, 3 folds above it, and one holdout of
  :data:`LARGE_HOLDOUT_FRACTION` of the rows from :data:`HOLDOUT_MIN_WORK` on
  large data (at least :data:`HOLDOUT_MIN_ROWS` rows, so the holdout scores on
  10,000 rows or more), so that a short budget still pays for enough trials;
- an int ``k`` >= 2: stratified k-fold for classification, k-fold for
  regression (shuffled, seeded); group k-fold when ``groups`` are given;
- a float in (0, 1): one holdout split of that fraction;
- ``"kfold:K"``, ``"repeated:KxR"`` (K folds repeated R times), ``"group:K"``,
  ``"time:K"`` (time-series split, rows in time order), ``"holdout:F"``;
- ``"group:COLUMN"`` (groups from that column, which leaves the features) and ``"group"``: 5 folds, or
  one per group when there are fewer (at least 2); so is the default when ``groups`` are given. A count
  the user wrote (``"group:5"``, ``cv=5`` with ``groups``) is kept, and refused if there are fewer groups;
- a number as text (``"5"``, ``"0.2"``) is the number itself, as the command line gives it;
- any object with ``split`` and ``get_n_splits`` (a scikit-learn splitter);
- an iterable of ``(train, test)`` index arrays, as scikit-learn's ``check_cv`` takes (read once).

Example:
    >>> plan = make_cv_plan(3, "binary", seed=0)
    >>> plan.description, plan.n_splits
    ('stratified_kfold:3', 3)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import math
import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn import model_selection as ms

from automl.exceptions import DataValidationError, InvalidParameterError

__all__ = ["CVPlan", "CVSpec", "IndexSplits", "count_groups", "make_cv_plan", "parse_cv", "CV_FORMS", "SMALL_DATA_ROWS", "REPEATED_MAX_WORK", "FIVE_FOLDS_MAX_WORK",
           "HOLDOUT_MIN_WORK", "HOLDOUT_MIN_ROWS", "LARGE_HOLDOUT_FRACTION"]

#: With ``cv=None``, data of at most this many rows get 5 folds repeated twice.
SMALL_DATA_ROWS = 2500
#: With ``cv=None`` and a time budget: most cells (rows x columns, times the classes on multiclass data) per second of
#: budget for repeated folds.
REPEATED_MAX_WORK = 500.0
#: With ``cv=None`` and a time budget: most cells per second of budget for 5 folds (3 folds above).
FIVE_FOLDS_MAX_WORK = 2000.0
#: With ``cv=None`` and a time budget: from this many cells per second of budget on, data of at least
#: :data:`HOLDOUT_MIN_ROWS` rows get one holdout split (FLAML's rule too: one fit per trial, so that large
#: data gets a real search; its validation rows are many enough to rank trials).
HOLDOUT_MIN_WORK = 30_000.0
HOLDOUT_MIN_ROWS = 100_000
LARGE_HOLDOUT_FRACTION = 0.1

CV_FORMS = (
    "None (5 folds), a number of folds k >= 2 (5 or '5'), a holdout fraction in (0, 1) (0.2 or '0.2'), 'kfold:K', "
    "'repeated:KxR', 'group:K', 'group:COLUMN', 'time:K', 'holdout:F', a scikit-learn splitter, or (train, test) index pairs"
)


@dataclass
class CVPlan:
    """A splitter and what the data must satisfy for it.

    Attributes:
        splitter: The scikit-learn splitter.
        description: Short text for logs and fingerprints (``stratified_kfold:5``).
        n_splits: Number of train/validation splits.
        needs_groups: Whether ``groups`` are required.
        min_rows: Fewest rows the scheme can work with.
        min_per_class: Fewest rows each class needs (classification).
    """

    splitter: Any
    description: str
    n_splits: int
    needs_groups: bool = False
    min_rows: int = 2
    min_per_class: int = 1
    lenient_classes: bool = False

    def splits(self, n_rows: int, y: np.ndarray, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Materialise the splits once, so every trial sees the same folds."""
        X_dummy = np.zeros((n_rows, 1))
        try:
            with warnings.catch_warnings():  # small classes are reported by data_warnings instead
                warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
                return [(np.asarray(tr), np.asarray(va)) for tr, va in self.splitter.split(X_dummy, y, groups)]
        except Exception as exc:  # noqa: BLE001 - a splitter of yours may raise anything; it is refused by name
            raise DataValidationError(
                f"cv={self.description} cannot split this data: {type(exc).__name__}: {exc}"
            ) from exc

    def _small_classes(self, y: Any, below: int) -> list[tuple[str, int]]:
        values, counts = np.unique(np.asarray(y, dtype=object).astype(str), return_counts=True)
        return [(v, int(c)) for v, c in zip(values, counts) if c < below]

    def _holdout_class_problems(self, y: Any, n: int) -> list[str]:
        """A stratified holdout puts a row of every class in each part (scikit-learn refuses it otherwise): its
        validation part, ``ceil(fraction x n)`` rows, and its training part need at least as many rows as classes."""
        classes = len(np.unique(np.asarray(y, dtype=object).astype(str)))
        size = self.splitter.test_size
        n_valid = math.ceil(float(size) * n) if isinstance(size, float) else int(size)
        if min(n_valid, n - n_valid) >= classes:
            return []
        if n < 2 * classes:
            fix = "more rows"
        elif n_valid < classes:
            fix = f"a larger fraction (cv={math.ceil(100 * classes / n) / 100:g} or more)"
        else:
            fix = f"a smaller fraction (cv={math.floor(100 * (n - classes) / n) / 100:g} or less)"
        return [f"cv={self.description} puts {n_valid} of the {n} rows in the validation part and {n - n_valid} in "
                f"the training part, but each needs a row of every one of the {classes} classes; use {fix}, or "
                "folds (cv=3)"]

    def data_warnings(self, y: Any, task: str) -> list[str]:
        """What works but deserves a warning: classes smaller than the folds under ``cv=None``."""
        if task == "regression" or not self.lenient_classes:
            return []
        small = self._small_classes(y, self.n_splits)
        if not small:
            return []
        listed = ", ".join(f"'{v}' ({c} rows)" for v, c in small[:5])
        return [
            f"class(es) {listed} have fewer rows than the {self.n_splits} folds, so some validation folds "
            f"do not contain them; pass cv={min(c for _, c in small)} to have them in every fold"
        ]

    def data_problems(self, y: Any, task: str, groups: Any) -> list[str]:
        """Problems the data has with this scheme (rows, class sizes, groups)."""
        problems = []
        n = len(y)
        if n < self.min_rows:
            problems.append(
                f"{n} row(s) (n_samples={n}) but cv={self.description} needs at least {self.min_rows}; "
                "add rows or use fewer folds (e.g. cv=2 or cv=0.2)"
            )
        if task != "regression" and self.min_per_class > 1 and n >= self.min_rows:
            small = self._small_classes(y, self.min_per_class)
            if small:
                listed = ", ".join(f"'{v}' ({c} rows)" for v, c in small[:5])
                fewest = int(min(c for _, c in small))
                fix = (f"use fewer folds (cv={fewest} or a holdout cv=0.2), or merge or drop the rare classes"
                       if fewest >= 2 else "merge or drop the classes of one row: every split (folds or a holdout) "
                       "needs 2 rows of a class, one to train on and one to validate")
                if _numbers(y):  # whole numbers read as classes: a count or an amount may be meant
                    fix += ("; or, if the target is a quantity rather than classes, fit a regression "
                            "(task='regression', or AutoMLRegressor)")
                problems.append(
                    f"class(es) {listed} have fewer rows than the {self.min_per_class} that cv={self.description} "
                    f"needs per class; {fix}"
                )
        if task != "regression" and isinstance(self.splitter, ms.StratifiedShuffleSplit) and n >= self.min_rows:
            problems += self._holdout_class_problems(y, n)
        if self.needs_groups and groups is None:
            problems.append(f"cv={self.description} needs groups; pass groups= (a column name or one label per row; "
                            "in a sweep file groups: COLUMN), or name the column in cv='group:COLUMN' (on the "
                            "command line --cv group:COLUMN)")
        if groups is not None and self.needs_groups:
            n_groups = count_groups(groups)
            if n_groups < self.n_splits:
                fix = f"use cv='group:{n_groups}', or more groups" if n_groups >= 2 else "give the rows at least 2 groups"
                problems.append(
                    f"groups has {n_groups} distinct group(s) but cv={self.description} needs at least {self.n_splits}; "
                    f"{fix}"
                )
        return problems


@dataclass(frozen=True)
class CVSpec:
    """A parsed ``cv=`` value: the one grammar every entry point reads (see :func:`parse_cv`).

    Attributes:
        kind: ``default`` (None), ``folds`` (a number k), ``kfold``, ``group``, ``time``,
            ``holdout``, ``repeated`` or ``splitter`` (a scikit-learn splitter).
        folds: Number of folds (K).
        repeats: Repeats of ``repeated:KxR``.
        fraction: Holdout fraction.
        column: The group column of ``group:COLUMN``.
        splitter: The scikit-learn splitter of kind ``splitter``.
        folds_given: Whether the user wrote the folds count (``group:COLUMN`` and ``group`` do not:
            their 5 folds shrink to the number of groups).
    """

    kind: str
    folds: int = 5
    repeats: int = 2
    fraction: float = 0.0
    column: str | None = None
    splitter: Any = None
    folds_given: bool = True


class IndexSplits:
    """Fixed ``(train, test)`` index arrays as a splitter (``cv=`` given as a list of pairs).

    Example:
        >>> splits = IndexSplits([([0, 1], [2]), ([1, 2], [0])])
        >>> splits.get_n_splits(), [test.tolist() for _, test in splits.split(np.zeros((3, 1)))]
        (2, [[2], [0]])
    """

    def __init__(self, pairs: Any) -> None:
        self.pairs = [(np.asarray(train), np.asarray(test)) for train, test in pairs]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return len(self.pairs)

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
        n = len(X)
        for i, (train, test) in enumerate(self.pairs):
            for name, index in (("train", train), ("test", test)):
                if len(index) and (index.min() < 0 or index.max() >= n):
                    raise ValueError(f"split {i}'s {name} indices go from {index.min()} to {index.max()}, but the "
                                     f"data has {n} rows (indices 0 to {n - 1})")
            yield train.copy(), test.copy()

    def __repr__(self) -> str:
        return f"IndexSplits({len(self.pairs)} splits)"


def _index_pairs(cv: object) -> CVSpec:
    """``cv`` as fixed ``(train, test)`` index pairs, each checked (as scikit-learn's ``check_cv`` takes them)."""
    try:
        pairs = list(cv)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidParameterError(f"cv must be {CV_FORMS}; got {cv!r} of type {type(cv).__name__}") from None
    for i, pair in enumerate(pairs):
        parts = list(pair) if isinstance(pair, (tuple, list)) else None
        arrays = [np.asarray(p) for p in parts] if parts is not None and len(parts) == 2 else None
        if arrays is None or any(a.ndim != 1 or a.dtype.kind not in "iu" for a in arrays):
            raise InvalidParameterError(
                f"cv as (train, test) pairs: item {i} is not a pair of 1-D integer index arrays (got {pair!r:.80}); "
                "pass e.g. list(KFold(5).split(X)), or a splitter"
            )
        if not len(arrays[0]) or not len(arrays[1]):
            raise InvalidParameterError(f"cv as (train, test) pairs: split {i} has an empty train or test part")
    if not pairs:
        raise InvalidParameterError("cv as (train, test) pairs holds no split (an iterator read already?); "
                                    "pass a list of pairs")
    return CVSpec("splitter", folds=len(pairs), splitter=IndexSplits(pairs))


def _positive_int(text: str, cv: object, what: str = "folds", least: int = 2) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidParameterError(f"cv={cv!r}: {text!r} is not a whole number; cv must be {CV_FORMS}") from None
    if value < least:
        raise InvalidParameterError(f"cv={cv!r}: needs at least {least} {what}, got {value}")
    return value


def _fraction(text: str | float, cv: object) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameterError(f"cv={cv!r}: {text!r} is not a number; cv must be {CV_FORMS}") from None
    if not 0 < value < 1:
        raise InvalidParameterError(f"cv={cv!r}: a holdout fraction must be between 0 and 1 (exclusive), got {value}")
    return value


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_cv(cv: object) -> CVSpec:
    """Parse a ``cv=`` value; every entry point (``automl.fit``, the estimators, sweep files and
    ``automl fit --cv``) reads it through this one function, so they accept and refuse the same
    spellings with the same messages.

    Raises:
        InvalidParameterError: ``cv`` is not one of the accepted forms (the message lists them).

    Example:
        >>> parse_cv("5") == parse_cv(5), parse_cv("0.2") == parse_cv(0.2)
        (True, True)
        >>> parse_cv("group:customer").column, parse_cv("repeated:5x3").repeats
        ('customer', 3)
        >>> parse_cv([([0, 1], [2, 3]), ([2, 3], [0, 1])]).splitter
        IndexSplits(2 splits)
        >>> parse_cv("kfold:1")
        Traceback (most recent call last):
        ...
        automl.exceptions.InvalidParameterError: cv='kfold:1': needs at least 2 folds, got 1
    """
    if isinstance(cv, CVSpec):
        return cv
    if cv is None:
        return CVSpec("default")
    if hasattr(cv, "split") and hasattr(cv, "get_n_splits"):
        return CVSpec("splitter", splitter=cv)
    if isinstance(cv, Iterable) and not isinstance(cv, (str, bytes, Mapping)):
        return _index_pairs(cv)
    if isinstance(cv, (bool, np.bool_)) or not isinstance(cv, (numbers.Real, str)):
        raise InvalidParameterError(f"cv must be {CV_FORMS}; got {cv!r} of type {type(cv).__name__}")
    if isinstance(cv, numbers.Integral):  # numpy integers too
        return CVSpec("folds", folds=_positive_int(str(int(cv)), int(cv)))
    text = str(cv).strip()
    if isinstance(cv, numbers.Real) or (not text.isdigit() and _is_number_text(text)):  # "5.0" reads as 5.0 does
        if float(text).is_integer() and float(text) >= 2:
            raise InvalidParameterError(f"cv={cv!r}: a fraction is a holdout share between 0 and 1; for "
                                        f"{int(float(text))} folds write cv={int(float(text))}")
        return CVSpec("holdout", fraction=_fraction(text, cv))
    if text.isdigit():
        return CVSpec("folds", folds=_positive_int(text, cv))
    kind, colon, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind == "kfold":
        return CVSpec("kfold", folds=_positive_int(arg or "5", cv))
    if kind == "group":
        if arg and not arg.strip().isdigit():
            return CVSpec("group", column=arg, folds_given=False)
        if colon and not arg.strip():  # "group:" names neither a column nor a count: not silently group:5
            raise InvalidParameterError(f"cv={cv!r} names no group column; write cv='group:COLUMN' (the column whose "
                                        "values keep rows together), cv='group:K' with groups=, or cv='group'")
        return CVSpec("group", folds=_positive_int(arg or "5", cv), folds_given=bool(arg.strip()))
    if kind == "holdout":
        if not arg.strip():
            raise InvalidParameterError(f"cv={cv!r} names no fraction; write cv='holdout:0.2' (the share of rows "
                                        "held out)")
        return CVSpec("holdout", fraction=_fraction(arg, cv))
    if kind == "time":
        return CVSpec("time", folds=_positive_int(arg or "5", cv))
    if kind == "repeated":
        folds, _, repeats = arg.lower().partition("x")
        return CVSpec("repeated", folds=_positive_int(folds, cv),
                      repeats=_positive_int(repeats or "2", cv, what="repeats", least=1))
    raise InvalidParameterError(f"cv={cv!r} is not understood; cv must be {CV_FORMS}")


def _trees_per_round(y: Any, task: str) -> int:
    """Trees a booster grows per boosting round: one per class on multiclass data, else one."""
    if task != "multiclass":
        return 1
    return max(1, len(pd.unique(np.asarray(y, dtype=object))))


def count_groups(groups: Any) -> int:
    """Distinct groups among ``groups`` (one label per row; labels compared as text).

    Example:
        >>> count_groups(["a", "b", "a", 3, "3"])
        3
    """
    return len(np.unique(np.asarray(groups, dtype=object).astype(str)))


def make_cv_plan(cv: object, task: str, *, seed: int = 0, has_groups: bool = False, y: Any = None,
                 time_budget: float | None = None, n_columns: float | None = None,
                 n_groups: int | None = None) -> CVPlan:
    """Build the :class:`CVPlan` for a ``cv=`` argument (any form :func:`parse_cv` reads).

    ``y`` (the target, when known) lets ``cv=None`` choose repeated folds on small data;
    ``time_budget`` (seconds) and ``n_columns`` let it choose fewer folds when the
    budget is short for the data (see the module docstring). ``group:COLUMN`` is planned as
    ``group:5`` (the groups come from that column). ``n_groups`` (the distinct groups, when known)
    lets the default and ``group``/``group:COLUMN`` use fewer folds where there are fewer groups.

    Raises:
        InvalidParameterError: ``cv`` is not one of the accepted forms.

    Example:
        >>> make_cv_plan("repeated:5x2", "regression").n_splits
        10
        >>> make_cv_plan(None, "regression", y=np.arange(100.0)).description
        'repeated:5x2'
        >>> make_cv_plan(None, "regression", y=np.arange(20_000.0), time_budget=60, n_columns=12).description
        'kfold:3'
        >>> make_cv_plan(None, "binary", y=np.arange(1_000_000) % 2, time_budget=300, n_columns=20).description
        'holdout:0.1'
        >>> make_cv_plan("group:store", "regression", n_groups=3).description
        'group:3'
    """
    spec = parse_cv(cv)
    classification = task != "regression"
    work = 0.0
    if time_budget is not None and y is not None and n_columns is not None:
        work = len(y) * n_columns * _trees_per_round(y, task) / max(float(time_budget), 1e-9)
    if spec.kind == "default":
        if not has_groups and y is not None and _small(y, classification) and work <= REPEATED_MAX_WORK:
            return make_cv_plan("repeated:5x2", task, seed=seed)
        if not has_groups and work >= HOLDOUT_MIN_WORK and y is not None and len(y) >= HOLDOUT_MIN_ROWS:
            return _holdout(LARGE_HOLDOUT_FRACTION, classification, seed)
        k = 5 if work <= FIVE_FOLDS_MAX_WORK else 3
        if classification and not has_groups and y is not None:
            k = min(k, max(2, _largest_class(y)))  # stratified folds need a class with a row in every fold
        if has_groups:
            k = _fewer_for_groups(k, n_groups)
        plan = _kfold(k, classification, seed, has_groups)
        if classification and not has_groups:
            plan.min_per_class, plan.lenient_classes = 2, True
        return plan
    if spec.kind == "splitter":
        try:
            n = int(spec.splitter.get_n_splits())
        except TypeError:
            n = 1
        if isinstance(spec.splitter, IndexSplits):
            return CVPlan(spec.splitter, f"index_splits:{n}", n)
        return CVPlan(spec.splitter, type(spec.splitter).__name__, n, min_rows=max(2, n))
    if spec.kind == "holdout":
        return _holdout(spec.fraction, classification, seed)
    if spec.kind in ("folds", "kfold", "group"):
        groups = has_groups if spec.kind == "folds" else spec.kind == "group"
        k = spec.folds if spec.folds_given else _fewer_for_groups(spec.folds, n_groups)
        return _kfold(k, classification, seed, groups)
    if spec.kind == "time":
        k = spec.folds
        return CVPlan(ms.TimeSeriesSplit(n_splits=k), f"time:{k}", k, min_rows=k + 1)
    k, r = spec.folds, spec.repeats
    cls = ms.RepeatedStratifiedKFold if classification else ms.RepeatedKFold
    return CVPlan(
        cls(n_splits=k, n_repeats=r, random_state=seed), f"repeated:{k}x{r}", k * r, min_rows=k,
        min_per_class=k if classification else 1,
    )


def _numbers(y: Any) -> bool:
    """Whether the target's labels are numbers (not text, not booleans), more than two of them."""
    values = pd.Series(np.asarray(y, dtype=object)).dropna()
    return values.nunique() > 2 and all(isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_))
                                     for v in values.iloc[:100])


def _fewer_for_groups(k: int, n_groups: int | None) -> int:
    """``k`` folds, or one per group where there are fewer groups (a group must fill a validation fold);
    fewer than 2 groups leave ``k`` for the plan's check to refuse."""
    return min(k, n_groups) if n_groups is not None and n_groups >= 2 else k


def _small(y: Any, classification: bool) -> bool:
    """Whether ``y`` is small enough for repeated folds (and every class fills 5 folds)."""
    values = np.asarray(y)
    if len(values) > SMALL_DATA_ROWS or len(values) < 10:
        return False
    if not classification:
        return True
    _, counts = np.unique(values.astype(str), return_counts=True)
    return bool(counts.min() >= 5)


def _largest_class(y: Any) -> int:
    """Rows of the most frequent class of ``y`` (missing values left out)."""
    values = pd.Series(np.asarray(y, dtype=object)).dropna().astype(str)
    return int(values.value_counts().max()) if len(values) else 0


def _kfold(k: int, classification: bool, seed: int, groups: bool) -> CVPlan:
    if groups:
        if classification:
            splitter = ms.StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            splitter = ms.GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return CVPlan(splitter, f"group:{k}", k, needs_groups=True, min_rows=k)
    if classification:
        return CVPlan(
            ms.StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), f"stratified_kfold:{k}", k,
            min_rows=k, min_per_class=k,
        )
    return CVPlan(ms.KFold(n_splits=k, shuffle=True, random_state=seed), f"kfold:{k}", k, min_rows=k)


def _holdout(fraction: float, classification: bool, seed: int) -> CVPlan:
    cls = ms.StratifiedShuffleSplit if classification else ms.ShuffleSplit
    splitter = cls(n_splits=1, test_size=fraction, random_state=seed)
    return CVPlan(splitter, f"holdout:{fraction:g}", 1, min_rows=4, min_per_class=2 if classification else 1)
