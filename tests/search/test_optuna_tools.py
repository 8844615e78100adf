"""Optuna's own tools (optuna-dashboard, the ``optuna`` CLI) read our journal: what they find there.

The journal is opened by plain Optuna, as optuna-dashboard opens it, after a real fit.
"""

from __future__ import annotations

import json

import optuna
import pytest

import automl

#: What every trial's user attributes may weigh at most (JSON), so that the dashboard's trial table stays light.
MAX_USER_ATTRS_BYTES = 2048


def _journal_study(path, name):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    pytest.importorskip("torch")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=160), "z": rng.normal(size=160),
                          "colour": rng.choice(["red", "green", "blue"], 160)})
    frame["label"] = np.where(frame["x"] + 0.5 * frame["z"] > 0, "yes", "no")
    journal = tmp_path_factory.mktemp("journal") / "study.journal"
    model = automl.fit(
        frame, target="label", families=["lightgbm", "torch_mlp"], n_trials=4, cv=3, n_jobs=1, tracking=False,
        storage=str(journal), study_name="tools", pruner="none",
        search_space={"lightgbm": {"n_estimators": 200}, "torch_mlp": {"max_epochs": 7, "patience": 50}},
    )
    return model, _journal_study(journal, "tools")


def test_the_objective_is_named(fitted):
    model, study = fitted
    assert study.metric_names == [model.metric_.name]


def test_a_net_reports_epochs_only_and_other_families_nothing(fitted):
    _, study = fitted
    ran = [t for t in study.trials if t.state.name == "COMPLETE"]  # (a queued warm start that did not run has no params)
    nets = [t for t in ran if t.params["family"] == "torch_mlp"]
    others = [t for t in ran if t.params["family"] != "torch_mlp"]
    assert nets and others
    for trial in nets:  # the first fold's 7 epochs, at steps 0..6: no fold step, no offset
        assert sorted(trial.intermediate_values) == list(range(7)), trial.intermediate_values
    for trial in others:  # their fold scores are in automl:fold_scores, one per fold
        assert trial.intermediate_values == {}
        assert len(trial.user_attrs["automl:fold_scores"][study.metric_names[0]]) == 3


def test_user_attributes_stay_small(fitted):
    _, study = fitted
    for trial in study.trials:
        size = len(json.dumps(trial.user_attrs))
        assert size < MAX_USER_ATTRS_BYTES, (trial.number, trial.params.get("family"), size, str(
                                             {k: len(json.dumps(v)) for k, v in trial.user_attrs.items()}))


def test_the_study_names_the_model_predict_uses(fitted):
    model, study = fitted
    final = study.user_attrs["automl:final_model"]
    if model.ensemble_:
        assert final["kind"] == "ensemble" and final["members"]
    else:
        assert final == {"kind": "trial", "trial": model.best_trial_, "family": model.best_family_, "source": model.model_source_}


def test_a_net_is_still_pruned_on_its_fold_running_mean(tmp_path):
    # Nets report only epochs to Optuna; a fold is judged on every trial's fold scores (automl:fold_scores).
    pytest.importorskip("torch")
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=200), "z": rng.normal(size=200)})
    frame["label"] = np.where(frame["x"] > 0, "yes", "no")
    model = automl.fit(
        frame, target="label", families=["linear", "torch_mlp"], n_trials=2, cv=4, n_jobs=1, tracking=False,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
        search_space={"torch_mlp": {"max_epochs": 1, "learning_rate": {"low": 1e-4, "high": 2e-4, "default": 1e-4},
                                    "optimizer": "sgd", "momentum": {"low": 0.0, "high": 0.1, "default": 0.0}}},
    )
    net = next(t for t in model.study_.trials if t.params.get("family") == "torch_mlp")
    assert net.state.name == "PRUNED", (net.state, net.user_attrs.get("automl:fold_scores"))
    assert net.user_attrs["automl:reason"].startswith("pruned after fold 1/4")
    assert sorted(net.intermediate_values) == [0]  # its one epoch: no fold step


