"""Cross-validation schemes and the fold loop."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from automl.data import Schema
from automl.evaluation import Evaluator, get_metric, make_cv_plan
from automl.evaluation.monitor import FoldDone, Go, Unmonitored
from automl.exceptions import InvalidParameterError


@pytest.mark.parametrize(
    "cv,task,description,n_splits",
    [
        (5, "binary", "stratified_kfold:5", 5),
        (3, "regression", "kfold:3", 3),
        (0.25, "binary", "holdout:0.25", 1),
        ("holdout:0.2", "regression", "holdout:0.2", 1),
        ("repeated:3x2", "multiclass", "repeated:3x2", 6),
        ("time:4", "regression", "time:4", 4),
        ("group:3", "binary", "group:3", 3),
        ("kfold:4", "binary", "stratified_kfold:4", 4),
        (KFold(2), "binary", "KFold", 2),
    ],
)
def test_cv_forms(cv, task, description, n_splits):
    plan = make_cv_plan(cv, task, seed=0)
    assert plan.description == description
    assert plan.n_splits == n_splits


@pytest.mark.parametrize("cv", [1, 0, 1.0, "fold:3", "kfold:x", "holdout:2", True, [5]])
def test_bad_cv_lists_the_accepted_forms(cv):
    with pytest.raises(InvalidParameterError, match="cv"):
        make_cv_plan(cv, "binary")


def test_group_splits_never_share_a_group():
    groups = np.repeat(np.arange(10), 6)
    y = np.tile([0, 1], 30)
    plan = make_cv_plan(5, "binary", has_groups=True)
    for train, valid in plan.splits(60, y, groups):
        assert not set(groups[train]) & set(groups[valid])


def test_time_series_splits_validate_on_later_rows_only():
    plan = make_cv_plan("time:3", "regression")
    for train, valid in plan.splits(40, np.arange(40.0), None):
        assert train.max() < valid.min()


def _frame(n=60):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})


def test_evaluator_covers_every_row_once_and_reports_each_fold():
    frame = _frame()
    X = Schema.from_frame(frame).transform(frame)
    y = (frame["x"] > 0).astype(int).to_numpy()
    splits = make_cv_plan(4, "binary").splits(60, y, None)
    seen = []
    ev = Evaluator([get_metric("roc_auc", "binary"), get_metric("accuracy", "binary")], splits,
                   task="binary", n_classes=2)
    class Seen(Unmonitored):
        def fold(self, event: FoldDone) -> Go:
            seen.append((event.fold, event.running))
            return Go()

    result = ev.evaluate("linear", {}, X, y, monitor=Seen())
    assert [i for i, _ in seen] == [0, 1, 2, 3]
    assert result.oof.shape == (60, 2) and result.oof.dtype == np.float32
    assert not np.isnan(result.oof).any()
    assert len(result.fold_scores["accuracy"]) == 4
    assert result.mean("roc_auc") > 0.9


def test_holdout_leaves_unpredicted_rows_as_nan_and_repeats_are_averaged():
    frame = _frame()
    X = Schema.from_frame(frame).transform(frame)
    y = frame["x"].to_numpy() * 2
    holdout = Evaluator([get_metric("rmse", "regression")], make_cv_plan(0.25, "regression").splits(60, y, None),
                        task="regression", n_classes=0).evaluate("linear", {}, X, y)
    assert np.isnan(holdout.oof).sum() == 45
    repeated = Evaluator([get_metric("rmse", "regression")],
                         make_cv_plan("repeated:3x2", "regression").splits(60, y, None),
                         task="regression", n_classes=0).evaluate("linear", {}, X, y)
    assert not np.isnan(repeated.oof).any() and len(repeated.fold_scores["rmse"]) == 6


def test_preprocessing_is_fitted_on_the_training_part_only(monkeypatch):
    """The per-fold preprocessor never sees validation rows."""
    from automl.data import preprocessing

    fitted_rows = []
    original = preprocessing.TabularPreprocessor.fit

    def spy(self, X, y=None):
        fitted_rows.append(set(X.index))
        return original(self, X, y)

    monkeypatch.setattr(preprocessing.TabularPreprocessor, "fit", spy)
    frame = _frame()
    X = Schema.from_frame(frame).transform(frame)
    y = (frame["x"] > 0).astype(int).to_numpy()
    splits = make_cv_plan(3, "binary").splits(60, y, None)
    Evaluator([get_metric("accuracy", "binary")], splits, task="binary", n_classes=2).evaluate("knn", {}, X, y)
    assert len(fitted_rows) == 3
    for rows, (train, valid) in zip(fitted_rows, splits):
        assert rows == set(train) and not rows & set(valid)


@pytest.mark.parametrize(
    ("rows", "columns", "budget", "expected"),
    [
        (1_000, 10, None, "repeated:5x2"),  # no budget: small data are repeated
        (1_000, 10, 60, "repeated:5x2"),  # 167 cells per second of budget
        (2_000, 40, 60, "kfold:5"),  # 1,333 cells/s: too much work to repeat, 5 folds
        (20_000, 12, 60, "kfold:3"),  # 4,000 cells/s: 3 folds
        (20_000, 12, 300, "kfold:5"),  # the same data with 5x the time
        (20_000, 12, None, "kfold:5"),
    ],
)
def test_default_folds_follow_the_work_per_second_of_budget(rows, columns, budget, expected):
    y = np.arange(float(rows))
    plan = make_cv_plan(None, "regression", y=y, time_budget=budget, n_columns=columns)
    assert plan.description == expected


@pytest.mark.parametrize(
    ("task", "classes", "budget", "expected"),
    [
        # 1,700 rows x 21 columns (cardiotocography's training split): 119 cells/s at 300 s, which repeats the folds
        ("binary", 2, 300, "repeated:5x2"),
        ("multiclass", 3, 300, "repeated:5x2"),  # 357 cells/s counting a tree per class
        ("multiclass", 10, 300, "stratified_kfold:5"),  # 1,190: a booster's trial costs ten trees a round
        ("multiclass", 10, 60, "stratified_kfold:3"),  # 5,950
        ("binary", 2, 60, "stratified_kfold:5"),  # 595: the classes of a binary target count once
        ("multiclass", 10, None, "repeated:5x2"),  # no budget: the work does not decide
    ],
)
def test_on_multiclass_data_the_work_counts_a_tree_per_class(task, classes, budget, expected):
    y = np.arange(1_700) % classes
    assert make_cv_plan(None, task, y=y, time_budget=budget, n_columns=21).description == expected


def test_the_classes_are_counted_whatever_their_labels():
    labels = np.array(["a", 1, 2.5, None, "b"], dtype=object)[np.arange(1_700) % 5]
    plan = make_cv_plan(None, "multiclass", y=labels, time_budget=60, n_columns=21)
    assert plan.description == make_cv_plan(None, "multiclass", y=np.arange(1_700) % 5, time_budget=60,
                                             n_columns=21).description == "stratified_kfold:3"


def test_fit_chooses_fewer_folds_for_a_short_budget_but_not_for_a_stored_study(tmp_path):
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3_000, 40)), columns=[f"c{i}" for i in range(40)])
    frame["y"] = frame["c0"] + rng.normal(size=3_000)
    # 120,000 cells in 20 s: 6,000 cells/s -> 3 folds
    # (two trials end each search: the folds follow the budget, not how much of it is used)
    model = automl.fit(frame, target="y", time_budget=20, n_trials=2, families=["linear"], tracking=False,
                       ensemble=False)
    assert model.cv_ == "kfold:3"
    stored = automl.fit(frame, target="y", time_budget=20, n_trials=2, families=["linear"], tracking=False,
                        ensemble=False, study_name="s", storage=str(tmp_path / "s.journal"))
    assert stored.cv_ == "kfold:5"  # resumable under any budget: the folds never follow it


@pytest.mark.parametrize("counts, folds", [([3, 3, 3], 3), ([4, 4], 4), ([2] * 100, 2), ([2, 7], 5), ([1, 6, 3], 5)])
def test_the_default_folds_are_never_more_than_the_largest_class_has_rows(counts, folds):
    """Before, every class under 5 rows (9 rows of 3 classes) kept 5 stratified folds, which scikit-learn refuses."""
    y = np.repeat(np.arange(len(counts)), counts)
    plan = make_cv_plan(None, "multiclass" if len(counts) > 2 else "binary", y=y)
    assert plan.description == f"stratified_kfold:{folds}"
    if min(counts) >= 2:
        assert len(plan.splits(len(y), y, None)) == folds


def test_a_fit_on_classes_of_three_rows_each_runs_with_three_folds():
    import automl

    frame = pd.DataFrame({"a": np.arange(9.0), "y": list("abc") * 3})
    model = automl.fit(frame, target="y", n_trials=1, families=["linear"], tracking=False, isolation="none")
    assert model.leaderboard()["n_folds"].iloc[0] == 3 and model.cv_ == "stratified_kfold:3"


@pytest.mark.parametrize("cv, text", [
    (0.01, r"cv=holdout:0.01 puts 1 of the 20 rows in the validation part and 19 in the training part, but each needs "
           r"a row of every one of the 2 classes; use a larger fraction \(cv=0.1 or more\), or folds \(cv=3\)"),
    (0.99, r"puts 20 of the 20 rows in the validation part and 0 in the training part.*a smaller fraction \(cv=0.9 "
           r"or less\)"),
])
def test_a_stratified_holdout_too_small_for_the_classes_is_refused_with_the_fraction_that_works(cv, text):
    """Before, scikit-learn's "test_size = 1 should be greater or equal to the number of classes = 2", no fix."""
    y = np.array([0, 1] * 10)
    assert make_cv_plan(cv, "binary").data_problems(y, "binary", None)[0].startswith("cv=holdout")
    import re

    assert re.search(text, make_cv_plan(cv, "binary").data_problems(y, "binary", None)[0])
    assert make_cv_plan(0.1, "binary").data_problems(y, "binary", None) == []


