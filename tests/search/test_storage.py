"""Study stores: heartbeats, race-free creation by many processes, clear errors."""

from __future__ import annotations

import subprocess
import sys
import time

import optuna
import pytest

from automl.exceptions import InvalidParameterError, StudyNotFoundError
from automl.search import storage as storage_module
from automl.search.storage import HeartbeatJournalStorage, describe_storage, heartbeat_settings, open_study

pytestmark = pytest.mark.filterwarnings(
    "ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat of storage:UserWarning"
)


def test_the_journal_store_fails_a_silent_trial_and_queues_it_again(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "1")
    storage = HeartbeatJournalStorage(str(tmp_path / "s.journal"))
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []
    real_time = time.time
    monkeypatch.setattr(storage_module.time, "time", lambda: real_time() + 4)  # past the 3 s grace
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]
    optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "WAITING"]
    assert trials[1].params == trials[0].params
    assert trials[1].system_attrs["failed_trial"] == 0


def test_heartbeat_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "2")
    assert heartbeat_settings() == (2, 6)
    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "soon")
    with pytest.raises(InvalidParameterError, match="AUTOML_HEARTBEAT_SECONDS must be a whole number"):
        heartbeat_settings()


def test_a_missing_study_is_named_with_the_ones_that_exist(tmp_path):
    path = str(tmp_path / "s.journal")
    open_study(path, "income-v1", direction="maximize")
    with pytest.raises(StudyNotFoundError, match=r"no study named 'income-v2'.*did you mean 'income-v1'") as info:
        open_study(path, "income-v2", direction="maximize", create=False)
    assert isinstance(info.value, LookupError)


def test_passwords_never_reach_descriptions():
    assert describe_storage("postgresql://me:hunter2@db:5432/studies", "s") == "postgresql://me:***@db:5432/studies"
    assert describe_storage("postgresql://me@db/studies", "s") == "postgresql://me@db/studies"


_RACER = """
import sys, time
from automl.search.storage import open_study
start, url = float(sys.argv[1]), sys.argv[2]
time.sleep(max(0.0, start - time.time()))
study, created = open_study(url, "race", direction="maximize")
print(int(created), len(study.trials))
"""


def _race(url: str, n: int = 8) -> list[str]:
    start = time.time() + 6.0
    processes = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(start), url], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out.split()[0])
    return outputs


@pytest.mark.parametrize("kind", ["journal", "sqlite", "postgresql"])
def test_eight_processes_opening_a_new_study_at_once_do_not_crash(kind, tmp_path, request):
    if kind == "journal":
        url = str(tmp_path / "race.journal")
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    created = _race(url)
    assert sorted(created) == ["0"] * 7 + ["1"]  # exactly one of them created it
