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
    assert "roc_auc_mean" in out.stdout and f"model saved to {tmp_path / 'model'}" in out.stdout
    assert "automl resume" not in out.stdout  # an in-memory study cannot be resumed
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
    assert out.returncode == 2 and "image_shape must be (height, width)" in out.stderr and "'4by4'" in out.stderr
    out = _automl("fit", "images.csv", "--target", "label", "--device", "gpu", "--n-trials", "1", cwd=tmp_path)
    assert out.returncode == 2 and "device must be 'auto'" in out.stderr


def test_every_command_has_help_with_examples(tmp_path):
    for command in ["fit", "sweep", "worker", "resume", "leaderboard", "predict", "spaces", "ui"]:
        out = _automl(command, "--help", cwd=tmp_path)
        assert out.returncode == 0, command
        assert "examples:" in out.stdout, command


def test_sweep_file_errors_exit_2_naming_file_key_and_rule(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "s.yaml").write_text("data: train.csv\ntarget: label\nn_trials: 2\ncv: weekly\nfamilys: [knn]\n")
    out = _automl("sweep", "s.yaml", cwd=tmp_path)
    assert out.returncode == 2
    assert "s.yaml: unknown key 'familys' (did you mean 'families'?)" in out.stderr
    assert "s.yaml: cv='weekly' is not understood; cv must be" in out.stderr
    assert "hint: automl sweep --help" in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "train.csv"]


def test_sweep_then_leaderboard_resume_and_spaces(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "data: train.csv\ntarget: label\nn_trials: 3\nfamilies: [linear, knn]\ncv: 3\nstudy_name: s\n"
        "tracking: false\noutput: model\nsearch_space: {knn: {n_neighbors: {low: 3, high: 9}}}\n"
    )
    out = _automl("sweep", "s.yaml", "--check", cwd=tmp_path)
    assert out.returncode == 0 and "OK" in out.stdout
    out = _automl("sweep", "s.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "roc_auc_mean" in out.stdout and "automl resume --study s" in out.stdout
    assert "3/3 trials | best" in out.stderr  # the progress line
    out = _automl("resume", "--study", "s", "--n-trials", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = _automl("leaderboard", "--study", "s", "--csv", "board.csv", cwd=tmp_path)
    assert out.returncode == 0 and len(pd.read_csv(tmp_path / "board.csv")) == 5
    out = _automl("leaderboard", "--study", "t", cwd=tmp_path)
    assert out.returncode == 2 and "no study named 't'" in out.stderr and "'s'" in out.stderr
    out = _automl("worker", "--study", "t", "--wait", "0", cwd=tmp_path)
    assert out.returncode == 2 and "no study named 't'" in out.stderr
    out = _automl("spaces", "show", "knn", cwd=tmp_path)
    assert out.returncode == 0 and "n_neighbors:" in out.stdout
    out = _automl("spaces", "show", "knnn", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean 'knn'" in out.stderr
    (tmp_path / "o.yaml").write_text("knn: {n_neighbors: {low: 9, high: 3}}\n")
    out = _automl("spaces", "check", "o.yaml", cwd=tmp_path)
    assert out.returncode == 2 and "o.yaml: search_space['knn']: parameter 'n_neighbors'" in out.stderr
    (tmp_path / "o.yaml").write_text("knn: {n_neighbors: {low: 3, high: 9}}\nlinear: {alpha: 1.0}\n")
    out = _automl("spaces", "check", "o.yaml", cwd=tmp_path)
    assert out.returncode == 0 and "knn (1 parameters), linear (1 parameters)" in out.stdout, out.stderr
    out = _automl("spaces", "check", str(Path(__file__).parents[1] / "search_spaces" / "knn.yaml"), cwd=tmp_path)
    assert out.returncode == 0 and "search space of 'knn'" in out.stdout


def test_fit_with_local_workers_shares_the_study(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    out = _automl("fit", "train.csv", "--target", "label", "--n-trials", "20", "--families", "linear,knn",
                  "--cv", "3", "--workers", "2", "--no-tracking", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "naming the study 'sweep-" in out.stderr
    assert (tmp_path / "automl-studies.journal").is_file()