@pytest.mark.parametrize("cv, n_groups, expected", [
    (None, 3, "group:3"), (None, 8, "group:5"), ("group", 2, "group:2"), ("group:store", 4, "group:4"),
    ("group:store", 9, "group:5"), ("group:5", 3, "group:5"), (5, 3, "group:5"), (None, 1, "group:5"),
])
def test_folds_the_user_did_not_count_shrink_to_the_groups_and_a_written_count_is_kept(cv, n_groups, expected):
    """Before, the default and ``group:COLUMN`` always asked for 5 groups and refused 3 ("use cv='group:3'")."""
    plan = make_cv_plan(cv, "regression", has_groups=True, n_groups=n_groups)
    assert plan.description == expected


@pytest.mark.parametrize("cv", [None, "group:store"])
def test_a_fit_with_three_groups_and_no_folds_count_runs_one_fold_per_group(cv):
    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "store": np.repeat(["n", "s", "e"], 20)})
    frame["y"] = frame["x"] + rng.normal(size=60)
    groups = None if cv else "store"
    model = automl.fit(frame, target="y", cv=cv, groups=groups, n_trials=1, families=["linear"], tracking=False,
                       isolation="none", ensemble=False)
    assert model.cv_ == "group:3" and model.leaderboard()["n_folds"].iloc[0] == 3
    with pytest.raises(automl.DataValidationError, match=r"3 distinct group\(s\) but cv=group:5 needs at least 5"):
        automl.fit(frame, target="y", cv="group:5", groups="store", n_trials=1, families=["linear"], tracking=False,
                   isolation="none")


