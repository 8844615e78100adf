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


@pytest.mark.parametrize("kind", ["journal", "sqlite", "postgresql", "journal+postgresql"])
def test_eight_processes_opening_a_new_study_at_once_do_not_crash(kind, tmp_path, request):
    if kind == "journal":
        url = str(tmp_path / "race.journal")
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        url = "journal+" + url if kind == "journal+postgresql" else url
    created = _race(url)
    assert sorted(created) == ["0"] * 7 + ["1"]  # exactly one of them created it


class _LosesItsTrialOnce:
    """A prior classifier whose first fit has the running trial failed as stale by "another process"."""

    journal: list[str] = []  # the study file to fail the running trial in (emptied by the first fit)

    def __init__(self) -> None:
        from sklearn.dummy import DummyClassifier

        self._model = DummyClassifier(strategy="prior")

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def set_params(self, **params: object) -> _LosesItsTrialOnce:
        return self

    def fit(self, X, y, sample_weight=None):
        if self.journal:
            # What another worker's fail_stale_trials does when this process's heartbeat is late.
            study = optuna.load_study(study_name="s", storage=HeartbeatJournalStorage(self.journal.pop()))
            real_time = time.time
            storage_module.time.time = lambda: real_time() + 60
            try:
                optuna.storages.fail_stale_trials(study)
            finally:
                storage_module.time.time = real_time
        self._model.fit(X, y)
        self.classes_ = self._model.classes_
        return self

    def predict(self, X):
        return self._model.predict(X)

    def predict_proba(self, X):
        return self._model.predict_proba(X)


def _loses_its_trial(params, ctx):
    return _LosesItsTrialOnce()


def _stale_family():
    from automl.families import ModelFamily
    from automl.spaces import space_from_dict

    space = {"family": "stale_once", "params": {"level": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.5}}}
    return ModelFamily("stale_once", frozenset({"binary"}), "ordinal", _loses_its_trial,
                       "loses its first trial to a late heartbeat", search_space=space_from_dict(space))


STALE_ONCE = _stale_family()


def test_a_trial_failed_as_stale_while_still_running_does_not_end_the_search(tmp_path, monkeypatch):
    # A CI run crashed on this: another process failed a running trial whose heartbeat was late, and
    # the owner's tell then raised "Cannot tell a FAIL trial" out of study.optimize.
    import numpy as np
    import pandas as pd

    import automl
    from automl.families import register_family, unregister_family

    monkeypatch.setenv("AUTOML_HEARTBEAT_SECONDS", "1")
    path = str(tmp_path / "s.journal")
    monkeypatch.setattr(_LosesItsTrialOnce, "journal", [path])
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"a": rng.normal(size=90), "y": rng.choice(["p", "q"], 90)})
    register_family("stale_once", f"{__name__}:STALE_ONCE")
    try:
        model = automl.fit(data, target="y", families=["stale_once"], n_trials=3, cv=3, study_name="s",
                           storage=path, isolation="none", tracking=False, n_jobs=1, ensemble=False)
    finally:
        unregister_family("stale_once")
    trials = model.study_.get_trials()
    assert _LosesItsTrialOnce.journal == []  # the first fit did fail its trial
    lost = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(lost) == 1 and "automl:reason" not in lost[0].user_attrs
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 3
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == lost[0].number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    assert "no heartbeat" in model.leaderboard().query("state == 'fail'")["reason"].iloc[0]
