"""Ensembles of trials: greedy selection on out-of-fold predictions, refitted, used by predict when they win."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.ensemble import EnsembleModel, blend, greedy_selection
from automl.evaluation import get_metric
from automl.families.pipeline import FamilyPipeline
from automl.search.oof import OOFStore


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A target that mixes a smooth linear part and a sharp interaction: no one family models both well."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    logit = 1.5 * X["x0"] + X["x1"] - X["x2"] + 2.0 * np.sign(X["x3"] * X["x4"])
    return X.assign(y=(logit + rng.logistic(size=n) > 0).astype(int))


def test_greedy_selection_blends_complementary_predictions_and_keeps_the_best_alone_otherwise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    signal = y + rng.normal(scale=1.0, size=300)
    noise_a, noise_b = rng.normal(size=300), rng.normal(size=300)
    a = np.c_[-(signal + noise_a), signal + noise_a]  # same signal, independent errors: the mean is better
    b = np.c_[-(signal + noise_b), signal + noise_b]
    metric = get_metric("roc_auc", "binary")
    chosen = greedy_selection([a, b], y, metric, rounds=20)
    assert chosen.counts.min() > 0 and chosen.counts.sum() == 20
    assert chosen.score > max(metric.compute(y, a), metric.compute(y, b))
    alone = greedy_selection([a, np.c_[y * 0.0, y * 0.0]], y, metric, rounds=5)  # a useless second candidate
    assert alone.counts.tolist() == [5, 0]
    assert alone.history == sorted(alone.history)  # never worse from round to round here


def test_blend_and_the_model_average_with_normalised_weights():
    X = _frame(120).drop(columns="y")
    y = _frame(120)["y"].to_numpy()
    members = [FamilyPipeline(f, {}, task="binary", n_classes=2).fit(X, y) for f in ("linear", "knn")]
    model = EnsembleModel(members, [3, 1], trials=[4, 7])
    assert model.weights == [0.75, 0.25] and model.families == ["linear", "knn"]
    expected = 0.75 * members[0].predict_scores(X) + 0.25 * members[1].predict_scores(X)
    np.testing.assert_allclose(model.predict_scores(X), expected)
    np.testing.assert_allclose(blend([np.ones(2), np.zeros(2)], [1, 3]), [0.25, 0.25])
    assert "linear#4: 0.75" in repr(model)


def test_a_winning_ensemble_heads_the_leaderboard_and_predicts(tmp_path):
    # 1000 rows: enough for the blend to beat the best trial on cross-fitted scores (+0.006 AUC here).
    frame = _frame(1000)
    model = automl.fit(frame, "y", n_trials=8, families=["linear", "random_forest", "knn"], cv=4, seed=0,
                       n_jobs=1, tracking=False)
    assert model.ensemble_ is not None, model.leaderboard()
    board = model.leaderboard()
    top = board.iloc[0]
    assert top["family"] == "ensemble" and top["rank"] == 1 and pd.isna(top["trial"])
    assert top["roc_auc_mean"] == pytest.approx(model.best_score_)
    best_single = board[board["family"] != "ensemble"].iloc[0]
    assert model.best_score_ > best_single["roc_auc_mean"] and model.best_trial_ == best_single["trial"]
    assert len(model.ensemble_["trials"]) >= 2 and sum(model.ensemble_["weights"]) == pytest.approx(1.0)
    assert isinstance(model.model_, EnsembleModel)
    # predict uses the members refitted on all rows, blended with the weights
    X = frame.drop(columns="y")
    canonical = model.schema_.transform(X)
    by_hand = sum(w * m.predict_scores(canonical) for w, m in zip(model.model_.weights, model.model_.members))
    np.testing.assert_allclose(model.predict_proba(X), by_hand, rtol=1e-6)
    # saved and loaded, it predicts the same
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.ensemble_["trials"] == model.ensemble_["trials"]


def test_ensemble_false_keeps_the_best_trial():
    model = automl.fit(_frame(), "y", n_trials=8, families=["linear", "random_forest", "knn"], cv=4, seed=0,
                       n_jobs=1, tracking=False, ensemble=False)
    assert model.ensemble_ is None and isinstance(model.model_, FamilyPipeline)
    assert model.model_source_ == f"refit of trial {model.best_trial_}"
    assert "ensemble" not in set(model.leaderboard()["family"])
    assert model.best_score_ == model.leaderboard().iloc[0]["roc_auc_mean"]


def test_the_oof_store_keeps_the_best_trials_and_spills_large_arrays():
    store = OOFStore(keep=3, greater_is_better=False, spill_bytes=1000)
    for number, loss in enumerate([0.5, 0.2, 0.9, 0.1, 0.3]):
        store.add(number, loss, np.full((400, 2), loss))  # 3200 bytes as float32: on disk
    assert sorted(store) == [1, 3, 4] and store.on_disk == 3
    assert float(store[3][0, 0]) == pytest.approx(0.1) and store[3].dtype == np.float32
    small = OOFStore(keep=2)
    small.add(0, 0.5, np.zeros(3))
    assert small.on_disk == 0 and len(small) == 1


def test_a_bad_ensemble_setting_is_refused():
    with pytest.raises(automl.InvalidParameterError, match="ensemble must be True or False, got 'yes'; for example ensemble=True"):
        automl.fit(_frame(40), "y", n_trials=1, tracking=False, ensemble="yes")


def test_the_leaderboard_marks_whether_first_is_significantly_better_than_second():
    from automl.evaluation.stats import paired_difference

    model = automl.fit(_frame(), "y", n_trials=6, families=["linear", "random_forest", "knn"], cv=5, seed=0,
                       n_jobs=1, tracking=False, ensemble=False)
    board = model.leaderboard()
    first, second = board.iloc[0], board.iloc[1]
    assert first["significant"] in (True, False) and board["significant"].iloc[1:].isna().all()
    trials = {t.number: t.user_attrs["automl:fold_scores"]["roc_auc"] for t in model.study_.trials
              if "automl:fold_scores" in t.user_attrs}
    _, p = paired_difference(trials[int(first["trial"])], trials[int(second["trial"])], 0.2, True)
    assert first["p_vs_next"] == pytest.approx(p)
    assert first["significant"] == (p < 0.05)
    # clear-cut and too close to call
    assert paired_difference([0.9] * 4 + [0.91], [0.5] * 4 + [0.52], 0.2, True)[1] < 0.001
    assert paired_difference([0.90, 0.80, 0.90, 0.80], [0.80, 0.90, 0.80, 0.90], 0.25, True)[1] > 0.4
    # lower is better for losses: the difference is in favour of the first
    diff, p = paired_difference([0.30, 0.31, 0.29], [0.40, 0.42, 0.41], 0.33, False)
    assert diff == pytest.approx(0.11) and p < 0.05


def test_greedy_selection_scores_candidates_on_a_seeded_sample_of_at_most_its_row_cap(monkeypatch):
    """Its cost is rounds x candidates x a metric over the rows: on 1,000,000 rows it ran a 300 s fit's ensemble
    stage 29.5 s past the budget. Beyond the cap the candidates are scored on a sample; below it on every row."""
    import automl.ensemble as ensemble
    from automl.evaluation.metrics import Metric

    seen: list[int] = []

    def rmse(y, p):
        seen.append(len(y))
        return float(np.sqrt(np.mean((y - p) ** 2)))

    metric = Metric("rmse_counted", rmse, greater_is_better=False, needs="prediction", tasks=frozenset({"regression"}))
    rng = np.random.default_rng(0)
    y = rng.normal(size=1_000)
    oofs = [y + rng.normal(0, s, size=1_000) for s in (0.5, 0.6, 0.7)]
    oofs[2][:10] = np.nan  # rows some candidate lacks are never scored
    monkeypatch.setattr(ensemble, "SELECTION_MAX_ROWS", 300)
    first = ensemble.greedy_selection(oofs, y, metric, rounds=5)
    assert set(seen) == {300}
    assert ensemble.greedy_selection(oofs, y, metric, rounds=5).counts.tolist() == first.counts.tolist()  # seeded
    seen.clear()
    monkeypatch.setattr(ensemble, "SELECTION_MAX_ROWS", 5_000)
    ensemble.greedy_selection(oofs, y, metric, rounds=5)
    assert set(seen) == {990}