def test_classes_of_one_row_that_are_numbers_name_a_regression_as_the_other_fix():
    """Before, AutoMLClassifier on diabetes (whole numbers 25-346) said only "merge or drop the classes of one row"."""
    y = np.r_[np.arange(100, 110), np.repeat([1, 2, 3], 10)]
    problems = make_cv_plan(None, "multiclass", y=y).data_problems(y, "multiclass", None)
    assert "merge or drop the classes of one row" in problems[0] and "task='regression'" in problems[0]
    labels = np.array([f"c{v}" for v in y])
    assert "regression" not in make_cv_plan(None, "multiclass", y=labels).data_problems(labels, "multiclass", None)[0]


def test_time_folds_on_rows_out_of_time_order_are_warned_about_naming_the_sort():
    import warnings

    import automl

    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=n, freq="D")[rng.permutation(n)],
                          "a": rng.normal(size=n)})
    frame["y"] = 2 * frame.a + rng.normal(size=n)
    for rows, warned in ((frame, True), (frame.sort_values("when"), False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            automl.fit(rows, target="y", families=["linear"], n_trials=1, cv="time:3", tracking=False,
                       isolation="none")
        said = [str(w.message) for w in caught if "cv=time:3" in str(w.message)]
        assert bool(said) is warned
        assert not said or "X.sort_values('when')" in said[0]
    from automl._fit.early_checks import time_order_warnings

    assert time_order_warnings(make_cv_plan("time:3", "regression"), frame[["a"]]) == []  # nothing to tell time by
    assert time_order_warnings(make_cv_plan(5, "regression"), frame) == []


@pytest.mark.parametrize(("cv", "said"), [
    ("repeated:5x0", "needs at least 1 repeats, got 0"),
    ("5.0", "for 5 folds write cv=5"),  # as the float 5.0: one grammar for text and numbers
    (5.0, "for 5 folds write cv=5"),
    ("holdout", "write cv='holdout:0.2'"),
])
def test_cv_spellings_get_the_rule_they_break(cv, said):
    from automl.evaluation.splitters import parse_cv

    with pytest.raises(InvalidParameterError, match=re.escape(said)):
        parse_cv(cv)


def test_cv_spellings_that_name_a_kind_alone_take_its_five_folds_and_one_repeat_is_kfold():
    from automl.evaluation.splitters import parse_cv

    assert (parse_cv("kfold").folds, parse_cv("time").folds, parse_cv("group").folds) == (5, 5, 5)
    assert make_cv_plan("repeated:5x1", "regression").n_splits == 5
