"""Free-text columns: detected (or forced) at the edge, encoded inside each fold, kept through save, load
and predict, refused clearly when misnamed. The data: a review column whose words decide the label."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import automl
from automl.data.text import TextEncoder, looks_like_text, text_columns
from benchmarks.text_columns import POSITIVE, rare_word_reviews, reviews
from automl.exceptions import AutoMLError, DataValidationError, InvalidParameterError

ROOT = Path(__file__).resolve().parents[2]


def _auc(model, test: pd.DataFrame) -> float:
    proba = model.predict_proba(test.drop(columns="label"))[:, list(model.classes_).index("good")]
    return roc_auc_score(test["label"] == "good", proba)


@pytest.fixture(scope="module")
def split():
    df = reviews(900)
    return df.iloc[:600].reset_index(drop=True), df.iloc[600:].reset_index(drop=True)


@pytest.fixture(scope="module")
def text_model(split):
    return automl.fit(split[0], "label", n_trials=2, families=["linear"], cv=3, tracking=False)


def test_the_words_of_a_text_column_decide_the_label_on_held_out_rows(split, text_model):
    train, test = split
    assert [c.kind for c in text_model.schema_.columns] == ["text", "numeric", "numeric"]
    with_text = _auc(text_model, test)
    numbers_only = automl.fit(train.drop(columns="review"), "label", n_trials=2, families=["linear"], cv=3,
                              tracking=False)
    without = _auc(numbers_only, test.drop(columns="review"))
    print(f"held-out AUC with the text column {with_text:.4f}, without {without:.4f}")
    assert with_text >= 0.9 and without <= 0.6


def test_before_a_text_column_was_one_category_per_row_and_scored_at_chance(split):
    """The same column forced to a category: what every fit did before (the role setting's other way)."""
    train, test = split
    model = automl.fit(train, "label", n_trials=2, families=["linear"], cv=3, tracking=False,
                       column_roles={"review": "categorical"})
    assert model.schema_.columns[0].kind == "categorical"
    assert _auc(model, test) <= 0.65


def test_the_text_settings_are_searched_and_recorded(split):
    model = automl.fit(split[0], "label", n_trials=6, families=["linear"], cv=2, tracking=False, seed=3)
    params = model.leaderboard()["params"].tolist()
    assert all({"text_analyzer", "text_ngram_max", "text_dims"} <= set(p) for p in params)
    assert len({(p["text_analyzer"], p["text_ngram_max"], p["text_dims"]) for p in params}) > 1


def test_save_load_round_trip_unseen_words_and_missing_text(text_model, split, tmp_path):
    test = split[1].drop(columns="label").head(20).copy()
    path = text_model.save(tmp_path / "model")
    loaded = automl.load(path)
    np.testing.assert_allclose(loaded.predict_proba(test), text_model.predict_proba(test))
    odd = test.head(3).copy()
    odd["review"] = [None, "", "zebra quantum unseen words only"]
    proba = loaded.predict_proba(odd)
    assert np.isfinite(proba).all() and proba.shape == (3, 2)
    empty = odd.copy()
    empty["review"] = ["", "", ""]
    np.testing.assert_allclose(proba[:2], loaded.predict_proba(empty)[:2])  # missing text == empty text


def test_a_missing_text_column_at_predict_raises_as_any_missing_column(text_model, split):
    with pytest.raises(DataValidationError, match=r"missing: \['review'\]"):
        text_model.predict(split[1].drop(columns=["label", "review"]))


def test_detection_text_categories_and_names():
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame({
        "note": [f"customer asked about invoice {i} twice" for i in range(n)],
        "city": rng.choice(["Oslo", "Rome", "Lima"], n),
        "title": rng.choice(["senior data scientist", "junior data engineer", "lead analyst role"], n),
        "name": [f"Person{i} Smith" for i in range(n)],
        "code": [f"{i:05d}" for i in range(n)],
    })
    assert text_columns(frame) == ["note"]
    assert text_columns(frame, {"note": "categorical", "title": "text"}) == ["title"]
    assert not looks_like_text(frame["note"].head(10))  # too few rows to tell


def test_the_encoder_is_fitted_on_the_rows_it_is_given_only():
    train = pd.Series(["alpha beta gamma"] * 5 + ["delta epsilon zeta"] * 5)
    encoder = TextEncoder(dims=4).fit(train)
    assert encoder.transform(pd.Series(["omega psi chi"])).tolist() == [[0.0] * encoder.n_features_out_]


@pytest.mark.parametrize(("roles", "match"), [
    ({"reveiw": "text"}, r"unknown column 'reveiw'; did you mean 'review'\?"),
    ({"num1": "text"}, r"only a column of strings can be text or categorical, but 'num1' has dtype float64"),
    ({"review": "words"}, r"the role must be one of \['text', 'categorical'\]"),
    ("review", r"must map column names to a role"),
])
def test_bad_column_roles_raise_a_typed_error_and_write_nothing(split, tmp_path, roles, match):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(InvalidParameterError, match=match) as info:
        automl.fit(split[0], "label", n_trials=1, families=["linear"], tracking=True, tracking_uri=uri,
                   column_roles=roles, storage=str(tmp_path / "s.journal"), study_name="bad")
    assert isinstance(info.value, (ValueError, AutoMLError))
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_cli_reads_text_and_takes_the_role_flag(split, tmp_path):
    train, test = split
    train.to_csv(tmp_path / "train.csv", index=False)
    test.drop(columns="label").head(30).to_csv(tmp_path / "new.csv", index=False)
    env = {"PYTHONPATH": str(ROOT), "AUTOML_TRACKING": "0", "PATH": "/usr/bin:/bin"}
    fit = subprocess.run([sys.executable, "-m", "automl", "fit", "train.csv", "--target", "label", "--families",
                          "linear", "--n-trials", "1", "--cv", "2", "--column-roles", "review=text", "--output",
                          "model"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert fit.returncode == 0, fit.stderr
    predict = subprocess.run([sys.executable, "-m", "automl", "predict", "model", "new.csv", "-o", "out.csv"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert predict.returncode == 0, predict.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 30
    assert (out.iloc[:, -1] == text_model_labels(test.head(30))).mean() > 0.9


def text_model_labels(rows: pd.DataFrame) -> np.ndarray:
    """The label each review's sentiment word says."""
    return np.array(["good" if any(w in POSITIVE for w in r.split()) else "bad" for r in rows["review"]])


def test_the_documented_thresholds_are_the_code_s():
    """The README and the setting's doc state the detection rule; they follow the constants."""
    from automl.config import setting
    from automl.data.text import ROLES, TEXT_MIN_DISTINCT_SHARE, TEXT_MIN_ROWS, TEXT_MIN_WORDS

    doc = setting("column_roles").doc
    readme = (ROOT / "README.md").read_text()
    for text in (doc, readme):
        assert f"{TEXT_MIN_DISTINCT_SHARE:.0%}".replace("%", " %") in text
        assert f"{TEXT_MIN_WORDS:g} words" in text and f"{TEXT_MIN_ROWS} " in text
    from automl.config import _ROLES
    assert tuple(_ROLES) == ROLES


def test_a_text_column_is_explained_as_one_input_column_and_ranks_first(text_model, split):
    test = split[1].head(60)
    importance = text_model.feature_importance(test)
    assert importance["feature"].iloc[0] == "review"
    contributions = text_model.explain(test.drop(columns="label"))
    assert list(contributions.columns) == ["review", "num1", "num2", "base_value"]
    assert contributions[["review", "num1", "num2"]].abs().mean().idxmax() == "review"
    raw = contributions.drop(columns="base_value").sum(axis=1) + contributions["base_value"]
    positive = list(text_model.classes_).index(text_model.pos_label_)  # the class explained
    proba = text_model.predict_proba(test.drop(columns="label"))[:, positive]
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), proba, atol=1e-6)  # linear: exact, on the log-odds


def test_rare_words_that_decide_the_label_are_not_lost_in_the_reduction():
    """300 sentiment words among 3,000: the SVD's themes miss them (held-out AUC 0.54 with it alone);
    the text model's out-of-fold score keeps them (a plain TF-IDF + logistic regression gets 0.86)."""
    df = rare_word_reviews(3000, seed=0)
    train, test = df.iloc[:2000], df.iloc[2000:]
    model = automl.fit(train, "label", n_trials=2, families=["linear"], cv=3, tracking=False)
    auc = roc_auc_score(test["label"] == "good", model.predict_proba(test.drop(columns="label"))[:, 1])
    print(f"held-out AUC on rare sentiment words: {auc:.4f}")
    assert auc >= 0.75


def test_the_training_rows_text_scores_are_out_of_fold():
    """Noise texts, random labels: a text model memorises its training rows (in-sample AUC near 1), so
    training rows get out-of-fold scores (AUC near 0.5), as new rows will."""
    rng = np.random.default_rng(0)
    texts = pd.Series([" ".join(f"t{rng.integers(0, 5000)}" for _ in range(8)) for _ in range(400)])
    y = rng.integers(0, 2, 400)
    encoder = TextEncoder(dims=8, task="binary", n_classes=2)
    features = encoder.fit_transform(texts, y)
    assert features.shape == (400, 9) and encoder.n_features_out_ == 9
    assert abs(roc_auc_score(y, features[:, -1]) - 0.5) < 0.1
    assert roc_auc_score(y, encoder.transform(texts)[:, -1]) > 0.95


def test_the_text_settings_can_be_pinned_or_narrowed_like_any_parameter(split):
    model = automl.fit(split[0], "label", n_trials=3, families=["linear"], cv=2, tracking=False, seed=1,
                       search_space={"linear": {"text_analyzer": "char_wb", "text_dims": {"low": 8, "high": 12}}})
    params = model.leaderboard()["params"].tolist()
    assert all(p["text_analyzer"] == "char_wb" and 8 <= p["text_dims"] <= 12 for p in params)


def test_text_settings_for_data_without_text_are_refused_before_the_search(split, tmp_path):
    with pytest.raises(InvalidParameterError, match=r"the data has no free-text column") as info:
        automl.fit(split[0].drop(columns="review"), "label", n_trials=1, families=["linear"], tracking=True,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", search_space={"linear": {"text_dims": 16}})
    assert isinstance(info.value, AutoMLError) and list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidParameterError, match=r"text_dims"):
        automl.fit(split[0], "label", n_trials=1, families=["linear"], tracking=False,
                   search_space={"linear": {"text_dims": 0}})


def test_long_texts_count_by_their_length_when_the_folds_are_chosen():
    """Before, a text column was one cell of work: 300 rows of 10 kB texts got 5 x 2 repeated folds at 30 s, each
    fold's encoding took 5-7 s, and the fit ended with no model (BudgetExhaustedError). At 100 characters a cell
    they got 5 folds, and on a loaded machine the fit still ended with no model."""
    from automl._fit.problem import prepare_problem
    from automl.config import resolve_settings

    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(2000)])
    frame = pd.DataFrame({"a": rng.normal(size=300)})
    frame["note"] = [" ".join(rng.choice(vocab, 1500)) for _ in range(300)]  # about 8,700 characters: 350 cells
    settings = resolve_settings({"time_budget": 30, "tracking": False}, estimator="classifier")
    y = (frame["a"] > 0).astype(int)
    assert prepare_problem(settings, frame, y).plan.description == "stratified_kfold:3"  # 300 x 350 / 30 s > 2,000
    short = frame.assign(note=[" ".join(rng.choice(vocab, 3)) for _ in range(300)])
    assert prepare_problem(settings, short, y).plan.description == "repeated:5x2"


def test_the_cv_setting_quotes_the_fold_rule_constants():
    """The cv setting's text (README table, --help) quotes the planner's bounds: one definition, checked here."""
    from automl.config import SETTINGS
    from automl.data.text import TEXT_CHARS_PER_CELL
    from automl.evaluation import splitters

    doc = " ".join(next(s for s in SETTINGS if s.name == "cv").doc.split())
    assert f"a cell per {TEXT_CHARS_PER_CELL} characters" in doc
    assert f"repeated only up to {splitters.REPEATED_MAX_WORK:,.0f} cells" in doc
    assert f"3 folds above {splitters.FIVE_FOLDS_MAX_WORK:,.0f}" in doc
    assert f"holdout from {splitters.HOLDOUT_MIN_WORK:,.0f} on at least {splitters.HOLDOUT_MIN_ROWS:,} rows" in doc


def test_long_texts_at_a_budget_their_folds_can_pay_for_give_a_model():
    """The probe's shape from outside: 300 rows of 10 kB texts at 30 s ended with no model."""
    rng = np.random.default_rng(3)
    vocab = np.array([f"w{i}" for i in range(5000)])
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame["y"] = (frame["a"] + rng.normal(size=300) > 0).astype(int)
    frame["s"] = [" ".join(rng.choice(vocab, 1500)) for _ in range(300)]
    model = automl.fit(frame, target="y", time_budget=30, tracking=False)
    assert model.cv_ == "stratified_kfold:3" and (model.leaderboard()["state"] == "complete").any()


def _long_texts(n: int, seed: int) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(3000)])
    return pd.Series([" ".join(rng.choice(vocab, 400)) for _ in range(n)]), rng.integers(0, 2, n)


