"""CSV files read with the model's types: ``automl predict`` gives the Python API's probabilities,
zero-padded codes stay text at ``automl fit``, and predict's misuse is a usage error (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import automl


def _automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("automl")
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    code = rng.choice([101, 102, 103, 104], n)
    padded = rng.choice(["007", "012", "042", "100"], n)
    x = rng.normal(size=n)
    label = np.where((code == 102) | (padded == "007") | (x > 1.2), "a", "b")
    return pd.DataFrame({"code": pd.Categorical(code), "padded": padded, "x": x, "label": label})


def test_predict_on_a_csv_gives_the_api_probabilities(tmp_path):
    frame = _frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, "label", n_trials=1, families=["linear"], cv=2, seed=0)
    model.save(tmp_path / "model")
    X = frame.drop(columns="label")
    X.to_csv(tmp_path / "rows.csv", index=False)  # "007" is written as 007, and read back as a number by default
    out = _automl("predict", "model", "rows.csv", "-o", "p.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "not seen at fit" not in out.stderr
    cli = pd.read_csv(tmp_path / "p.csv")
    assert list(cli.columns) == ["a", "b"]
    assert np.allclose(cli.to_numpy(), model.predict_proba(X), rtol=0, atol=1e-9)


def test_fit_reads_zero_padded_codes_as_text_and_predict_matches_them(tmp_path):
    frame = _frame()
    frame["wait"] = pd.to_timedelta(np.random.default_rng(5).integers(0, 9000, len(frame)), unit="s")
    frame.loc[3, "wait"] = pd.NaT
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = _automl("fit", "train.csv", "--target", "label", "--n-trials", "1", "--families", "linear", "--cv", "2",
                  "--seed", "0", "--output", "model", "--no-tracking", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    columns = {c["name"]: c for c in manifest["schema"]["columns"]}
    assert columns["padded"]["kind"] == "categorical"
    assert set(columns["padded"]["categories"]) == {"007", "012", "042", "100"}
    assert columns["x"]["kind"] == "numeric" and columns["code"]["kind"] == "numeric"  # other numbers stay numbers
    assert columns["wait"]["kind"] == "timedelta"  # "0 days 01:02:03" is a duration, not a category
    out = _automl("predict", "model", "train.csv", "-o", "p.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "not seen at fit" not in out.stderr
    model = automl.load(tmp_path / "model")
    X = frame.drop(columns="label").assign(code=frame["code"].astype(int))
    assert np.allclose(pd.read_csv(tmp_path / "p.csv").to_numpy(), model.predict_proba(X), rtol=0, atol=1e-9)


def test_predict_misuse_is_a_usage_error(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "z": rng.normal(size=60)})
    frame["y"] = 2.0 * frame["x"] + rng.normal(0, 0.1, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, seed=0)
    model.save(tmp_path / "model")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    out = _automl("predict", "model", "rows.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "regression" in out.stderr and "drop --proba" in out.stderr and "Traceback" not in out.stderr
    frame.drop(columns="z").to_csv(tmp_path / "short.csv", index=False)
    out = _automl("predict", "model", "short.csv", cwd=tmp_path)
    assert out.returncode == 2 and "missing" in out.stderr and "'z'" in out.stderr
    frame.assign(x=["inf"] + [1.0] * 59).to_csv(tmp_path / "inf.csv", index=False)  # pandas reads "inf" as infinity
    out = _automl("predict", "model", "inf.csv", cwd=tmp_path)
    assert out.returncode == 2 and "column 'x' holds 1 infinite value(s)" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "predictions.csv").exists()


def test_a_file_in_another_encoding_or_separated_by_semicolons_is_named_with_the_fix_and_nothing_is_written(
        tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_TRACKING", "1")  # as users run it: no MLflow store may appear either
    (tmp_path / "latin.csv").write_bytes("x,city,y\n1,S\xe9te,0\n2,Nice,1\n".encode("latin-1"))
    out = _automl("fit", "latin.csv", "--target", "y", "--n-trials", "1", "--output", "m", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "is not UTF-8 text (it holds the byte b'\\xe9'); save it as UTF-8" in out.stderr
    _frame().to_csv(tmp_path / "semi.csv", index=False, sep=";")
    out = _automl("fit", "semi.csv", "--target", "label", "--n-trials", "1", "--output", "m", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "read as one column named 'code;padded;x;label': it looks separated by ';'" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin.csv", "semi.csv"]


def test_a_one_column_file_with_a_plain_name_reads_without_a_warning(tmp_path):
    from automl.data.tables import read_table

    (tmp_path / "one.csv").write_text("x\n1\n2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_table(tmp_path / "one.csv")["x"].tolist() == [1, 2]


def test_a_level_spelled_like_a_missing_marker_is_read_as_the_level_at_predict(tmp_path):
    # Once "NA" (North America) in a CSV was read as missing by `automl predict` (pandas' default markers), so
    # its probabilities were silently those of a missing region, not the API's.
    rng = np.random.default_rng(0)
    n = 240
    region = rng.choice(["NA", "EU", "APAC"], n).astype(object)
    region[:6] = None  # truly missing cells: written empty, read as missing
    label = np.where(region == "NA", "a", "b")
    frame = pd.DataFrame({"x": rng.normal(size=n), "region": region, "label": label})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, "label", n_trials=1, families=["linear"], cv=2, seed=0, isolation="none")
    model.save(tmp_path / "model")
    X = frame.drop(columns="label")
    X.to_csv(tmp_path / "rows.csv", index=False)
    out = _automl("predict", "model", "rows.csv", "-o", "p.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "not seen at fit" not in out.stderr
    cli = pd.read_csv(tmp_path / "p.csv")
    assert np.allclose(cli.to_numpy(), model.predict_proba(X), rtol=0, atol=1e-9)
    assert cli["a"][region == "NA"].min() > 0.5  # the level's own probability, not a missing region's


def test_a_marker_the_model_does_not_know_is_missing_as_pandas_reads_it(tmp_path):
    from automl.data.schema import Schema
    from automl.data.tables import read_table

    schema = Schema.from_frame(pd.DataFrame({"region": ["EU", "APAC", None], "x": [1.0, 2.0, 3.0]}))
    (tmp_path / "rows.csv").write_text("region,x\nNA,1\nEU,2\n,3\nnull,4\n")
    read = read_table(tmp_path / "rows.csv", schema)
    assert read["region"].isna().tolist() == [True, False, True, True]
