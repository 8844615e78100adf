"""Bad input to ``automl.fit`` and the estimators: one typed error, a helpful message, nothing written.

Every case runs with MLflow tracking ON (``AUTOML_TRACKING=1``, ``MLFLOW_TRACKING_URI`` a
SQLite store in a folder of its own, outside the working directory, one store for the
module) and passes ``study_name="bad"``, so a study journal *would* be written in the
working directory and an MLflow run in the store if validation let the call through.
Each case runs in an empty temporary directory and checks afterwards: the store holds
no new run (counted with ``MlflowClient`` across every experiment) and no new registered
model, and the working directory is still empty (no study file, no model folder, no
``mlruns``). ``n_trials=1, families=["linear"]`` keep an unexpected success fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions

import automl
from automl._device import gpu_ruled_out

N = 30  # rows of the default frames


# -- tiny frames ---------------------------------------------------------------------------------
def _features(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})


def binary_frame(n: int = N) -> pd.DataFrame:
    df = _features(n)
    df["y"] = np.arange(n) % 2
    return df


def multiclass_frame(n: int = N) -> pd.DataFrame:
    df = _features(n)
    df["y"] = np.array(["red", "green", "blue"])[np.arange(n) % 3]
    return df


def regression_frame(n: int = N) -> pd.DataFrame:
    df = _features(n)
    df["y"] = df["a"] * 2.5 + 0.1
    return df


def _with(df: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    df = df.copy()
    for name, values in columns.items():
        df[name] = values
    return df


def _dup_columns() -> pd.DataFrame:
    df = binary_frame()
    return pd.DataFrame(df.to_numpy(), columns=["a", "a", "y"]).astype({"y": int})


def _non_string_columns() -> pd.DataFrame:
    df = binary_frame()
    df.columns = [0, "b", "y"]  # all-integer names are read as an array's (x0, x1); mixed ones are refused
    return df


def _multiindex_columns() -> pd.DataFrame:
    df = binary_frame()
    df.columns = pd.MultiIndex.from_tuples([("a", "x"), ("b", "x"), ("y", "")])
    return df


def _rare_class() -> pd.DataFrame:
    df = _features(N)
    df["y"] = ["common"] * (N - 2) + ["rare"] * 2
    return df


def _tz_aware() -> pd.DataFrame:
    return _with(binary_frame(), t=pd.date_range("2024-01-01", periods=N, freq="D", tz="Europe/Paris"))


def _groups_frame() -> pd.DataFrame:
    return _with(binary_frame(), group=np.arange(N) % 6)


# -- cases ---------------------------------------------------------------------------------------
FAST = dict(n_trials=1, families=["linear"], study_name="bad", n_jobs=1)


@dataclass
class Case:
    """One bad call: ``call()`` must raise ``error`` whose message holds ``names`` and ``hints``."""

    call: Callable[[], Any]
    error: type | tuple[type, ...]
    names: list[str]  # the column / argument the message must name
    hints: list[str]  # how to fix it
    absent: list[str] = field(default_factory=list)  # must NOT be in the message


def fit_case(data: Callable[[], Any], error, names, hints, *, target: Any = "y", **kwargs: Any) -> Case:
    settings = {**FAST, **kwargs}
    return Case(lambda: automl.fit(data(), target=target, **settings), error, names, hints)


def estimator_case(cls_name: str, X: Callable[[], Any], y: Callable[[], Any], error, names, hints,
                   **kwargs: Any) -> Case:
    settings = {**FAST, "tracking": True, **kwargs}  # the estimators do not track by default: here they do

    def call() -> Any:
        return getattr(automl, cls_name)(**settings).fit(X(), y())

    return Case(call, error, names, hints)


def _absent(case: Case, *texts: str) -> Case:
    case.absent.extend(texts)
    return case


def _lazy(name: str):
    return getattr(automl, name)


DVE = _lazy("DataValidationError")
IPE = _lazy("InvalidParameterError")
ITE = _lazy("InputTypeError")
UNE = _lazy("UnknownNameError")

CASES = [
    # --- the data frame itself
    pytest.param(
        fit_case(lambda: binary_frame().iloc[:0], DVE, ["X", "0 rows"], ["pass a frame with rows"]),
        id="empty-frame-no-rows",
    ),
    pytest.param(
        fit_case(lambda: pd.DataFrame(), DVE, ["empty"], ["pass a frame with rows"]),
        id="empty-frame-no-columns",
    ),
    pytest.param(
        fit_case(lambda: binary_frame()[["y"]], DVE, ["0 feature(s)"],
                 ["at least one column besides the target"]),
        id="only-target-column",
    ),
    pytest.param(
        fit_case(lambda: binary_frame().rename(columns={"y": "target"}), DVE, ["target=", "'targte'"],
                 ["did you mean 'target'"], target="targte"),
        id="target-missing-near-miss",
    ),
    pytest.param(  # before: pandas' "unhashable type: 'numpy.ndarray'" from inside the task's inference
        fit_case(binary_frame, ITE, ["target=0 (int)", "unknown column '0'"],
                 ["the name of a column of data (a string)", "the target's values (one per row)"], target=0),
        id="target-a-number-that-is-not-a-column",
    ),
    pytest.param(
        fit_case(binary_frame, ITE, ["target=<NA>"], ["the name of a column of data"], target=pd.NA),
        id="target-pd-na",
    ),
    pytest.param(  # before, from Python: "unknown column 'y'" (the target had left the features)
        _absent(fit_case(binary_frame, IPE, ["cv='group:y'", "'y' is the target"],
                         ["pass cv='group:COLUMN' with another column"], cv="group:y"), "unknown column"),
        id="cv-groups-from-the-target",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), y=np.nan), DVE, ["'y'", "entirely missing"],
                 ["every row needs a target value"]),
        id="target-all-nan",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), y=1), DVE, ["'y'", "single class"], ["at least two classes"]),
        id="single-class",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), y="spam"), DVE, ["'y'", "single class ('spam')"],
                 ["at least two classes"]),
        id="single-class-string-label",
    ),
    pytest.param(
        _absent(fit_case(lambda: _with(binary_frame(), y=1), DVE, ["single class (1)"], ["at least two classes"]),
                "np.int64"),
        id="single-class-label-rendered-plainly",
    ),
    pytest.param(
        fit_case(_rare_class, DVE, ["'rare'", "(2 rows)", "cv="], ["use fewer folds", "cv=2"], cv=5),
        id="class-smaller-than-folds",
    ),
    pytest.param(
        _absent(fit_case(_rare_class, DVE, ["class(es) 'rare' (2 rows)"], ["use fewer folds"], cv=5), "np.str_"),
        id="class-smaller-than-folds-label-rendered-plainly",
    ),
    pytest.param(
        fit_case(lambda: regression_frame(3), DVE, ["3 row(s)", "cv=kfold:5"], ["fewer folds"], cv=5),
        id="fewer-rows-than-folds-regression",
    ),
    pytest.param(
        fit_case(_dup_columns, DVE, ["duplicate column names ['a']"], ["unique name"]),
        id="duplicate-column-names",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), b=[np.inf] + [0.5] * (N - 1)), DVE,
                 ["column 'b'", "infinite"], ["replace them"]),
        id="infinite-feature",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), y=[np.inf] + [0.5, 1.5] * 14 + [2.0]), DVE,
                 ["target 'y'", "infinite"], ["drop or fix those rows"]),
        id="infinite-target",
    ),
    pytest.param(  # float32 (the boosters' labels, the out-of-fold predictions) holds it as infinite
        fit_case(lambda: _with(regression_frame(), y=np.linspace(-2e160, 3e160, N)), DVE,
                 ["target 'y' reaches 3e+160", "past float32's range"], ["df['y'] = df['y'] / 1e+161"]),
        id="target-past-float32",
    ),
    pytest.param(  # float32 reads it as 0
        fit_case(lambda: _with(regression_frame(), y=np.linspace(-2e-200, 3e-200, N)), DVE,
                 ["target 'y' is at most 3e-200", "below float32's smallest"], ["df['y'] = df['y'] * 1e+200"]),
        id="target-below-float32",
    ),
    pytest.param(
        fit_case(lambda: binary_frame().to_dict("records"), ITE, ["data", "list"], ["DataFrame"]),
        id="data-is-list",
    ),
    pytest.param(
        fit_case(lambda: binary_frame().to_dict("list"), ITE, ["data", "dict"], ["DataFrame"]),
        id="data-is-dict",
    ),
    pytest.param(
        estimator_case("AutoMLClassifier", lambda: binary_frame()[["a", "b"]].to_dict("records"),
                       lambda: binary_frame()["y"], ITE, ["X must be", "list", "records"], ["pd.DataFrame(data)"]),
        id="estimator-X-is-list-of-records",
    ),
    pytest.param(
        estimator_case("AutoMLClassifier", lambda: binary_frame()[["a", "b"]],
                       lambda: binary_frame()[["y", "y"]], ITE, ["y must be one column"], ["Series or 1-D array"]),
        id="estimator-y-is-frame",
    ),
    pytest.param(
        estimator_case("AutoMLRegressor", lambda: regression_frame()[["a", "b"]],
                       lambda: regression_frame()["y"].iloc[:-5], DVE, ["y has 25 values", "30 rows"],
                       ["one target value per row"]),
        id="estimator-y-length-mismatch",
    ),
    pytest.param(
        fit_case(_non_string_columns, DVE, ["column names must be strings", "[0]"], ["astype(str)"]),
        id="non-string-column-names",
    ),
    pytest.param(
        fit_case(_multiindex_columns, DVE, ["MultiIndex columns"], ["flatten them"]),
        id="multiindex-columns",
    ),
    pytest.param(  # the target named by its tuple: one problem, not also "y has 2 values" (the tuple read as values)
        _absent(fit_case(_multiindex_columns, DVE, ["MultiIndex columns"], ["flatten them"], target=("y", "")),
                "values but X has"),
        id="multiindex-columns-tuple-target",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), c=np.arange(N) + 1j), DVE, ["column 'c'", "complex"],
                 ["real and imaginary"]),
        id="complex-numbers",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), d=[{"k": i} for i in range(N)]), DVE, ["column 'd'", "dict"],
                 ["json_normalize"]),
        id="dict-cells",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), b=np.nan), DVE, ["column 'b'", "entirely missing"],
                 ["drop it"]),
        id="all-missing-feature",
    ),
    pytest.param(
        fit_case(_tz_aware, DVE, ["column 't'", "time-zone-aware"], ["tz_convert(None)"]),
        id="tz-aware-datetimes",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), b=np.nan, c=np.arange(N) + 1j), DVE,
                 ["2 problems", "column 'b'", "column 'c'"], ["drop it", "real and imaginary"]),
        id="several-data-problems",
    ),
    # --- task
    pytest.param(
        fit_case(regression_frame, DVE, ["'y'", "continuous"], ["task='regression'"], task="binary"),
        id="continuous-target-task-binary",
    ),
    pytest.param(
        fit_case(multiclass_frame, DVE, ["task='binary'", "3 classes"], ["task='multiclass'"], task="binary"),
        id="three-classes-task-binary",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["task must be one of", "'bianry'"], ["'binary'"], task="bianry"),
        id="unknown-task",
    ),
    # --- metric
    pytest.param(
        fit_case(binary_frame, (IPE, UNE), ["metric 'roc_aux'"], ["did you mean 'roc_auc'"], metric="roc_aux"),
        id="unknown-metric-near-miss",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["metric='rmse'", "binary"], ["Metrics for binary", "roc_auc"], metric="rmse"),
        id="regression-metric-for-classification",
    ),
    pytest.param(
        fit_case(multiclass_frame, IPE, ["metric='f1'", "multiclass"], ["f1_macro"], metric="f1"),
        id="f1-on-multiclass",
    ),
    pytest.param(
        fit_case(regression_frame, IPE, ["metric='roc_auc'", "regression"], ["Metrics for regression", "rmse"],
                 metric="roc_auc"),
        id="classification-metric-for-regression",
    ),
    # --- families
    pytest.param(
        fit_case(binary_frame, (IPE, UNE), ["family 'lightgmb'"], ["did you mean 'lightgbm'"],
                 families=["lightgmb"]),
        id="unknown-family-near-miss",
    ),
    pytest.param(
        _absent(fit_case(binary_frame, (IPE, UNE), ["family 'lightgmb'"], ["Known families:"],
                         families=["lightgmb"]), "familys"),
        id="unknown-family-lists-known-families",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["families="], ["name at least one family"], families=[]),
        id="empty-families",
    ),
    # --- budget and trials
    pytest.param(
        fit_case(binary_frame, IPE, ["time_budget", "got 0"], ["time_budget=60"], time_budget=0),
        id="time-budget-zero",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["time_budget", "got -5"], ["time_budget=60"], time_budget=-5),
        id="time-budget-negative",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["n_trials", "got 0"], ["n_trials=40"], n_trials=0),
        id="n-trials-zero",
    ),
    # --- cross-validation
    pytest.param(
        fit_case(binary_frame, IPE, ["cv='fold:3'"], ["'kfold:K'"], cv="fold:3"),
        id="cv-unknown-scheme",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["cv=1"], ["at least 2 folds"], cv=1),
        id="cv-one-fold",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["cv=1.5"], ["between 0 and 1"], cv=1.5),
        id="cv-fraction-above-one",
    ),
    pytest.param(
        fit_case(_groups_frame, DVE, ["groups='gruop'"], ["did you mean 'group'"], groups="gruop"),
        id="groups-column-missing",
    ),
    pytest.param(
        fit_case(_groups_frame, DVE, ["'gruop'", "unknown column"], ["did you mean 'group'"], cv="group:gruop"),
        id="cv-group-column-missing",
    ),
    # --- other settings
    pytest.param(
        fit_case(binary_frame, IPE, ["storage='ftp://x'"], [".journal"], storage="ftp://x"),
        id="storage-not-understood",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["n_jobs", "got 0"], ["-1: all cores"], n_jobs=0),
        id="n-jobs-zero",
    ),
    # --- several setting problems: one error listing them all
    pytest.param(
        fit_case(binary_frame, IPE, ["3 problems", "time_budget", "n_trials", "metric 'nope'"],
                 ["time_budget=60", "n_trials=40", "Known metrics"], time_budget=-1, n_trials=0, metric="nope"),
        id="several-setting-problems",
    ),
]

CASES += [
    pytest.param(
        fit_case(lambda: binary_frame().head(1), DVE, ["'y'", "single class"], ["at least two classes"]),
        id="one-row",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), m=pd.Series([1, "a", 2.5] * (N // 3), dtype=object)), DVE,
                 ["'m'", "mixes number and text"], ["astype(str)", "pd.to_numeric"]),
        id="mixed-type-object-column",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), a=1.0, b="same"), DVE, ["every feature column is constant", "'a'"],
                 ["at least one column that varies"]),
        id="all-features-constant",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), l=pd.Series([[1, 2]] * N, dtype=object)), DVE, ["'l'", "list"],
                 ["flatten it"]),
        id="list-cells",
    ),
    pytest.param(
        fit_case(binary_frame, DVE, ["'team'", "group"], ["Known columns"], cv="group:team"),
        id="group-column-missing",
    ),
]

# --- bad sample weights: each names sample_weight, the rows and the rule
CASES += [
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=np.r_[-1.0, np.ones(N - 1)]), DVE,
                 ["sample_weight", "1 negative value(s)", "rows [0]"], [">= 0"], sample_weight="w"),
        id="weights-negative",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=np.r_[np.nan, np.nan, np.ones(N - 2)]), DVE,
                 ["sample_weight", "2 missing value(s)", "rows [0, 1]"], ["give every row a weight"],
                 sample_weight="w"),
        id="weights-nan",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=np.r_[np.inf, np.ones(N - 1)]), DVE,
                 ["sample_weight", "1 infinite value(s)"], ["must be finite"], sample_weight="w"),
        id="weights-inf",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=0.0), DVE, ["sample_weight", "zero for every row"],
                 ["positive weight"], sample_weight="w"),
        id="weights-all-zero",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=pd.Series(["1"] * (N - 1) + ["heavy"], dtype=object)), DVE,
                 ["sample_weight", "1 value(s) are not", "'heavy' in row 29"], ["pd.to_numeric"], sample_weight="w"),
        id="weights-text",
    ),
    pytest.param(
        fit_case(binary_frame, DVE, ["sample_weight", "29 values", "30 rows"], ["one weight per row"],
                 sample_weight=np.ones(N - 1)),
        id="weights-wrong-length",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), weight=1.0), DVE, ["sample_weight='wieght'"],
                 ["did you mean 'weight'"], sample_weight="wieght"),
        id="weights-column-missing",
    ),
    pytest.param(
        Case(lambda: automl.AutoMLClassifier(**{**FAST, "tracking": True, "families": ["knn"]}).fit(
                 _features(), np.arange(N) % 2, sample_weight=np.ones(N)),
             IPE, ["'knn'", "sample weights"], ["leave it out of families="]),
        id="weights-with-a-family-that-cannot-use-them",
    ),
]


# --- what used to fail only inside the trials (after the journal and the MLflow run were written)
def _sorted_binary() -> pd.DataFrame:
    df = _features(N)
    df["y"] = [0] * (N // 2) + [1] * (N // 2)
    return df


def _minority_first() -> pd.DataFrame:
    """A binary target whose minority class (the default positive class) sorts first: roc_auc is then
    computed with the labels turned round, and must still be recognised as automl's own."""
    df = _features(N)
    df["y"] = np.where(np.arange(N) % 3 == 0, "a_rare", "b_common")
    return df


