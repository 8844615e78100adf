"""The ``automl`` console script, run for real in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd


def _automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("automl")
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_help_and_families(tmp_path):
    out = _automl("--help", cwd=tmp_path)
    assert out.returncode == 0 and "automl fit train.csv" in out.stdout
    out = _automl("families", cwd=tmp_path)
    assert out.returncode == 0
    assert "lightgbm" in out.stdout and "installed" in out.stdout


def test_fit_then_predict(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    out = _automl("fit", "train.csv", "--target", "label", "--n-trials", "2", "--families", "linear",
                  "--cv", "3", "--output", "model", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "roc_auc_mean" in out.stdout and "model saved to model" in out.stdout
    out = _automl("predict", "model", "train.csv", "-o", "p.csv", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    probabilities = pd.read_csv(tmp_path / "p.csv")
    assert list(probabilities.columns) == ["no", "yes"] and len(probabilities) == len(binary_df)


def test_usage_errors_exit_2_with_the_message(tmp_path, binary_df):
    binary_df.to_csv(tmp_path / "train.csv", index=False)
    out = _automl("fit", "train.csv", "--target", "labl", "--n-trials", "1", cwd=tmp_path)
    assert out.returncode == 2
    assert "did you mean 'label'" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv"]