def test_a_folds_text_encoding_is_computed_once_per_search_and_gives_the_same_features():
    """Every trial encoded each fold's text again (seconds a fold on long texts); the encoding depends only on the
    fold's texts, target and the vectoriser's options, so the search's trials now share it. Timed from outside:
    the second encoder of the same fold is much faster, and its features are the very same."""
    import time

    from automl.data import text_cache
    from automl.data.text import TextEncoder

    texts, y = _long_texts(300, 0)
    fresh = TextEncoder(task="binary").fit_transform(texts, y)  # no scope: nothing kept
    assert not text_cache._entries
    with text_cache.reuse():
        started = time.perf_counter()
        first = TextEncoder(task="binary").fit_transform(texts, y)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = TextEncoder(task="binary", dims=16).fit_transform(texts, y)  # another SVD size: the words are reused
        second_seconds = time.perf_counter() - started
        other_target = TextEncoder(task="binary").fit_transform(texts, 1 - y)  # another target: computed again
    text_cache.clear()
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(second[:, -1], fresh[:, -1])  # the same out-of-fold text scores
    assert second.shape == (300, 17) and not np.array_equal(other_target[:, -1], fresh[:, -1])
    assert second_seconds < first_seconds / 3, (first_seconds, second_seconds)


def test_the_text_cache_keeps_at_most_its_bytes_and_is_cleared_when_the_search_ends(monkeypatch):
    from automl.data import text_cache
    from automl.data.text import TextEncoder

    texts, y = _long_texts(100, 1)
    monkeypatch.setattr(text_cache, "MAX_BYTES", 1)  # nothing fits: nothing kept, the fit still works
    with text_cache.reuse():
        assert TextEncoder(task="binary").fit_transform(texts, y).shape == (100, 33)
    assert not text_cache._entries and text_cache._bytes == 0
    monkeypatch.undo()
    model = automl.fit(pd.DataFrame({"note": texts, "y": y}), target="y", n_trials=2, families=["linear"], cv=2,
                       isolation="none", tracking=False)
    assert model.predict(pd.DataFrame({"note": texts[:3]})).shape == (3,)
    assert not text_cache._entries and text_cache._bytes == 0  # the search ran here and dropped what it kept


