"""``trial_timeout`` and ``trial_memory_limit`` hold for a trial that never falls silent.

The ``chatty`` families (benchmarks/chatty_families.py) report an epoch every 5 ms for a long
time (``chatty_hog`` also allocates 5 MiB at each): a limit checked only while the worker is
quiet never fires on them. The wall clock around the fit and the trial's stored state are read
from the outside; a warm worker is made first so that the wall is the trial's, not a start-up.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import automl
from automl.evaluation import Evaluator, get_metric, make_cv_plan
from automl.families import register_family, unregister_family
from automl.search.isolation import InProcessRunner, make_runner
from automl.search.storage import open_storage
from automl.search.trial_record import TrialRecord

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
FAIL = optuna.trial.TrialState.FAIL
TIMEOUT = 2.0
#: Seconds past the limit within which the trial must be gone (the check runs at every event).
SLACK = 2.5


@pytest.fixture
def chatty():
    register_family("chatty", "benchmarks.chatty_families:CHATTY")
    register_family("chatty_hog", "benchmarks.chatty_families:CHATTY_HOG")
    yield
    unregister_family("chatty")
    unregister_family("chatty_hog")


def _frame(rows: int = 120) -> pd.DataFrame:
    X, y = make_classification(rows, 5, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(label=y)


def _warm_worker_rss_mb() -> float:
    """Leave a warm trial worker in the pool; return its resident MiB, read from /proc."""
    automl.fit(_frame(), "label", n_trials=1, families=["linear"], cv=2, tracking=False, ensemble=False)
    workers = [p for p in multiprocessing.active_children() if p.name == "automl-trial-worker" and p.is_alive()]
    assert workers
    with open(f"/proc/{workers[-1].pid}/statm", "rb") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def _only_trial(journal: Path, name: str) -> optuna.trial.FrozenTrial:
    study = optuna.load_study(study_name=name, storage=open_storage(str(journal), name))
    (trial,) = study.get_trials()
    return trial


def test_a_chatty_trial_is_killed_at_trial_timeout_and_failed(chatty, tmp_path):
    _warm_worker_rss_mb()
    journal = tmp_path / "s.journal"
    started = time.monotonic()
    with pytest.raises(automl.AllTrialsFailedError, match="trial_timeout"):
        automl.fit(_frame(), "label", n_trials=1, families=["chatty"], cv=2, pruner="none", tracking=False,
                   study_name="timeout", storage=str(journal), trial_timeout=TIMEOUT,
                   search_space={"chatty": {"seconds": 30.0}})
    wall = time.monotonic() - started
    assert wall < TIMEOUT + SLACK, f"the fit took {wall:.1f} s with trial_timeout={TIMEOUT:g}"
    trial = _only_trial(journal, "timeout")
    assert trial.state == FAIL
    assert "trial_timeout=2" in TrialRecord.read(trial).reason


def test_a_chatty_allocator_is_killed_at_the_memory_limit_and_failed(chatty, tmp_path):
    limit = round(_warm_worker_rss_mb() + 150)
    journal = tmp_path / "s.journal"
    started = time.monotonic()
    with pytest.raises(automl.AllTrialsFailedError, match="trial_memory_limit"):
        automl.fit(_frame(), "label", n_trials=1, families=["chatty_hog"], cv=2, pruner="none", tracking=False,
                   study_name="memory", storage=str(journal), trial_memory_limit=limit,
                   search_space={"chatty_hog": {"seconds": 30.0, "step_mb": 5.0}})
    wall = time.monotonic() - started
    assert wall < 10, f"the fit took {wall:.1f} s: the allocator reaches the limit in well under a second"
    trial = _only_trial(journal, "memory")
    assert trial.state == FAIL
    reason = TrialRecord.read(trial).reason
    assert f"trial_memory_limit={limit}" in reason and "MiB" in reason


@pytest.mark.parametrize("limit", [{"trial_timeout": 2}, {"trial_memory_limit": 512}])
def test_limits_with_isolation_none_are_refused_before_anything_runs(limit, tmp_path):
    journal = tmp_path / "s.journal"
    with pytest.raises(automl.InvalidParameterError, match="isolation='process'") as refused:
        automl.fit(_frame(), "label", n_trials=1, families=["linear"], isolation="none", tracking=False,
                   study_name="x", storage=str(journal), **limit)
    assert next(iter(limit)) in str(refused.value)
    assert not journal.exists()


def test_a_fit_that_cannot_reach_a_worker_refuses_limits_and_warns_without_them():
    X = pd.DataFrame({"a": np.arange(20.0)})
    y = np.arange(20) % 2
    ev = Evaluator([get_metric("accuracy", "binary")], make_cv_plan(2, "binary").splits(20, y, None),
                   task="binary", n_classes=2)
    ev.unpicklable = threading.Lock()  # the evaluator cannot be sent to a worker process
    with pytest.raises(automl.InvalidParameterError, match="trial_timeout=5 cannot be enforced"):
        make_runner(ev, X, y, {}, trial_timeout=5)
    with pytest.warns(RuntimeWarning, match="cannot be sent to a worker"):
        assert isinstance(make_runner(ev, X, y, {}), InProcessRunner)
