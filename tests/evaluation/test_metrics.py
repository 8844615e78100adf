"""Metrics: every name computes, directions are right, wrong use is explained."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

import automl

from automl.evaluation.metrics import Metric, available_metrics, default_metric, get_metric, report_metrics
from automl.exceptions import InvalidParameterError, UnknownNameError

Y_BIN = np.array([0, 1, 1, 0, 1, 0])
P_BIN = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4], [0.7, 0.3], [0.9, 0.1]])
Y_MC = np.array([0, 1, 2, 2, 1, 0])
P_MC = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1]])


@pytest.mark.parametrize("name", available_metrics("binary"))
def test_every_binary_metric_computes_a_finite_score(name):
    assert np.isfinite(get_metric(name, "binary").compute(Y_BIN, P_BIN))


@pytest.mark.parametrize("name", available_metrics("multiclass"))
def test_every_multiclass_metric_computes_a_finite_score(name):
    assert np.isfinite(get_metric(name, "multiclass").compute(Y_MC, P_MC))


def test_values_match_scikit_learn():
    assert get_metric("roc_auc", "binary").compute(Y_BIN, P_BIN) == pytest.approx(skm.roc_auc_score(Y_BIN, P_BIN[:, 1]))
    assert get_metric("f1", "binary").compute(Y_BIN, P_BIN) == pytest.approx(skm.f1_score(Y_BIN, P_BIN.argmax(1)))
    assert get_metric("roc_auc", "multiclass").compute(Y_MC, P_MC) == pytest.approx(
        skm.roc_auc_score(Y_MC, P_MC, multi_class="ovr"))
    y, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    assert get_metric("rmse", "regression").compute(y, p) == pytest.approx(np.sqrt(np.mean((y - p) ** 2)))
    assert get_metric("r2", "regression").compute(y, p) == pytest.approx(skm.r2_score(y, p))


def test_log_loss_counts_classes_absent_from_a_fold():
    # Only classes 0 and 1 appear, but the matrix has three columns: labels must be passed.
    value = get_metric("log_loss", "multiclass").compute(np.array([0, 1]), P_MC[:2])
    assert value == pytest.approx(skm.log_loss([0, 1], P_MC[:2], labels=[0, 1, 2]))


def test_directions():
    assert get_metric("log_loss", "binary").direction == "minimize"
    assert get_metric("roc_auc", "binary").direction == "maximize"
    assert default_metric("binary").name == "roc_auc"
    assert default_metric("multiclass").name == "log_loss"
    assert default_metric("regression").name == "rmse"


def test_callable_metric_receives_original_labels():
    seen = {}

    def hit_rate(y_true, y_pred):
        seen["labels"] = set(y_true)
        return float(np.mean(y_true == y_pred))

    metric = get_metric(hit_rate, "binary")
    score = metric.compute(Y_BIN, P_BIN, classes=np.array(["no", "yes"]))
    assert seen["labels"] == {"no", "yes"}
    assert score == pytest.approx(skm.accuracy_score(Y_BIN, P_BIN.argmax(1)))
    assert metric.name == "hit_rate" and metric.greater_is_better


def test_metric_object_with_own_direction():
    m = Metric("max_err", lambda t, p: float(np.max(np.abs(t - p))), False, "prediction", frozenset({"regression"}))
    assert get_metric(m, "regression").direction == "minimize"
    with pytest.raises(InvalidParameterError, match="applies to"):
        get_metric(m, "binary")


def test_unknown_and_misapplied_metrics_are_explained():
    with pytest.raises(UnknownNameError, match="did you mean 'roc_auc'"):
        get_metric("roc_aux", "binary")
    with pytest.raises(InvalidParameterError, match="f1_macro or f1_weighted"):
        get_metric("f1", "multiclass")
    with pytest.raises(InvalidParameterError, match="Metrics for regression"):
        get_metric("accuracy", "regression")


def test_report_metrics_put_the_primary_first_without_duplicates():
    names = [m.name for m in report_metrics("binary", get_metric("f1", "binary"))]
    assert names[0] == "f1" and len(names) == len(set(names))


_SKLEARN = {
    "accuracy": lambda y, p: skm.accuracy_score(y, p.argmax(1)),
    "balanced_accuracy": lambda y, p: skm.balanced_accuracy_score(y, p.argmax(1)),
    "precision": lambda y, p: skm.precision_score(y, p.argmax(1), zero_division=0),
    "recall": lambda y, p: skm.recall_score(y, p.argmax(1), zero_division=0),
    "f1": lambda y, p: skm.f1_score(y, p.argmax(1), zero_division=0),
    **{f"{b}_{a}": (lambda fn, a: lambda y, p: fn(y, p.argmax(1), average=a, zero_division=0))(fn, a)
       for b, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score))
       for a in ("macro", "weighted")},
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=list(range(p.shape[1]))),
    "roc_auc": lambda y, p: skm.roc_auc_score(y, p[:, 1]) if p.shape[1] == 2
    else skm.roc_auc_score(y, p, multi_class="ovr", labels=list(range(p.shape[1]))),
}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes", [2, 4])
def test_numpy_metrics_equal_scikit_learn_on_random_data_with_ties(seed, n_classes):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, 60)
    raw = np.round(rng.random((60, n_classes)), 1) + 1e-3  # rounding creates ties
    proba = raw / raw.sum(axis=1, keepdims=True)
    task = "binary" if n_classes == 2 else "multiclass"
    for name in available_metrics(task):
        ours = get_metric(name, task).compute(y, proba)
        assert ours == pytest.approx(_SKLEARN[name](y, proba), abs=1e-9), name


@pytest.mark.parametrize("seed", range(3))
def test_numpy_regression_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y, p = rng.normal(size=50), rng.normal(size=50)
    reference = {"rmse": skm.root_mean_squared_error, "mse": skm.mean_squared_error,
                 "mae": skm.mean_absolute_error, "r2": skm.r2_score}
    for name, fn in reference.items():
        assert get_metric(name, "regression").compute(y, p) == pytest.approx(fn(y, p), abs=1e-12)
    assert get_metric("r2", "regression").compute(np.ones(3), np.ones(3)) == 1.0


def test_auc_is_nan_when_a_fold_holds_one_class():
    assert np.isnan(get_metric("roc_auc", "binary").compute(np.array([1, 1]), P_BIN[:2]))


def _sklearn_weighted(name, y, p, w, labels):
    """scikit-learn's value of metric ``name`` with sample weights."""
    hard = p.argmax(1) if p.ndim == 2 else None
    if name == "roc_auc":
        return skm.roc_auc_score(y, p[:, 1] if p.shape[1] == 2 else p, multi_class="ovr", sample_weight=w)
    if name == "log_loss":
        return skm.log_loss(y, p, labels=labels, sample_weight=w)
    if name == "accuracy":
        return skm.accuracy_score(y, hard, sample_weight=w)
    if name == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, hard, sample_weight=w)
    if name in ("rmse", "mse", "mae", "r2"):
        fn = {"rmse": skm.root_mean_squared_error, "mse": skm.mean_squared_error,
              "mae": skm.mean_absolute_error, "r2": skm.r2_score}[name]
        return fn(y, p, sample_weight=w)
    base, _, average = name.partition("_")
    fn = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[base]
    return fn(y, hard, average=average or "binary", sample_weight=w, zero_division=0)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_weighted_builtin_matches_scikit_learn(task):
    rng = np.random.default_rng(1)
    n = 60
    if task == "regression":
        y, p = rng.normal(size=n), rng.normal(size=n)
    else:
        k = 2 if task == "binary" else 3
        y = rng.integers(0, k, n)
        p = rng.dirichlet(np.ones(k), n)
        p[:5] = p[5]  # some tied scores
    w = rng.uniform(0, 3, n)
    w[:4] = 0.0
    for name in available_metrics(task):
        metric = get_metric(name, task)
        assert metric.weighted
        expected = _sklearn_weighted(name, y, p, w, list(range(p.shape[1])) if p.ndim == 2 else None)
        assert metric.compute(y, p, sample_weight=w) == pytest.approx(expected), name
        # weights that change nothing give the unweighted value
        assert metric.compute(y, p, sample_weight=np.full(n, 2.0)) == pytest.approx(metric.compute(y, p)), name


