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


def test_fit_pixel_columns_with_image_shape_and_a_device(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    pixels = rng.normal(size=(80, 16))
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(16)])
    frame["label"] = (pixels[:, :8].mean(axis=1) > 0).astype(int)
    frame.to_csv(tmp_path / "images.csv", index=False)
    out = _automl("fit", "images.csv", "--target", "label", "--image-shape", "4x4", "--families", "cnn",
                  "--n-trials", "1", "--cv", "2", "--device", "cpu", "--no-tracking", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "cnn" in out.stdout
    out = _automl("fit", "images.csv", "--target", "label", "--image-shape", "4by4", "--n-trials", "1",
                  cwd=tmp_path)
    assert out.returncode == 2 and "--image-shape must look like HEIGHTxWIDTH" in out.stderr
    out = _automl("fit", "images.csv", "--target", "label", "--device", "gpu", "--n-trials", "1", cwd=tmp_path)
    assert out.returncode == 2 and "device must be 'auto'" in out.stderr