def test_a_study_stored_before_metric_names_is_still_checked_against_its_fingerprint(tmp_path):
    # Studies stored by earlier versions have no metric names: naming the objective on resume must not
    # skip the check that the stored study was made for these data and settings.
    from automl.exceptions import StudyMismatchError
    from automl.search.study import open_checked_study
    from automl.search.trial_record import StudyWriter

    journal = str(tmp_path / "old.journal")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    StudyWriter(optuna.create_study(study_name="old", storage=storage, direction="maximize")).fingerprint("A")
    with pytest.raises(StudyMismatchError, match="other data or settings"):
        open_checked_study(journal, "old", direction="maximize", seed=0, pruner="none", fingerprint="B",
                           create=True, metric="roc_auc")
    study, created = open_checked_study(journal, "old", direction="maximize", seed=0, pruner="none",
                                        fingerprint="A", create=True, metric="roc_auc")
    assert not created and study.metric_names == ["roc_auc"]


def test_a_study_another_program_made_is_refused_before_anything_is_written_to_it(tmp_path):
    # Once taken over: its trials became leaderboard rows and MLflow runs of family '', its best was "refitted"
    # (KeyError ''), and the fingerprint and metric name were written to it even where the fit was then refused;
    # a study of two objectives raised Optuna's bare ValueError and made `automl leaderboard` exit 1.
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from automl.exceptions import StudyMismatchError

    journal = tmp_path / "f.journal"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    optuna.create_study(study_name="plain", storage=storage, direction="maximize").optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    optuna.create_study(study_name="multi", storage=storage, directions=["maximize", "minimize"]).optimize(
        lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2)
    optuna.create_study(study_name="empty", storage=storage, direction="maximize")
    before = journal.read_bytes()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80)}).assign(y=lambda f: (f["a"] > 0).astype(int))
    settings = dict(target="y", n_trials=1, families=["linear"], cv=2, tracking_uri=f"sqlite:///{tmp_path}/m.db",
                    isolation="none")
    for name, said in (("plain", "not created by automl"), ("multi", "2 objectives")):
        with pytest.raises(StudyMismatchError, match=said):
            automl.fit(frame, study_name=name, storage=str(journal), **settings)
    assert journal.read_bytes() == before  # nothing written to them
    assert not (tmp_path / "m.db").exists() and not (tmp_path / "mlruns").exists()
    automl.fit(frame, study_name="empty", storage=str(journal), **settings)  # an empty study is taken
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "leaderboard", "--study", "multi", "--storage", str(journal)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "objectives" in out.stderr, out.stderr


def test_trials_queued_with_optunas_tools_outside_the_space_fail_and_the_search_goes_on(tmp_path):
    # Once Optuna's bare ValueError ("'nosuch' not in ('linear',)") or a SearchSpaceError blaming the shipped space
    # file ended the resumed search.
    import numpy as np
    import pandas as pd

    from automl.search.trial_record import TrialRecord

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80)}).assign(y=lambda f: np.where(f["a"] > 0, "yes", "no"))
    journal = tmp_path / "q.journal"
    settings = dict(target="y", families=["linear"], cv=2, ensemble=False, study_name="q", storage=str(journal),
                    tracking=False, isolation="none")
    automl.fit(frame, n_trials=1, **settings)
    study = _journal_study(journal, "q")
    study.enqueue_trial({"family": "nosuch"})
    study.enqueue_trial({"family": "linear", "linear__alpha": -5.0})
    automl.fit(frame, n_trials=4, **settings)
    records = {t.number: TrialRecord.read(t) for t in _journal_study(journal, "q").get_trials()}
    assert [records[n].state for n in (1, 2)] == ["fail", "fail"]
    assert "'nosuch'" in records[1].reason and "-5.0" in records[2].reason
    assert sum(r.state == "complete" for r in records.values()) == 3


def test_a_study_holding_only_trials_queued_with_optunas_tools_is_searched(tmp_path):
    import numpy as np
    import pandas as pd

    from automl.search.storage import open_storage

    journal = tmp_path / "plan.journal"
    plan = optuna.create_study(study_name="plan", storage=open_storage(str(journal), "plan"), direction="maximize")
    plan.enqueue_trial({"family": "linear", "linear__alpha": 0.5})
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80)}).assign(y=lambda f: (f["a"] > 0).astype(int))
    automl.fit(frame, target="y", n_trials=2, families=["linear"], cv=2, study_name="plan", storage=str(journal),
               tracking=False, isolation="none")
    trials = _journal_study(journal, "plan").get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"] and trials[0].params["linear__alpha"] == 0.5
