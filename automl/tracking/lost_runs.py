"""Trials whose process died: each logged once, by the main process, and no child run left RUNNING.

A worker killed with ``kill -9`` (or on a lost machine) never logs the trial it was running: the
heartbeat protocol fails that trial in whichever process notices first and queues it once more
(the retry is an ordinary trial, logged by the process that runs it). So that no other process
logs it too, only the main process logs such a *lost* trial, when it closes the parent run: as a
KILLED child run with tag ``automl.state=lost`` and an ``automl.reason`` naming the process that
stopped and the retry's number. A child run that a dying process left RUNNING (its writer killed
between creating the run and closing it) is closed the same way when it belongs to a lost trial
or to a process known dead (one whose trial went stale), instead of a second run being created. The
finished trials of a process known dead that it never logged (its queue died with it) are logged then
too, each once.

Example:
    >>> import optuna
    >>> lost_trials(optuna.create_study().trials)
    {}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from automl.search.trial_record import TrialRecord

__all__ = ["LOST_STATE", "lost_reason", "lost_trials", "settle_lost_trials"]

#: The ``automl.state`` tag of a lost trial's child run (its status is KILLED).
LOST_STATE = "lost"
#: Trial states a dead process's trial may end in and still be logged by the main process.
FINISHED = ("complete", "pruned", "fail")


def lost_trials(trials: Iterable[Any]) -> dict[int, int]:
    """``{number of a trial failed by a lost heartbeat: number of the trial that retries it}``.

    Example:
        >>> class T:  # a retry as Optuna's RetryHeartbeatStaleTrialCallback queues it
        ...     number, system_attrs = 7, {"failed_trial": 2, "retry_history": [2]}
        >>> lost_trials([T()])
        {2: 7}
    """
    lost = {}
    for trial in trials:
        history = trial.system_attrs.get("retry_history") or []
        if history:
            lost[int(history[-1])] = int(trial.number)
        elif "failed_trial" in trial.system_attrs:
            lost[int(trial.system_attrs["failed_trial"])] = int(trial.number)
    return lost


def lost_reason(worker: str, retry: int) -> str:
    """The ``automl.reason`` of a lost trial's child run.

    Example:
        >>> lost_reason("host:12", 9)
        'its process host:12 stopped sending heartbeats while running it (killed or lost); run again as trial 9'
    """
    who = f"its process {worker}" if worker else "its process"
    return f"{who} stopped sending heartbeats while running it (killed or lost); run again as trial {retry}"


def _trial_number(run: Any) -> int | None:
    value = run.data.tags.get("automl.trial_number")
    return int(value) if value is not None and str(value).isdigit() else None


def settle_lost_trials(
    client: Any, experiment_id: str, parent_run_id: str, study: Any, logged: set[int],
    payload: Callable[[TrialRecord, str], dict[str, Any]], write: Callable[[Any, dict[str, Any]], Any],
) -> list[int]:
    """Log each lost trial of ``study`` once and close the child runs dead processes left RUNNING.

    Args:
        client: An ``MlflowClient`` on the parent run's store.
        experiment_id: The parent run's experiment.
        parent_run_id: The parent run.
        study: The study (its trials are read once).
        logged: Trial numbers already logged (by this process or, for a resumed run, earlier); updated.
        payload: Builds the child run (a :data:`~automl.tracking.writer.PAYLOAD_KEYS` dict) of a trial
            record with a given ``automl.state``.
        write: Writes one child run payload with ``client`` (:func:`~automl.tracking.writer.write_child_run`).

    Returns:
        The trial numbers whose child run was written or closed here.
    """
    trials = study.get_trials(deepcopy=False)
    lost = lost_trials(trials)
    if not lost:
        return []
    records = {t.number: TrialRecord.read(t) for t in trials}
    dead = {records[n].worker for n in lost if n in records and records[n].worker}
    runs = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
                              max_results=50000)
    seen = {n for n in map(_trial_number, runs) if n is not None}
    done = _close_running(client, runs, lost, records, dead)
    for number, retry in sorted(lost.items()):
        if number in seen or number in logged or number not in records:
            continue
        run = payload(records[number], LOST_STATE)
        run["tags"]["automl.reason"] = lost_reason(records[number].worker, retry)
        write(client, run)
        logged.add(number)
        done.append(number)
    orphans = _log_orphans(client, records, lost, dead, seen | logged, payload, write)
    logged.update(orphans)
    return done + orphans


def _log_orphans(client: Any, records: Mapping[int, TrialRecord], lost: Mapping[int, int], dead: set[str],
                 seen: set[int], payload: Callable[[TrialRecord, str], dict[str, Any]],
                 write: Callable[[Any, dict[str, Any]], Any]) -> list[int]:
    """Log the finished trials of processes known dead that have no child run: a worker logs its trials
    after they end, from a queue, and one killed meanwhile (or before it could join the parent run)
    never wrote them."""
    done = []
    for number, record in sorted(records.items()):
        if record.worker in dead and number not in lost and number not in seen and record.state in FINISHED:
            write(client, payload(record, record.state))
            done.append(number)
    return done


def _close_running(client: Any, runs: Iterable[Any], lost: Mapping[int, int], records: Mapping[int, TrialRecord],
                   dead: set[str]) -> list[int]:
    """Close as KILLED the RUNNING child runs of lost trials and of processes known dead."""
    closed = []
    for run in runs:
        number = _trial_number(run)
        if run.info.status != "RUNNING" or number is None:
            continue
        worker = run.data.tags.get("automl.worker") or (records[number].worker if number in records else "")
        if number in lost:
            client.set_tag(run.info.run_id, "automl.state", LOST_STATE)
            client.set_tag(run.info.run_id, "automl.reason", lost_reason(worker, lost[number]))
        elif worker in dead:
            client.set_tag(run.info.run_id, "automl.reason",
                           f"its process {worker} stopped (no heartbeat) before it closed this run")
        else:
            continue
        client.set_terminated(run.info.run_id, status="KILLED")
        closed.append(number)
    return closed