def _late_class() -> pd.DataFrame:
    df = _features(N)
    df["y"] = [0] * 12 + [0, 1] * 9
    return df


def _splitter(name: str, **kwargs: Any) -> Any:
    from sklearn import model_selection

    return getattr(model_selection, name)(**kwargs)


def one_argument(y_true: Any) -> float:
    return 1.0


def raises(y_true: Any, y_pred: Any) -> float:
    raise KeyError("no such column")


def divides_by_zero(y_true: Any, y_pred: Any) -> float:
    return 1 / 0


def always_value_error(y_true: Any, y_pred: Any) -> float:
    raise ValueError("expected a 2-D array")


def correlation(y_true: Any, y_pred: Any) -> float:
    """Undefined (ZeroDivisionError) on a constant prediction only: a metric that works."""
    import numpy as np

    p, t = np.asarray(y_pred, dtype=float), np.asarray(y_true, dtype=float)
    spread = float(p.std() * t.std())
    return float(((p - p.mean()) * (t - t.mean())).mean()) / (spread if spread else 0)



CASES += [
    # pinned / overridden search-space values, checked against the family's own definition
    pytest.param(
        fit_case(binary_frame, IPE, ["search_space['linear']", "'penalty'", "value 3"],
                 ["not one of the choices ['l2', 'elasticnet']"], search_space={"linear": {"penalty": 3}}),
        id="pin-wrong-type-for-a-choice",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'penalty'", "'elasticnt'"], ["did you mean 'elasticnet'"],
                 search_space={"linear": {"penalty": "elasticnt"}}),
        id="pin-outside-the-choices",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'alpha'", "'big'"], ["not a number"], search_space={"linear": {"alpha": "big"}}),
        id="pin-text-for-a-number",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'alpha'", "-1.0"], [">= 0"], search_space={"linear": {"alpha": -1.0}}),
        id="pin-negative-for-a-log-scale-number",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'l1_ratio'", "high 1.5"], ["between 0 and 1"],
                 search_space={"linear": {"l1_ratio": {"high": 1.5}}}),
        id="range-override-outside-a-fraction",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'penalty'", "choice 'l1'"], ["['l2', 'elasticnet']"],
                 search_space={"linear": {"penalty": {"choices": ["l2", "l1"]}}}),
        id="choices-override-with-an-unsupported-choice",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'alhpa'"], ["did you mean 'alpha'"], search_space={"linear": {"alhpa": 1.0}}),
        id="pin-unknown-parameter-near-miss",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["family 'linaer'"], ["did you mean 'linear'"],
                 search_space={"linaer": {"alpha": 1.0}}),
        id="override-of-an-unknown-family-near-miss",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'max_depth'=0", "random_forest"], ["range [1, inf)"],
                 families=["random_forest"], search_space={"random_forest": {"max_depth": 0}}),
        id="pin-the-estimator-refuses",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["'n_estimators'", "'many'"], ["give an integer"],
                 families=["random_forest"], search_space={"random_forest": {"n_estimators": "many"}}),
        id="pin-text-for-an-integer",
    ),
    # folds the metric cannot score, or a classifier cannot learn from
    pytest.param(
        fit_case(binary_frame, DVE, ["LeaveOneOut", "roc_auc", "30 of the 30"], ["single class", "log_loss"],
                 cv=_splitter("LeaveOneOut")),
        id="leave-one-out-with-roc-auc",
    ),
    pytest.param(
        fit_case(_minority_first, DVE, ["LeaveOneOut", "roc_auc", "30 of the 30"], ["single class"],
                 cv=_splitter("LeaveOneOut")),
        id="leave-one-out-with-roc-auc-positive-class-sorted-first",
    ),
    pytest.param(
        fit_case(_sorted_binary, DVE, ["KFold", "roc_auc"], ["both classes in every validation part"],
                 cv=_splitter("KFold", n_splits=3)),
        id="splitter-with-single-class-validation-folds",
    ),
    pytest.param(
        fit_case(lambda: regression_frame(), DVE, ["LeaveOneOut", "r2"], ["larger validation parts"],
                 cv=_splitter("LeaveOneOut"), metric="r2"),
        id="leave-one-out-with-r2",
    ),
    pytest.param(
        fit_case(_late_class, DVE, ["cv=time:3", "training part of fold(s) [1]", "single class (0)"],
                 ["fewer folds", "shuffled cv"], cv="time:3", metric="accuracy"),
        id="time-split-first-training-fold-one-class",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["cv=1"], ["at least 2 folds"], cv=np.int64(1)),
        id="cv-numpy-integer-one-fold",
    ),
    # sample weights the weighted metrics cannot divide by
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=1e-320), DVE, ["sample_weight", "too small"], ["rescale", "w.max()"],
                 sample_weight="w"),
        id="weights-subnormal",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=1e-170), DVE, ["sample_weight", "too small"], ["rescale"],
                 sample_weight="w"),
        id="weights-whose-products-underflow",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=1e300), DVE, ["sample_weight", "overflow"], ["rescale"],
                 sample_weight="w"),
        id="weights-that-overflow",
    ),
    pytest.param(
        fit_case(lambda: _with(binary_frame(), w=np.r_[1e-320, np.ones(N - 1)]), DVE,
                 ["sample_weight", "subnormal"], ["rescale"], sample_weight="w"),
        id="weights-one-subnormal",
    ),
    # settings no trial can live with
    pytest.param(
        fit_case(binary_frame, IPE, ["seed", "2**32 - 1"], ["seed=0"], seed=2**40),
        id="seed-out-of-range",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["trial_memory_limit=1"], ["at least 256"], trial_memory_limit=1),
        id="trial-memory-limit-below-a-worker",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["trial_timeout=0.001"], ["at least 1"], trial_timeout=0.001),
        id="trial-timeout-too-short",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["metric='one_argument'", "fn(y_true, y_pred)"], ["two arguments"],
                 metric=one_argument),
        id="metric-callable-of-one-argument",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["metric='raises'", "KeyError"], ["fix the callable"], metric=raises),
        id="metric-callable-that-raises",
    ),
    pytest.param(  # before, read as NaN in every trial: the search ran, failed every trial, and wrote the study
        fit_case(binary_frame, IPE, ["metric='divides_by_zero'", "ZeroDivisionError"], ["fix the callable"],
                 metric=divides_by_zero),
        id="metric-callable-that-divides-by-zero",
    ),
    pytest.param(
        fit_case(regression_frame, IPE, ["metric='always_value_error'", "ValueError: expected a 2-D array"],
                 ["fix the callable"], metric=always_value_error),
        id="metric-callable-that-always-raises-value-error",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["pruner", "object"], ["prune method"], pruner=object()),
        id="pruner-that-is-not-a-pruner",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["tracking_uri='ftp://nowhere'"], ["sqlite:///"], tracking_uri="ftp://nowhere"),
        id="tracking-uri-unknown-scheme",
    ),
    pytest.param(  # MLflow 3 refuses a folder store at its client's start: before, after the study was opened
        fit_case(binary_frame, IPE, ["tracking_uri='mlruns'", "folder store"],
                 ["sqlite:///mlruns.db", "MLFLOW_ALLOW_FILE_STORE=true"], tracking_uri="mlruns"),
        id="tracking-uri-folder-store",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["tracking_uri='file:./runs'", "folder store"], ["sqlite:///./runs.db"],
                 tracking_uri="file:./runs"),
        id="tracking-uri-file-scheme",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["tracking_uri=", "does not exist"], ["create it"],
                 tracking_uri="sqlite:////nonexistent-automl-folder/m.db"),
        id="tracking-uri-sqlite-in-a-missing-folder",
    ),
    pytest.param(
        fit_case(binary_frame, IPE, ["storage=", "does not exist"], ["create it"],
                 storage="sqlite:////nonexistent-automl-folder/studies.db"),
        id="storage-sqlite-in-a-missing-folder",
    ),
    pytest.param(
        estimator_case("AutoMLRegressor", lambda: regression_frame()[["a", "b"]], lambda: regression_frame()["y"],
                       IPE, ["search_space['linear']", "'penalty'"], ["one of the choices"],
                       search_space={"linear": {"penalty": "ridge"}}),
        id="estimator-pin-outside-the-choices",
    ),
]


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """One SQLite MLflow store for the module, in a folder of its own (not any test's working directory)."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # the store's default artifact root is made relative to the working directory
        MlflowClient(uri).search_experiments()  # creates the tables once
    return uri


def store_contents(uri: str) -> tuple[int, int]:
    """(runs in every experiment, active or deleted; registered models) of the store at ``uri``."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = len(client.search_runs(ids, run_view_type=ViewType.ALL, max_results=50_000)) if ids else 0
    return runs, len(client.search_registered_models())


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch, mlflow_store):
    """An empty working directory, tracking on into the module's store, no AUTOML_STORAGE pointing elsewhere.

    After the test: no new run and no new registered model in the store.
    """
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    monkeypatch.chdir(tmp_path)
    before = store_contents(mlflow_store)
    yield tmp_path
    assert store_contents(mlflow_store) == before, "an MLflow run (or registered model) was written"