def test_user_metrics_get_weights_only_when_they_take_them():
    seen = {}

    def weighted_hits(y_true, y_pred, sample_weight=None):
        seen["w"] = sample_weight
        return float(np.average(y_true == y_pred, weights=sample_weight))

    w = np.arange(1.0, 7.0)
    assert get_metric(weighted_hits, "binary").compute(Y_BIN, P_BIN, sample_weight=w) == pytest.approx(
        np.average(Y_BIN == P_BIN.argmax(1), weights=w))
    assert seen["w"] is w
    plain = get_metric(lambda t, p: float(np.mean(t == p)), "binary")
    assert not plain.weighted
    assert plain.compute(Y_BIN, P_BIN, sample_weight=w) == pytest.approx(np.mean(Y_BIN == P_BIN.argmax(1)))


@pytest.mark.parametrize(("changes", "rule"), [
    ({"greater_is_better": "False"}, "greater_is_better must be True or False, got 'False'"),
    ({"needs": "labels"}, "needs must be one of .*did you mean 'label'"),
    ({"tasks": frozenset({"classification"})}, "tasks must be a non-empty set"),
    ({"tasks": "binary"}, "tasks must be a non-empty set"),
    ({"fn": 3}, "fn must be a callable"),
])
def test_a_metric_is_checked_when_it_is_made(changes, rule):
    fields = {"name": "err", "fn": lambda t, p: 0.0, "greater_is_better": False, "needs": "label",
              "tasks": frozenset({"binary"}), **changes}
    with pytest.raises(InvalidParameterError, match=rule):
        Metric(**fields)


