"""Values the schema compares and types it refuses: categories by value, timedeltas as seconds,
unsupported dtypes and derived-name clashes refused before anything is written."""

from __future__ import annotations

import decimal
import warnings

import numpy as np
import pandas as pd
import pytest

import automl
from automl.exceptions import DataValidationError

CODES = [101, 102, 103, 104]
PADDED = ["007", "012", "042", "100"]


def _coded_frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    code = rng.choice(CODES, n)
    padded = rng.choice(PADDED, n)
    x = rng.normal(size=n)
    label = np.where((code == 102) | (padded == "007") | (x > 1.2), "a", "b")
    return pd.DataFrame({"code": pd.Categorical(code), "padded": padded, "x": x, "label": label})


@pytest.fixture(scope="module")
def coded_model(tmp_path_factory):
    frame = _coded_frame()
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        patch.setenv("AUTOML_TRACKING", "0")  # a module fixture runs before conftest's per-test settings
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(tmp_path_factory.mktemp("coded"))
        warnings.simplefilter("ignore")
        model = automl.fit(frame, "label", n_trials=1, families=["linear"], cv=2, seed=0)
    return model, frame.drop(columns="label")


def _proba_without_unseen_warning(model, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proba = model.predict_proba(X)
    unseen = [str(w.message) for w in caught if "not seen at fit" in str(w.message)]
    assert not unseen, unseen
    return proba


def test_categories_compare_by_value_not_by_printed_form(coded_model):
    model, X = coded_model
    base = _proba_without_unseen_warning(model, X)
    # the categories matter: without them the probabilities move
    assert np.abs(model.predict_proba(X.assign(code=np.nan, padded=np.nan)) - base).max() > 0.05
    with_gap = X.assign(code=X["code"].astype("float64"))
    with_gap.loc[0, "code"] = np.nan  # one gap: the integer codes arrive as floats (101.0)
    variants = {
        "floats with a gap": with_gap,
        "float categories": with_gap.assign(code=with_gap["code"].astype("category")),
        "integer codes as text": X.assign(code=X["code"].astype(int).astype(str)),
        "integer codes as float text": X.assign(code=X["code"].astype(float).astype(str)),
        "numpy integers": X.assign(code=X["code"].astype("int64")),
        "zero-padded codes read as numbers": X.assign(padded=X["padded"].astype(int)),
        "zero-padded codes as floats": X.assign(padded=X["padded"].astype(float)),
    }
    for name, frame in variants.items():
        proba = _proba_without_unseen_warning(model, frame)
        rows = slice(1, None) if name in ("floats with a gap", "float categories") else slice(None)
        assert np.allclose(proba[rows], base[rows], rtol=0, atol=1e-9), name


def test_values_that_are_not_the_fitted_ones_stay_unseen(coded_model):
    model, X = coded_model
    missing = model.predict_proba(X.head(3).assign(code=np.nan))
    for other in (101.5, "101.5", "abc", True):
        with pytest.warns(UserWarning, match="not seen at fit"):
            proba = model.predict_proba(X.head(3).assign(code=other))
        assert np.allclose(proba, missing, rtol=0, atol=1e-12), other


def test_a_number_matches_the_text_level_that_spells_it_the_plain_spelling_first():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"c": rng.choice(["7", "007", "8"], 90), "x": rng.normal(size=90)})
    frame["y"] = (frame["c"] == "007").astype(int) ^ (frame["x"] > 1.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, seed=0)
    X = frame.drop(columns="y").head(4)
    assert not np.allclose(model.predict_proba(X.assign(c="7")), model.predict_proba(X.assign(c="007")))
    for number, level in ((7.0, "7"), (7, "7"), (8.0, "8")):
        expected = model.predict_proba(X.assign(c=level))
        assert np.allclose(_proba_without_unseen_warning(model, X.assign(c=number)), expected, atol=1e-12)


def test_a_timedelta_feature_is_its_seconds_at_fit_and_at_predict():
    rng = np.random.default_rng(0)

    def frame(n, seed):
        r = np.random.default_rng(seed)
        seconds = r.integers(0, 7200, n)
        return pd.DataFrame({"wait": pd.to_timedelta(seconds, unit="s"), "noise": r.normal(size=n),
                             "label": np.where(seconds > 3600, "long", "short")})

    train, test = frame(120, 0), frame(200, 1)
    del rng
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(train, "label", n_trials=1, families=["linear"], cv=2, seed=0)
    X = test.drop(columns="label")
    accuracy = float((model.predict(X) == test["label"].to_numpy()).mean())
    assert accuracy > 0.9  # a text category of unique durations would be near chance (0.5)
    as_text = X.assign(wait=X["wait"].astype(str))  # what a CSV gives back: "0 days 01:02:03"
    assert np.allclose(model.predict_proba(as_text), model.predict_proba(X), rtol=0, atol=1e-12)
    with pytest.raises(DataValidationError, match="'wait'.*timedelta"):
        model.predict(X.assign(wait=X["wait"].dt.total_seconds()))  # bare numbers have no unit


UNSUPPORTED = {
    "period": (pd.Series(pd.period_range("2024-01", periods=40, freq="D")), "period"),
    "interval": (pd.Series(pd.interval_range(0, 40)), "interval"),
    "complex": (pd.Series(np.arange(40) + 1j), "complex"),
    "bytes": (pd.Series([b"a", b"b"] * 20, dtype=object), "bytes"),
    "dict": (pd.Series([{"a": 1}, {"a": 2}] * 20, dtype=object), "dict"),
    "list": (pd.Series([[1], [2]] * 20, dtype=object), "list"),
    "mixed": (pd.Series([1, "a"] * 20, dtype=object), "mixes"),
    "decimal": (pd.Series([decimal.Decimal(i) for i in range(40)], dtype=object), "decimal"),
    "dates": (pd.Series([pd.Timestamp("2024-01-01").date()] * 39 + [None], dtype=object), "date"),
    "objects": (pd.Series([object() for _ in range(40)], dtype=object), "object"),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_an_unsupported_dtype_is_refused_naming_the_column_and_the_fix(kind, tmp_path):
    values, word = UNSUPPORTED[kind]
    frame = pd.DataFrame({"x": np.arange(40.0), "odd": values, "y": [0, 1] * 20})
    with pytest.raises(DataValidationError) as info:
        automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, study_name="s")
    message = str(info.value)
    assert "'odd'" in message and word in message
    assert any(fix in message for fix in ("convert", "split", "flatten", "decode", "make it one type", "use one"))
    assert list(tmp_path.iterdir()) == []


def test_a_column_named_like_a_datetime_part_is_refused_before_a_study_or_run(tmp_path, monkeypatch):
    store = tmp_path.parent / f"{tmp_path.name}-mlflow"
    store.mkdir()
    monkeypatch.setenv("AUTOML_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'm.db'}")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "d": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, 60), unit="D"),
        "d__year": rng.normal(size=60),
        "y": [0, 1] * 30,
    })
    with pytest.raises(DataValidationError, match=r"'d__year'.*datetime column 'd'.*rename"):
        automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, study_name="clash")
    assert list(tmp_path.iterdir()) == []  # no study journal in the working directory
    if (store / "m.db").exists():
        import mlflow

        client = mlflow.MlflowClient(f"sqlite:///{store / 'm.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        assert not experiments or client.search_runs(experiments) == []