@pytest.mark.parametrize("case", CASES)
def test_bad_input_raises_typed_error_with_hint_and_writes_nothing(case: Case, empty_cwd) -> None:
    with pytest.raises(automl.AutoMLError) as info:
        case.call()
    exc = info.value
    message = str(exc)
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__} is neither ValueError nor TypeError"
    assert isinstance(exc, automl.AutoMLError)
    assert isinstance(exc, case.error), f"expected {case.error}, got {type(exc).__name__}: {message}"
    for text in case.names:
        assert text in message, f"{text!r} not named in: {message}"
    for text in case.hints:
        assert text in message, f"hint {text!r} missing from: {message}"
    for text in case.absent:
        assert text not in message, f"{text!r} should not be in: {message}"
    assert list(empty_cwd.iterdir()) == []


@pytest.mark.skipif(not gpu_ruled_out(), reason="a CUDA driver is on this machine")
def test_cuda_on_a_machine_without_its_driver_is_refused_before_the_search_for_nets_only(empty_cwd) -> None:
    """Before, every net trial failed on "CUDA is not available" after the study and the MLflow runs were written."""
    with pytest.raises(automl.InvalidParameterError, match=r"device='cuda', but this machine has no CUDA driver "
                       r"\(libcuda\), so every trial of torch_mlp would fail; use device='auto'"):
        automl.fit(binary_frame(), target="y", device="cuda", n_trials=1, families=["torch_mlp", "linear"],
                   study_name="cuda")
    assert list(empty_cwd.iterdir()) == []
    model = automl.fit(binary_frame(), target="y", device="cuda", n_trials=1, families=["linear"], tracking=False,
                       isolation="none")  # no net: the device is not used
    assert model.best_family_ == "linear"


