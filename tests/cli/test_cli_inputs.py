"""What the command line takes as input, as a user gives it: a folder of Parquet files, overrides of the text
encoder's parameters, an output folder the demo must not write over, run for real in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl.data.source import open_data
from automl.exceptions import InvalidParameterError, StudyMismatchError

AUTOML = str(Path(sys.executable).with_name("automl"))


def _automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([AUTOML, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return frame.assign(y=(frame.a + 0.2 * rng.normal(size=n) > 0).astype(int))


def test_fit_reads_a_folder_of_parquet_files_as_one_table(tmp_path):
    frame = _frame()
    (tmp_path / "ds.parquet").mkdir()
    frame.iloc[:120].to_parquet(tmp_path / "ds.parquet" / "part-0.parquet")
    frame.iloc[120:].to_parquet(tmp_path / "ds.parquet" / "part-1.parquet")
    out = _automl("fit", "ds.parquet", "--target", "y", "--n-trials", "2", "--families", "linear", "--cv", "3",
                  "--no-tracking", "-o", "model", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert automl.load(tmp_path / "model").n_features_in_ == 2
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    out = _automl("fit", "notes", "--target", "y", "--n-trials", "1", "--no-tracking", cwd=tmp_path)
    assert out.returncode == 2 and "is a folder without Parquet files" in out.stderr


def test_a_folder_of_parquet_files_is_known_by_its_files_names_and_bytes(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    _frame().to_parquet(folder / "part-0.parquet")
    path, digest = open_data(str(folder))
    assert path == str(folder) and open_data(str(folder), digest)[1] == digest
    _frame(10).to_parquet(folder / "part-1.parquet")  # a sweep resumed on changed data is refused
    with pytest.raises(StudyMismatchError):
        open_data(str(folder), digest)
    with pytest.raises(InvalidParameterError, match="not on this machine"):
        open_data(str(tmp_path / "gone"))


def test_space_files_take_the_text_encoders_parameters_as_fit_does(tmp_path):
    (tmp_path / "space.yaml").write_text("linear:\n  text_dims: 16\n  text_analyzer: char_wb\n")
    out = _automl("spaces", "check", "space.yaml", cwd=tmp_path)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr
    (tmp_path / "typo.yaml").write_text("linear:\n  text_dimz: 16\n")
    out = _automl("spaces", "check", "typo.yaml", cwd=tmp_path)
    assert out.returncode == 2 and "text_dims" in out.stderr
    (tmp_path / "zero.yaml").write_text("linear:\n  text_dims: 0\n  text_ngram_max: {choices: [1, 0]}\n")
    out = _automl("spaces", "check", "zero.yaml", cwd=tmp_path)  # the values fit refuses, refused here too
    assert out.returncode == 2 and "text_dims=0: the reduced size must be a whole number of at least 1" in out.stderr
    assert "text_ngram_max=0: the longest n-gram" in out.stderr and "2 problems" in out.stderr


def test_demo_refuses_an_output_it_must_not_write_over_before_its_search(tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("important")
    out = _automl("demo", "--time-budget", "60", "-o", "precious", cwd=tmp_path)
    assert out.returncode == 2 and "holds no manifest.json" in out.stderr
    assert "searching" not in out.stdout  # refused before the search
    assert [p.name for p in (tmp_path / "precious").iterdir()] == ["notes.txt"]
    assert not (tmp_path / "mlflow.db").exists() and not list(tmp_path.glob("*.journal"))


def test_a_pruner_class_is_refused_before_the_search():
    import optuna

    with pytest.raises(InvalidParameterError, match=r"pruner=MedianPruner\(\)"):
        automl.fit(_frame(), target="y", pruner=optuna.pruners.MedianPruner, n_trials=1, tracking=False)


def test_trailing_commas_in_a_csv_are_dropped_at_fit_as_at_predict(tmp_path):
    rows = "\n".join(f"{a},{a % 3},{int(a % 2 == 0)},," for a in range(60))
    (tmp_path / "t.csv").write_text("a,b,y,,\n" + rows + "\n")
    out = _automl("fit", "t.csv", "--target", "y", "--n-trials", "1", "--families", "linear", "--cv", "2",
                  "--no-tracking", "-o", "m", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "dropping 2 column(s) with no name" in out.stderr
    assert automl.load(tmp_path / "m").n_features_in_ == 2


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    # `automl leaderboard M | head -1`: the pipe breaks; Unix tools exit quietly, not "automl: failed: BrokenPipeError".
    frame = _frame()
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert _automl("fit", "d.csv", "--target", "y", "--n-trials", "6", "--families", "linear,knn", "--cv", "2",
                   "--no-tracking", "-o", "m", cwd=tmp_path).returncode == 0
    script = (f"{AUTOML!r}, 'leaderboard', 'm', '--top', '0'")
    code = ("import subprocess, sys\n"
            f"p = subprocess.Popen([{script}], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=sys.argv[1])\n"
            "p.stdout.close()\n"  # the reader goes before the first line
            "err = p.stderr.read().decode()\n"
            "print(p.wait(), repr(err))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    status, err = out.stdout.split(" ", 1)
    assert status in ("0", "141") and "BrokenPipe" not in err, out.stdout
    top = _automl("leaderboard", "m", "--top", "-1", cwd=tmp_path)
    assert top.returncode == 2 and "must be a whole number of rows" in top.stderr
    board = _automl("leaderboard", "d.csv", cwd=tmp_path)
    assert board.returncode == 2 and "is a file; a model is a folder" in board.stderr