def test_a_direction_given_as_text_never_reaches_the_search():
    # "False" is truthy: before, the search maximised this error rate and picked its worst trial.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200)})
    frame["y"] = np.where(frame.a + rng.normal(size=200) > 0, "p", "q")
    with pytest.raises(InvalidParameterError, match="greater_is_better"):
        automl.fit(frame, target="y", families=["linear"], n_trials=2, tracking=False,
                   metric=Metric("err", lambda y, p: float(np.mean(y != p)), "False", "label", frozenset({"binary"})))


def test_a_metric_of_yours_cannot_take_a_built_in_name():
    mine = Metric("roc_auc", lambda t, p: 0.0, True, "proba", frozenset({"binary"}))
    with pytest.raises(InvalidParameterError, match="name='my_roc_auc'"):
        get_metric(mine, "binary")
    assert get_metric("roc_auc", "binary").for_positive(0).name == "roc_auc"  # ours, turned, is still ours


def test_a_callable_that_is_never_finite_is_refused_before_the_search(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120)})
    frame["y"] = np.where(frame.a > 0, "p", "q")

    def nan_metric(y, p):
        return float("nan")

    with pytest.raises(InvalidParameterError, match="returned nan on a trivial prediction and nan on a perfect"):
        automl.fit(frame, target="y", families=["linear"], n_trials=2, tracking=False, metric=nan_metric,
                   study_name="never", storage=str(tmp_path / "s.journal"))
    assert not (tmp_path / "s.journal").exists()


def test_a_loss_given_as_a_plain_callable_is_refused_before_the_search_and_its_metric_form_is_searched(tmp_path):
    from sklearn.metrics import mean_squared_error, zero_one_loss

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    regression = frame.assign(y=3 * frame.a + 0.3 * rng.normal(size=120))
    settings = dict(families=["linear", "knn"], n_trials=2, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                    tracking=True, study_name="loss", storage=str(tmp_path / "s.journal"))
    with pytest.raises(InvalidParameterError, match=r"metric='mean_squared_error' scored a perfect prediction 0 and "
                                                    r"a trivial one .* but greater is better for it"):
        automl.fit(regression, target="y", metric=mean_squared_error, **settings)
    with pytest.raises(InvalidParameterError, match=r"automl.Metric\('zero_one_loss', fn, greater_is_better=False\)"):
        automl.fit(frame.assign(y=np.where(frame.a > 0, "p", "q")), target="y", metric=zero_one_loss, **settings)
    assert not list(tmp_path.iterdir())  # no study file, no MLflow store
    loss = Metric("sq_error", lambda t, p: float(mean_squared_error(t, p)), False, "prediction", frozenset({"regression"}))
    model = automl.fit(regression, target="y", metric=loss, families=["linear", "knn"], n_trials=2, tracking=False)
    board = model.leaderboard()
    assert board["sq_error_mean"].iloc[0] == board["sq_error_mean"].min()  # the lowest loss ranks first


def test_scikit_learn_scorer_names_and_scorer_objects_are_refused_with_automls_own_form():
    from sklearn.metrics import f1_score, make_scorer

    frame = pd.DataFrame({"a": np.random.default_rng(0).normal(size=60)})
    frame["y"] = (frame.a > 0).astype(int)
    with pytest.raises(InvalidParameterError, match=r"scikit-learn's scorer name; automl's is 'rmse' .*metric='rmse'"):
        automl.fit(frame, "y", metric="neg_root_mean_squared_error", n_trials=1, tracking=False)
    with pytest.raises(InvalidParameterError, match=r"a scikit-learn scorer .* automl.Metric\(name, fn, greater_is"):
        automl.fit(frame, "y", metric=make_scorer(f1_score), n_trials=1, tracking=False)
