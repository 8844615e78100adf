"""The study journal kept in PostgreSQL (``journal+postgresql://``), and batched trial writes, on a real server."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest

import automl
from automl.exceptions import InvalidParameterError, StorageError
from automl.search.batched_writes import batched_store, write_trial_attrs
from automl.search.storage import open_study

SECRET = "s3cr3t-pw"


def _rows(url: str, table: str = "automl_journal") -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(f"SELECT seq, log FROM {table} ORDER BY seq").fetchall()


def _tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url) as connection:
        return [r[0] for r in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


def _frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = np.where(frame["a"] + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return frame


def test_a_fit_on_the_journal_table_is_a_journal_plain_optuna_opens(postgres_url, tmp_path):
    model = automl.fit(_frame(), target="y", families=["linear"], n_trials=4, cv=3, n_jobs=1, tracking=False,
                       study_name="s", storage="journal+" + postgres_url)
    rows = _rows(postgres_url)
    assert [seq for seq, _ in rows] == list(range(len(rows)))  # gapless, in order
    journal = tmp_path / "export.journal"  # what `psql -At -c "SELECT log ... ORDER BY seq"` writes
    journal.write_text("".join(log + "\n" for _, log in rows))
    backend = optuna.storages.journal.JournalFileBackend(str(journal))
    exported = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(backend))
    mine = model.study_.get_trials(deepcopy=False)
    assert [(t.number, t.state, t.value, t.params, t.user_attrs) for t in exported.trials] == \
           [(t.number, t.state, t.value, t.params, t.user_attrs) for t in mine]
    assert exported.user_attrs == model.study_.user_attrs


def test_another_process_reads_the_study_from_the_journal_table(postgres_url):
    storage = "journal+" + postgres_url
    automl.fit(_frame(), target="y", families=["linear"], n_trials=3, cv=3, n_jobs=1, tracking=False,
               study_name="shared", storage=storage)
    done = subprocess.run([sys.executable, "-m", "automl.cli", "leaderboard", "--study", "shared", "--storage",
                           "env:TEST_STUDY_DB"], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "TEST_STUDY_DB": storage})
    assert done.returncode == 0, done.stderr
    assert "linear" in done.stdout and done.stdout.count("linear") >= 3


def _ask_and_tell(url: str, n: int, queue) -> None:  # a spawned process
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study, _ = open_study(url, "race", direction="maximize", sampler=optuna.samplers.RandomSampler())
    numbers = []
    for _ in range(n):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        study.tell(trial, trial.params["x"])
        numbers.append(trial.number)
    queue.put(numbers)


def test_four_processes_appending_at_once_keep_one_gapless_order(postgres_url):
    url = "journal+" + postgres_url
    open_study(url, "race", direction="maximize")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_ask_and_tell, args=(url, 15, queue)) for _ in range(4)]
    for p in processes:
        p.start()
    numbers = sorted(n for _ in processes for n in queue.get(timeout=180))
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert numbers == list(range(60))  # every trial once, no number twice
    study, _ = open_study(url, "race", direction="maximize", create=False)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 60
    rows = _rows(postgres_url)
    assert [seq for seq, _ in rows] == list(range(len(rows)))
    assert all(json.loads(log)["op_code"] >= 0 for _, log in rows)


def test_a_malformed_table_name_is_refused_before_anything_is_written(postgres_url):
    with pytest.raises(InvalidParameterError, match=r"table='Bad-Name' must be lower-case"):
        automl.fit(_frame(), target="y", families=["linear"], n_trials=2, cv=3, tracking=False, study_name="s",
                   storage=f"journal+{postgres_url}?table=Bad-Name")
    assert _tables(postgres_url) == []


def test_an_unreachable_journal_database_fails_fast_with_its_password_masked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = f"journal+postgresql://me:{SECRET}@127.0.0.1:1/studies"  # nothing listens on port 1
    with pytest.raises(StorageError) as info:
        automl.fit(_frame(), target="y", families=["linear"], n_trials=2, cv=3, study_name="s", storage=storage,
                   tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert SECRET not in str(info.value) and "127.0.0.1:1" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no MLflow store, no journal, no model


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # a trial asked by hand, not by optimize
@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_trials_attributes_are_written_in_one_transaction_on_a_database(kind, postgres_url, tmp_path):
    from sqlalchemy import event

    url = postgres_url if kind == "postgresql" else f"sqlite:///{tmp_path / 'studies.db'}"
    study, _ = open_study(url, "one", direction="maximize")
    trial = study.ask()
    backend = batched_store(study._storage)
    assert backend is not None, "Optuna's RDB storage no longer has the step this batches: attributes go one by one"
    commits = []
    event.listen(backend.engine, "commit", lambda connection: commits.append(1))
    write_trial_attrs(trial, {"automl:a": 1, "automl:b": [1.5, 2.5], "automl:c": {"x": "y"}})
    assert len(commits) == 1
    study.tell(trial, 1.0)
    reread = optuna.load_study(study_name="one", storage=url).trials[0]  # plain Optuna reads them
    assert reread.user_attrs == {"automl:a": 1, "automl:b": [1.5, 2.5], "automl:c": {"x": "y"}}