def test_the_text_cache_counts_a_multiclass_text_models_coefficients_in_its_bytes():
    """The bound counted the vectoriser's terms and the matrices but not the text model: its coefficients are
    classes x terms (20 classes of 50,000 terms: 8 MB an entry, counted as nothing)."""
    from automl.data import text_cache
    from automl.data.text import TextEncoder

    texts, _ = _long_texts(300, 3)
    y = np.random.default_rng(3).integers(0, 20, 300)
    with text_cache.reuse():
        encoder = TextEncoder(task="multiclass", n_classes=20)
        encoder.fit_transform(texts, y)
        kept = text_cache._bytes
    text_cache.clear()
    assert kept >= encoder.scorer_.coef_.nbytes + encoder.scorer_.intercept_.nbytes + 8 * 300 * 20


def test_a_saved_text_model_does_not_carry_the_cut_n_grams(tmp_path):
    """scikit-learn's vectoriser keeps every n-gram max_features cut (for introspection); long texts have ten
    times more of them than kept ones, in memory and in every saved model."""
    from automl.data.text import TextEncoder

    texts, y = _long_texts(200, 2)
    encoder = TextEncoder(task="binary").fit(texts, y)
    assert encoder.vectoriser_.stop_words_ is None and len(encoder.vectoriser_.vocabulary_) == 50_000


def test_a_character_analyser_fits_without_scikit_learns_token_pattern_warning():
    import warnings

    texts = pd.Series([f"parcel {i} late again and again" for i in range(40)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert TextEncoder(analyzer="char_wb", dims=2).fit(texts).transform(texts).shape == (40, 2)


def test_a_role_given_to_the_target_is_told_it_is_the_target_not_an_unknown_column():
    frame = pd.DataFrame({"note": [f"call back on day {i}" for i in range(40)], "y": ["a", "b"] * 20})
    with pytest.raises(InvalidParameterError, match="'y' is the target; roles are for feature columns"):
        automl.fit(frame, target="y", column_roles={"y": "text"}, n_trials=1, tracking=False)
