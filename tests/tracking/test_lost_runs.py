"""The main process logs what dead workers could not: their lost trial, and the finished trials they never logged."""

from __future__ import annotations

import mlflow
import optuna

from automl.search.trial_record import TrialWriter
from automl.tracking.lost_runs import settle_lost_trials
from automl.tracking.payloads import trial_payload
from automl.tracking.writer import write_child_run


def test_a_dead_workers_finished_but_unlogged_trials_are_logged_once_by_the_main_process(tmp_path, monkeypatch):
    import automl.search.trial_record as trial_record

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("s")
    parent = client.create_run(experiment).info.run_id
    study = optuna.create_study(direction="maximize")
    family = {"family": optuna.distributions.CategoricalDistribution(["linear"])}
    monkeypatch.setattr(trial_record, "worker_id", lambda: "host:1")  # the worker that is killed later
    done = study.ask(family)  # it finished this trial; its queue of child runs died with it
    TrialWriter(done).started({"C": 1.0})
    TrialWriter(done).scores({"roc_auc": [0.8, 0.8]})
    study.tell(done, 0.8)
    running = study.ask(family)  # ... and was killed in this one, failed by heartbeat and queued again
    TrialWriter(running).started({"C": 2.0})
    study.tell(running, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial({"family": "linear"}, skip_if_exists=False)
    retry = study.ask(family)
    study._storage.set_trial_system_attr(retry._trial_id, "failed_trial", running.number)
    monkeypatch.setattr(trial_record, "worker_id", lambda: "host:2")
    TrialWriter(retry).started({"C": 2.0})
    study.tell(retry, 0.7)
    logged = {retry.number}  # the live process logged its own trial
    client.create_run(experiment, tags={"mlflow.parentRunId": parent, "automl.trial_number": str(retry.number)})

    def payload(record, state):
        return trial_payload(record, parent, experiment, "roc_auc", None, state)

    settle_lost_trials(client, experiment, parent, study, logged, payload, write_child_run)
    settle_lost_trials(client, experiment, parent, study, logged, payload, write_child_run)  # twice: nothing new
    runs = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    by_number = {}
    for run in runs:
        by_number.setdefault(int(run.data.tags["automl.trial_number"]), []).append(run)
    assert sorted(by_number) == [done.number, running.number, retry.number]
    assert all(len(v) == 1 for v in by_number.values())
    assert by_number[done.number][0].info.status == "FINISHED"
    assert by_number[done.number][0].data.tags["automl.worker"] == "host:1"
    assert by_number[running.number][0].info.status == "KILLED"