def test_a_frame_with_integer_column_names_takes_its_target_by_that_label(plain_cwd) -> None:
    frame = binary_frame().set_axis(range(binary_frame().shape[1]), axis=1)  # as pd.DataFrame(array) names them
    target = frame.columns[-1]
    model = automl.fit(frame, target=target, n_trials=1, families=["linear"], cv=3, tracking=False)
    assert model.predict(frame.drop(columns=[target])).shape == (len(frame),)


def test_several_setting_problems_are_one_error_with_three_problems(empty_cwd) -> None:
    with pytest.raises(automl.InvalidParameterError) as info:
        automl.fit(binary_frame(), target="y", time_budget=-1, n_trials=0, metric="nope",
                   families=["linear"], study_name="bad")
    assert len(info.value.problems) == 3
    assert list(empty_cwd.iterdir()) == []


# -- not errors ----------------------------------------------------------------------------------
@pytest.fixture
def plain_cwd(tmp_path, monkeypatch):
    """An empty working directory for fits that succeed (tracking off, as every test by default)."""
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _suspicious(kind: str) -> pd.DataFrame:
    df = binary_frame(60)
    if kind == "target-among-features":
        df["copy"] = df["y"]
    elif kind == "constant":
        df["copy"] = 7.0
    elif kind == "id-integers":
        df["copy"] = np.arange(60) + 1000
    elif kind == "id-text":
        df["copy"] = [f"user-{i}" for i in range(60)]
    elif kind == "numbers-as-text-but-a-marker":  # before: no warning, the column silently a category
        df["copy"] = pd.Series(np.arange(60) % 7, dtype="str").where(np.arange(60) % 30 != 5, "?")
    else:  # numbers stored as text
        df["copy"] = pd.Series(np.arange(60) % 7, dtype="str")
    return df


