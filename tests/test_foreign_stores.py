"""A store that is not a study store is refused untouched, by every command, before anything is opened.

Before: ``automl leaderboard --storage notes.journal`` moved a line of a text file to ``notes.journal.torn`` on each
run (the journal's torn-tail repair), ``automl worker`` emptied a file of one line, and ``--storage
sqlite:///mlflow.db`` added Optuna's tables to an MLflow store and then failed on the schema versions. Real
processes, real files, compared byte for byte.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import automl
from automl.exceptions import InvalidParameterError


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    frame["y"] = (frame["a"] > 0).astype(int)
    return frame


@pytest.mark.parametrize("content", [b"my notes line 1\nmy notes line 2\n", b"garbage\n", b"garbage"])
def test_a_file_that_is_not_a_journal_is_refused_and_left_as_it_was(tmp_path, content):
    notes = tmp_path / "notes.journal"
    notes.write_bytes(content)
    for command in (["leaderboard", "--study", "x"], ["worker", "--study", "x"], ["resume", "--study", "x"]):
        done = _cli(*command, "--storage", str(notes), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "not a journal record" in done.stderr and "Traceback" not in done.stderr
    assert notes.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.journal"]  # no .torn, no lock file


def test_an_mlflow_store_is_never_opened_as_a_study_store(tmp_path):
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()  # MLflow creates its tables
    before = _digest(db)
    done = _cli("leaderboard", "--study", "x", "--storage", f"sqlite:///{db}", cwd=tmp_path)
    assert done.returncode == 2 and "an MLflow tracking store" in done.stderr
    with pytest.raises(InvalidParameterError, match="an MLflow tracking store"):
        automl.fit(_frame(), target="y", n_trials=1, families=["linear"], cv=2, tracking=False, study_name="s",
                   storage=f"sqlite:///{db}")
    assert _digest(db) == before
    (tmp_path / "text.db").write_text("hello")
    done = _cli("leaderboard", "--study", "x", "--storage", f"sqlite:///{tmp_path / 'text.db'}", cwd=tmp_path)
    assert done.returncode == 2 and "is not an SQLite database" in done.stderr


@pytest.mark.parametrize("storage", ["sqlite://", "sqlite:///:memory:"])
def test_an_sqlite_database_in_memory_is_refused_before_the_search(tmp_path, storage):
    with pytest.raises(InvalidParameterError, match="in memory, which lives in one connection"):
        automl.fit(_frame(), target="y", n_trials=1, families=["linear"], cv=2, tracking=False, study_name="s",
                   storage=storage)


def test_one_sqlite_file_for_studies_and_runs_and_an_overlong_study_name_are_refused_before_the_search(tmp_path):
    both = f"sqlite:///{tmp_path / 'both.db'}"
    with pytest.raises(InvalidParameterError, match="are one SQLite file"):
        automl.fit(_frame(), target="y", n_trials=1, families=["linear"], cv=2, tracking=True, study_name="s",
                   storage=both, tracking_uri=both)
    with pytest.raises(InvalidParameterError, match="at most 500"):
        automl.fit(_frame(), target="y", n_trials=1, families=["linear"], cv=2, study_name="s" * 501,
                   tracking=False)
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_files_store_path_is_relative_to_the_file_as_its_data_and_output_are(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cwd").mkdir()
    _frame().to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "cfg" / "sweep.yaml").write_text(
        "data: ../train.csv\ntarget: y\nstorage: studies.journal\nstudy_name: rel\noutput: model\nn_trials: 1\n"
        "families: [linear]\ncv: 2\ntracking: false\n")
    done = _cli("sweep", "../cfg/sweep.yaml", cwd=tmp_path / "cwd")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cfg" / "studies.journal").is_file() and (tmp_path / "cfg" / "model").is_dir()
    assert list((tmp_path / "cwd").iterdir()) == []
    board = _cli("leaderboard", "--study", "rel", "--storage", "studies.journal", cwd=tmp_path / "cfg")
    assert board.returncode == 0 and "linear" in board.stdout


def test_automl_leaderboard_reads_a_journal_with_a_torn_last_record_and_writes_nothing(tmp_path):
    """The reader leaves the torn record for the next writer to set aside (it used to move it to ``.torn``)."""
    automl.fit(_frame(), target="y", n_trials=1, families=["linear"], cv=2, tracking=False, study_name="s",
               storage=str(tmp_path / "s.journal"))
    journal = tmp_path / "s.journal"
    with journal.open("ab") as handle:
        handle.write(b'{"op_code": 4, "worker_id": "w", "trial_id": 0, "sta')
    before, files = _digest(journal), sorted(p.name for p in tmp_path.iterdir())
    done = _cli("leaderboard", "--study", "s", "--storage", str(journal), cwd=tmp_path)
    assert done.returncode == 0 and "linear" in done.stdout, done.stderr
    assert _digest(journal) == before and sorted(p.name for p in tmp_path.iterdir()) == files
