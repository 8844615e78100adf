"""The systems of the accuracy benchmark, a registry keyed by name (BENCHMARKS.md peers).

Every system is a function ``run(task, train, test, budget, seed) -> dict`` called inside a fresh
child interpreter (see ``benchmarks.accuracy``), with ``n_jobs=1`` and the BLAS/OpenMP thread
variables set to 1. It fits on ``train`` (the 80 %) and scores once on ``test`` (the 20 %). All
systems are scored by the same code, :func:`score`, on their ``predict_proba`` / ``predict`` output
(scikit-learn metrics; log loss with ``labels=`` the train classes, probabilities clipped by
scikit-learn). The returned dict holds ``score``, ``secondary`` (accuracy or r2), ``fit_s``,
``predict_s`` and optional ``n_trials``, ``best_family``, ``self_score`` (the system's own
evaluation of the same test rows, a cross-check), ``settings`` and, for automl, ``model_source``
(``model_source_``: what ``predict`` uses, with its temperature where the probabilities are scaled).

* ``automl``: ``automl.fit(train, target=..., time_budget=B, n_jobs=1, seed=SEED, tracking=False)``;
* ``lightgbm_default``: ``LGBMClassifier/LGBMRegressor(n_jobs=1, verbose=-1, random_state=SEED)``;
* ``histgb_default``: scikit-learn ``HistGradientBoostingClassifier/Regressor(random_state=SEED,
  categorical_features="from_dtype")``, all else default;
* ``flaml``: ``flaml.AutoML().fit(X, y, task="classification"|"regression",
  metric="roc_auc"|"log_loss"|"rmse", time_budget=B, n_jobs=1, seed=SEED, verbose=0)``;
* ``autogluon``: ``TabularPredictor(label=..., problem_type=..., eval_metric=roc_auc|log_loss|
  root_mean_squared_error).fit(train, time_limit=B, presets=P, num_cpus=1, num_gpus=0)`` with
  ``P = medium_quality`` up to 60 s and ``good_quality`` above (override: ``AUTOGLUON_PRESET``), in its
  own interpreter (AutoGluon 1.6 needs pandas < 3; see ``benchmarks.accuracy --autogluon-python``),
  on the frames untouched, like automl;
* ``optuna_lightgbm``: a plain Optuna loop (``TPESampler(seed=SEED)``, LightGBM defaults enqueued as
  the first trial) over learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
  reg_alpha, reg_lambda and n_estimators, scored by the manifest metric under 5-fold CV (stratified
  for classification, shuffled, ``random_state=SEED``), stopped so that the refit of the best
  configuration on the whole train part still ends within B.

The peers (all but ``automl``) get the frames of :func:`benchmarks.tasks.lightgbm_frames`: string
columns as ``category`` with the train categories, column names sanitised. automl gets the frames
untouched.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from benchmarks.tasks import Task


def score(task: Task, y_test, output, classes=None) -> tuple[float, float]:
    """``(metric, secondary)`` of ``output`` (probabilities, or predictions for regression)."""
    from sklearn import metrics as skm

    if task.task == "regression":
        pred = np.asarray(output, dtype=float)
        return float(np.sqrt(skm.mean_squared_error(y_test, pred))), float(skm.r2_score(y_test, pred))
    proba = np.asarray(output, dtype=float)
    classes = np.asarray(classes)
    labels = classes[np.argmax(proba, axis=1)]
    accuracy = float(skm.accuracy_score(np.asarray(y_test), labels))
    if task.metric == "roc_auc":
        return float(skm.roc_auc_score(np.asarray(y_test) == classes[1], proba[:, 1])), accuracy
    return float(skm.log_loss(np.asarray(y_test), proba, labels=classes)), accuracy


def _timed_score(task: Task, model, X_test, y_test, started: float, fitted: float, classes=None) -> dict:
    if task.task == "regression":
        output = model.predict(X_test)
    else:
        output = model.predict_proba(X_test)
    done = time.perf_counter()
    if task.task != "regression" and classes is None:
        classes = model.classes_
    metric, secondary = score(task, y_test, output, classes)
    return {"score": metric, "secondary": secondary, "fit_s": fitted - started, "predict_s": done - fitted}


# -- automl ----------------------------------------------------------------------------------
def run_automl(task: Task, train, test, budget: float, seed: int, cv: int | None = None,
               families: list[str] | None = None, ensemble: bool = True) -> dict:
    import automl

    extra = {} if cv is None else {"cv": cv}
    if families is not None:
        extra["families"] = families
    if not ensemble:
        extra["ensemble"] = False
    started = time.perf_counter()
    # MLflow tracking off: the peers log nothing either (its cost: python -m benchmarks.tracking_cost).
    model = automl.fit(train, target=task.target, time_budget=budget, n_jobs=1, seed=seed, tracking=False, **extra)
    fitted = time.perf_counter()
    X_test, y_test = test.drop(columns=[task.target]), test[task.target]
    record = _timed_score(task, model, X_test, y_test, started, fitted,
                          None if task.task == "regression" else model.classes_)
    board = model.leaderboard()
    record.update({
        "self_score": model.evaluate(test)[task.metric],
        "search_s": model.search_time_, "ensemble_s": getattr(model, "ensemble_time_", 0.0),
        "refit_s": model.refit_time_,
        "n_trials": int((board["trial"].notna() & (board["state"] == "complete")).sum()),
        "best_family": "ensemble" if getattr(model, "ensemble_", None) else model.best_family_,
        "families_used": ";".join(getattr(model, "families_used_", None) or [model.best_family_]),
        # what predict uses: a refit, a bag, an ensemble or a stack, and ", temperature-scaled (T=...)" if so
        "model_source": model.model_source_,
        "settings": ";".join(filter(None, ["" if cv is None else f"cv={cv}",
                                           "" if families is None else "families=" + ",".join(families),
                                           "" if ensemble else "ensemble=False"])),
    })
    return record


#: The net families, left out of ``automl_classical``.
NETS = ("torch_mlp", "tabm", "cnn")


def run_automl_mlp(task: Task, train, test, budget: float, seed: int, cv: int | None = None) -> dict:
    """automl searching the ``torch_mlp`` family alone."""
    return run_automl(task, train, test, budget, seed, cv, families=["torch_mlp"])


def run_automl_tabm(task: Task, train, test, budget: float, seed: int, cv: int | None = None) -> dict:
    """automl searching the ``tabm`` family alone."""
    return run_automl(task, train, test, budget, seed, cv, families=["tabm"])


def run_automl_no_ensemble(task: Task, train, test, budget: float, seed: int, cv: int | None = None) -> dict:
    """automl with ``ensemble=False``: the best single trial (the system before ensembles)."""
    return run_automl(task, train, test, budget, seed, cv, ensemble=False)


def run_automl_classical(task: Task, train, test, budget: float, seed: int, cv: int | None = None) -> dict:
    """automl searching every installed family but the nets, in the default order."""
    import automl

    classical = [f for f in automl.available_families(task.task, "table") if f not in NETS]
    return run_automl(task, train, test, budget, seed, cv, families=classical)


# -- AutoGluon -------------------------------------------------------------------------------
#: The suite's metric names as AutoGluon's ``eval_metric`` spells them.
AUTOGLUON_METRICS = {"roc_auc": "roc_auc", "log_loss": "log_loss", "rmse": "root_mean_squared_error"}


def autogluon_preset(budget: float) -> str:
    """The preset at ``budget`` seconds: ``medium_quality`` up to 60 s, ``good_quality`` above."""
    import os

    return os.environ.get("AUTOGLUON_PRESET") or ("medium_quality" if budget <= 60 else "good_quality")


def run_autogluon(task: Task, train, test, budget: float, seed: int) -> dict:
    import tempfile

    from autogluon.tabular import TabularPredictor

    metric = AUTOGLUON_METRICS[task.metric]
    preset = autogluon_preset(budget)
    X_test, y_test = test.drop(columns=[task.target]), test[task.target]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        predictor = TabularPredictor(label=task.target, problem_type=task.task, eval_metric=metric, path=folder,
                                     verbosity=0)
        predictor.fit(train, time_limit=budget, presets=preset, num_cpus=1, num_gpus=0)
        fitted = time.perf_counter()
        if task.task == "regression":
            output = predictor.predict(X_test).to_numpy()
            classes = None
        else:
            proba = predictor.predict_proba(X_test)
            classes = np.asarray(proba.columns)
            output = proba.to_numpy()
        done = time.perf_counter()
        board = predictor.leaderboard(silent=True)
        best = str(predictor.model_best)
    metric_value, secondary = score(task, y_test, output, classes)
    return {"score": metric_value, "secondary": secondary, "fit_s": fitted - started, "predict_s": done - fitted,
            "n_trials": len(board), "best_family": best, "settings": f"presets={preset}"}


# -- defaults --------------------------------------------------------------------------------
def run_lightgbm(task: Task, train, test, budget: float, seed: int) -> dict:
    import lightgbm

    from benchmarks.tasks import lightgbm_frames

    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, task)
    kind = lightgbm.LGBMRegressor if task.task == "regression" else lightgbm.LGBMClassifier
    model = kind(n_jobs=1, verbose=-1, random_state=seed)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    record = _timed_score(task, model, X_test, y_test, started, time.perf_counter())
    return {**record, "best_family": "lightgbm"}


def run_histgb(task: Task, train, test, budget: float, seed: int) -> dict:
    from sklearn import ensemble

    from benchmarks.tasks import lightgbm_frames

    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, task)
    kind = (ensemble.HistGradientBoostingRegressor if task.task == "regression"
            else ensemble.HistGradientBoostingClassifier)
    model = kind(random_state=seed, categorical_features="from_dtype")
    started = time.perf_counter()
    model.fit(X_train, y_train)
    record = _timed_score(task, model, X_test, y_test, started, time.perf_counter())
    return {**record, "best_family": "hist_gradient_boosting"}


# -- FLAML -----------------------------------------------------------------------------------
def run_flaml(task: Task, train, test, budget: float, seed: int) -> dict:
    import logging

    from flaml import AutoML

    from benchmarks.tasks import lightgbm_frames

    logging.getLogger("flaml.automl.logger").setLevel(logging.WARNING)
    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, task)
    model = AutoML()
    started = time.perf_counter()
    model.fit(X_train, y_train, task="regression" if task.task == "regression" else "classification",
              metric=task.metric, time_budget=budget, n_jobs=1, seed=seed, verbose=0)
    record = _timed_score(task, model, X_test, y_test, started, time.perf_counter())
    trials = getattr(model, "config_history", None)
    return {**record, "n_trials": len(trials) if trials is not None else "", "best_family": model.best_estimator}


# -- plain Optuna + LightGBM -----------------------------------------------------------------
LGBM_DEFAULTS = {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "subsample": 1.0,
                 "colsample_bytree": 1.0, "reg_alpha": 1e-8, "reg_lambda": 1e-8, "n_estimators": 100}


def _suggest(trial) -> dict:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        "n_estimators": trial.suggest_int("n_estimators", 50, 1000, log=True),
    }


def run_optuna_lightgbm(task: Task, train, test, budget: float, seed: int) -> dict:
    import lightgbm
    import optuna
    from sklearn.model_selection import KFold, StratifiedKFold

    from benchmarks.tasks import lightgbm_frames

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, task)
    started = time.perf_counter()
    deadline = started + budget
    regression = task.task == "regression"
    kind = lightgbm.LGBMRegressor if regression else lightgbm.LGBMClassifier
    classes = None if regression else np.unique(y_train)
    splitter = (KFold(5, shuffle=True, random_state=seed) if regression
                else StratifiedKFold(5, shuffle=True, random_state=seed))
    folds = list(splitter.split(X_train, y_train))
    sign = 1.0 if task.metric == "roc_auc" else -1.0  # maximise
    fold_fit_s: list[float] = []  # seconds per fold fit, to predict the next fold and the refit
    best: dict = {}  # fold fit seconds of the best trial so far

    def refit_s() -> float:  # the whole train part is 1.25x a fold's training rows
        return 1.25 * max(np.median(fold_fit_s), best.get("fold_s", 0.0))

    def build(params: dict):
        return kind(n_jobs=1, verbose=-1, random_state=seed, subsample_freq=1, **params)

    def objective(trial) -> float:
        params = _suggest(trial)
        values = []
        for train_idx, valid_idx in folds:
            if fold_fit_s and time.perf_counter() + max(fold_fit_s[-1], np.median(fold_fit_s)) + refit_s() > deadline:
                raise optuna.TrialPruned("out of budget")
            t0 = time.perf_counter()
            model = build(params).fit(X_train.iloc[train_idx], y_train.iloc[train_idx])
            fold_fit_s.append(time.perf_counter() - t0)
            X_valid, y_valid = X_train.iloc[valid_idx], y_train.iloc[valid_idx]
            if regression:
                output = model.predict(X_valid)
            else:  # align the columns to all train classes (a rare class may miss a fold)
                output = np.full((len(valid_idx), len(classes)), 1e-15)
                output[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X_valid)
            values.append(sign * score(task, y_valid, output, classes)[0])
        value = float(np.mean(values))
        if not best or value > best["value"]:
            best.update(value=value, fold_s=float(np.mean(fold_fit_s[-len(folds):])))
        return value

    def stop_when_late(study, _trial) -> None:  # not even one more fold fits before the refit
        if fold_fit_s and time.perf_counter() + np.median(fold_fit_s) + refit_s() > deadline:
            study.stop()

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(LGBM_DEFAULTS)
    remaining = deadline - time.perf_counter()
    study.optimize(objective, timeout=max(remaining, 1.0), callbacks=[stop_when_late], gc_after_trial=False)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    params = study.best_params if complete else LGBM_DEFAULTS
    model = build(params).fit(X_train, y_train)
    record = _timed_score(task, model, X_test, y_test, started, time.perf_counter())
    return {**record, "n_trials": len(complete), "best_family": "lightgbm"}


SYSTEMS: dict[str, Callable[..., dict]] = {
    "automl": run_automl,
    "automl_mlp": run_automl_mlp,
    "automl_tabm": run_automl_tabm,
    "automl_classical": run_automl_classical,
    "automl_no_ensemble": run_automl_no_ensemble,
    "flaml": run_flaml,
    "autogluon": run_autogluon,
    "optuna_lightgbm": run_optuna_lightgbm,
    "lightgbm_default": run_lightgbm,
    "histgb_default": run_histgb,
}
BASELINE = "lightgbm_default"  # normalised score 0