@pytest.mark.parametrize(("kind", "warning"), [
    ("target-among-features", "column 'copy' is identical to the target 'y': a leak"),
    ("constant", r"dropping 1 constant column\(s\): \['copy'\]"),
    ("id-integers", "column 'copy' has a different value in every row, like an identifier"),
    ("id-text", "column 'copy' has a different value in every row, like an identifier"),
    ("numbers-as-text", r"column 'copy' holds numbers stored as text.*pd.to_numeric"),
    ("numbers-as-text-but-a-marker", r"column 'copy' holds numbers stored as text but for 2 value\(s\) that are not "
                                     r"numbers \('\?'\).*pd.to_numeric\(X\['copy'\], errors='coerce'\)"),
])
def test_suspicious_columns_are_warned_about(kind: str, warning: str, plain_cwd) -> None:
    df = _suspicious(kind)
    with pytest.warns(UserWarning, match=warning):
        model = automl.fit(df, target="y", n_trials=1, families=["linear"], cv=3, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dropped constant column is expected at predict: no warning
        assert len(model.predict(df.drop(columns="y"))) == 60
    assert "copy" in model.feature_names_in_  # every column given, as in scikit-learn (a constant one is ignored)
    assert ("copy" in model.schema_.names) == (kind != "constant")


@pytest.mark.parametrize("kind", ["nullable-with-pd-NA", "unused-categories", "non-unique-index"])
def test_accepted_without_a_warning(kind: str, plain_cwd) -> None:
    df = binary_frame(60)
    if kind == "nullable-with-pd-NA":
        df["n"] = pd.array([1, pd.NA, 3, 4] * 15, dtype="Int64")
        df["s"] = pd.Series(["a", None, "b", "c"] * 15, dtype="string")
    elif kind == "unused-categories":
        df["c"] = pd.Categorical(["a", "b"] * 30, categories=["a", "b", "never"])
    else:
        df.index = [0] * 60
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = automl.fit(df, target="y", n_trials=1, families=["linear", "lightgbm"], cv=3, n_jobs=1)
        assert len(model.predict(df.drop(columns="y"))) == 60

def test_missing_targets_are_dropped_with_a_warning(plain_cwd) -> None:
    df = binary_frame(40)
    df["y"] = df["y"].astype("float64")
    df.loc[[3, 10, 17], "y"] = np.nan
    with pytest.warns(UserWarning, match=r"dropped 3 row\(s\) whose target 'y' is missing"):
        model = automl.fit(df, target="y", n_trials=1, families=["linear"], cv=3, n_jobs=1)
    assert model.n_rows_dropped_ == 3
    assert model.task_ == "binary"
    assert len(model.predict(df[["a", "b"]])) == 40


@pytest.mark.parametrize("cls_name", ["AutoMLClassifier", "AutoMLRegressor"])
@pytest.mark.parametrize("method", ["predict", "score", "leaderboard"])
def test_use_before_fit_raises_not_fitted(cls_name: str, method: str) -> None:
    model = getattr(automl, cls_name)()
    X = binary_frame()[["a", "b"]]
    args = {"predict": (X,), "score": (X, binary_frame()["y"]), "leaderboard": ()}[method]
    with pytest.raises(automl.NotFittedError) as info:
        getattr(model, method)(*args)
    assert isinstance(info.value, sklearn.exceptions.NotFittedError)
    assert isinstance(info.value, automl.AutoMLError)
    assert cls_name in str(info.value) and "call fit(X, y)" in str(info.value)


def test_predict_proba_before_fit_raises_not_fitted() -> None:
    with pytest.raises(sklearn.exceptions.NotFittedError) as info:
        automl.AutoMLClassifier().predict_proba(binary_frame()[["a", "b"]])
    assert isinstance(info.value, automl.NotFittedError)


def test_a_metric_callable_undefined_only_on_a_constant_prediction_is_accepted(plain_cwd) -> None:
    """The check tries a perfect prediction where a constant one raises: a correlation is a metric that works."""
    model = automl.fit(regression_frame(), target="y", n_trials=1, families=["linear"], cv=3, tracking=False,
                       metric=correlation)
    assert model.best_score_ > 0.5


def test_a_target_of_tuples_is_a_typed_error_before_the_search():
    # Once a bare ValueError ("setting an array element with a sequence") from the fold planner.
    X = pd.DataFrame({"a": np.arange(60.0)})
    y = pd.Series([(1, 2) if i % 2 else (3, 4) for i in range(60)], dtype=object)
    with pytest.raises(automl.DataValidationError, match="tuple values in its cells.*y.map\\(str\\)"):
        automl.AutoMLClassifier(n_trials=1, isolation="none").fit(X, y)


def test_a_target_whose_index_is_xs_labels_in_another_order_is_warned_by_every_entry():
    # Once silent: the rows were paired by position and the model learnt noise (accuracy 0.13 on its own rows).
    X = pd.DataFrame({"a": np.random.default_rng(3).normal(size=200)})
    y = (X["a"] > 0).astype(int).rename("y")
    shuffled = X.sample(frac=1, random_state=0)
    calls = [lambda: automl.AutoMLClassifier(n_trials=1, families=["linear"], isolation="none").fit(shuffled, y),
             lambda: automl.fit(X, target=y.iloc[::-1], n_trials=1, families=["linear"], isolation="none",
                                tracking=False)]
    for call in calls:
        with pytest.warns(UserWarning, match=r"row labels of X in another order.*y = y.loc\[X.index\]"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same order, or labels that are not X's (reset apart): no warning
        automl.AutoMLClassifier(n_trials=1, families=["linear"], isolation="none").fit(
            shuffled, y.loc[shuffled.index])
        automl.AutoMLClassifier(n_trials=1, families=["linear"], isolation="none").fit(
            shuffled.reset_index(drop=True), y.loc[shuffled.index].set_axis(range(1000, 1200)))


def test_a_structured_array_and_an_empty_column_name_are_typed_errors_with_their_fix():
    # A structured array was told X.reshape(-1, 1), which then raised a bare ValueError ("no field of name x0");
    # a column named "" was fitted, and automl predict on the CSV of the same frame could not find it.
    records = np.zeros(60, dtype=[("a", "f8"), ("b", "i4")])
    records["a"] = np.arange(60)
    y = np.arange(60) % 2
    for X in (records, records.reshape(-1, 1)):
        with pytest.raises(automl.InputTypeError, match=r"structured numpy array.*pd.DataFrame\(X\)"):
            automl.AutoMLClassifier(n_trials=1, isolation="none").fit(X, y)
    frame = pd.DataFrame({"": np.arange(60.0), "b": np.ones(60)})
    with pytest.raises(automl.DataValidationError, match=r"column name is empty.*rename\(columns=\{'': 'x'\}\)"):
        automl.AutoMLClassifier(n_trials=1, isolation="none").fit(frame, y)
