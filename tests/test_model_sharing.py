"""A fitted model shared as users share one: pickled to another process, deep-copied, saved whatever form its
settings came in, and predicting on several threads at once without changing the caller's process settings."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold

import automl

QUICK = dict(n_trials=2, families=["linear"], cv=3, tracking=False, isolation="none")


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True, as_frame=True)


def test_a_model_whose_study_is_in_a_journal_file_pickles_to_another_process(data, tmp_path, monkeypatch):
    """Before, pickle, deepcopy and joblib refused it: the journal storage's class was made in a function."""
    X, y = data
    monkeypatch.chdir(tmp_path)
    model = automl.AutoMLClassifier(**QUICK, study_name="demo").fit(X, y)  # the default storage: a journal file
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    X.head(20).to_csv(tmp_path / "x.csv", index=False)
    code = ("import pickle, pandas as pd; m = pickle.load(open('model.pkl', 'rb')); "
            "print(len(m.study_.trials), *m.predict(pd.read_csv('x.csv')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", *map(str, model.predict(X.head(20)))]
    assert len(copy.deepcopy(model).study_.trials) == 2


def test_settings_pickle_refuses_are_kept_in_a_form_it_takes_and_the_fit_saves_and_logs(data, tmp_path):
    """cv as a generator of (train, test) pairs (as check_cv takes) and mapping proxies: before, the fit ran,
    then save and pickle raised "cannot pickle 'generator' object" and a tracked fit's run was FAILED."""
    import mlflow

    X, y = data
    pairs = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model = automl.AutoMLClassifier(
        **{**QUICK, "tracking": True, "cv": iter(pairs)}, tracking_uri=uri,
        search_space=types.MappingProxyType({"linear": types.MappingProxyType({})}),
    ).fit(X, y)
    assert model.model_uri_ is not None
    assert mlflow.MlflowClient(uri).get_run(model.tracking_run_id_).info.status == "FINISHED"
    again = pickle.loads(pickle.dumps(model))
    assert again.search_space == {"linear": {}}
    assert [(a.tolist(), b.tolist()) for a, b in again.cv.split(X)] == [(a.tolist(), b.tolist()) for a, b in pairs]
    loaded = automl.load(model.save(tmp_path / "model"))
    assert (loaded.predict(X) == model.predict(X)).all()
    refitted = automl.AutoMLClassifier(**{**again.get_params(), "tracking": False}).fit(X, y)
    assert refitted.cv_ == "index_splits:3"  # the pairs the first fit read


def _threaded_predicts(model, X, n=200):
    for _ in range(20):  # one at a time first, as a server warms up: what the threads then share is built
        model.predict_proba(X)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: model.predict_proba(X), range(n)))
    return answers


SERVE = """
import sys
from concurrent.futures import ThreadPoolExecutor
import pandas as pd
from threadpoolctl import threadpool_info, threadpool_limits
import automl
model, X = automl.load("model"), pd.read_csv("x.csv")
threadpool_limits(3)  # the caller's own setting, for the whole process
before = sorted((i["user_api"], i["num_threads"]) for i in threadpool_info())
for _ in range(20):  # one at a time first, as a server warms up
    model.predict_proba(X)
with ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(lambda _: model.predict_proba(X), range(400)))
after = sorted((i["user_api"], i["num_threads"]) for i in threadpool_info())
print(before == after, all((a == answers[0]).all() for a in answers), before, after)
"""


def test_predicting_on_eight_threads_leaves_the_callers_thread_limits_as_they_were(data, tmp_path):
    """Before, each predict saved and restored the process's BLAS limit; interleaved, a caller's
    threadpool_limits(3) ended at 1 for good (a saved stack served on 8 threads, every run)."""
    X, y = data
    model = automl.AutoMLClassifier(n_trials=2, families=["lightgbm"], cv=3, tracking=False, seed=0)
    model.fit(X, y.map({0: "malignant", 1: "benign"})).save(tmp_path / "model")
    X.to_csv(tmp_path / "x.csv", index=False)
    out = subprocess.run([sys.executable, "-c", SERVE], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("True True"), out.stdout


def test_a_net_predicting_on_eight_threads_leaves_torchs_random_state_and_threads_alone(data):
    """Before, each predict seeded torch inside a fork of its random state; interleaved, the caller's state was
    replaced by the model's seed and its thread count could end at the model's."""
    torch = pytest.importorskip("torch")
    X, y = data
    model = automl.AutoMLClassifier(**{**QUICK, "n_trials": 1, "families": ["torch_mlp"]}).fit(X, y)
    torch.set_num_threads(2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    answers = _threaded_predicts(model, X.head(50), n=100)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == 2
    assert all(np.array_equal(a, answers[0]) for a in answers)
