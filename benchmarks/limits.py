"""Limits and clean-up, measured from the outside (issue 18, items 6-8).

Prints, every run reported:

(a) ``trial_timeout``: a ``chatty`` trial (an epoch every 5 ms, for 30 s) with ``trial_timeout=2``;
    seconds from the limit (the trial's start in the study + 2 s) to the worker's disappearance
    from ``/proc`` (polled every 5 ms by this process), and the trial's state;
(b) ``trial_memory_limit``: a ``chatty_hog`` trial (5 MiB more at each epoch) with the limit 150 MiB
    above the warm worker's resident memory: killed or not, seconds from the moment this process
    first read the worker's RSS over the limit to its disappearance, the peak RSS read;
(c) SIGTERM to ``automl fit`` mid-search (tracking to a SQLite MLflow store, its own TMPDIR):
    seconds to exit and the exit code, the parent run's status, runs left RUNNING, data copies left
    in TMPDIR, processes it started still alive 2 s after it exited;
(d) kill -9 of ``automl fit --workers 2`` mid-search: data copies and processes left after 5 s,
    trials added to the study from 5 s to 8 s after the kill.

Usage: ``python -m benchmarks.limits [--runs 3]`` (about 2 minutes; Linux, reads ``/proc``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = ("import sys\nfrom automl.families import register_family\n"
       "register_family('chatty', 'benchmarks.chatty_families:CHATTY')\n"
       "from automl.cli import main\nsys.exit(main(sys.argv[1:]))\n")


def _frame() -> Any:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(150, 5, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(label=y)


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != b"Z"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        fields = _stat(int(entry)) if entry.isdigit() else None
        if fields is not None:
            parents[int(entry)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        children = [c for c, p in parents.items() if p == parent and c not in found]
        found.update(children)
        todo += children
    return found


def _warm_worker() -> int:
    """Fit once so that a trial worker is warm; return its pid."""
    import automl

    automl.fit(_frame(), "label", n_trials=1, families=["linear"], cv=2, tracking=False, ensemble=False)
    return [p for p in multiprocessing.active_children() if p.name == "automl-trial-worker" and p.is_alive()][-1].pid


class _Watch(threading.Thread):
    """Polls a process every 5 ms: when its RSS first passes ``limit_mb``, its peak RSS, when it is gone."""

    def __init__(self, pid: int, limit_mb: float | None = None) -> None:
        super().__init__(daemon=True)
        self.pid, self.limit_mb = pid, limit_mb
        self.crossed: float | None = None
        self.gone: float | None = None
        self.peak = 0.0
        self.start()

    def run(self) -> None:
        while _alive(self.pid):
            rss = _rss_mb(self.pid)
            self.peak = max(self.peak, rss)
            if self.limit_mb is not None and self.crossed is None and rss > self.limit_mb:
                self.crossed = time.time()
            time.sleep(0.005)
        self.gone = time.time()


def _one_trial(family: str, folder: str, name: str, **settings: Any) -> Any:
    import optuna

    import automl
    from automl.search.storage import open_storage

    journal = os.path.join(folder, "s.journal")
    try:
        automl.fit(_frame(), "label", n_trials=1, families=[family], cv=2, pruner="none", tracking=False,
                   study_name=name, storage=journal, **settings)
    except automl.AllTrialsFailedError:
        pass
    return optuna.load_study(study_name=name, storage=open_storage(journal, name)).get_trials()[0]


def timeout_runs(runs: int, folder: str) -> None:
    from automl.families import register_family
    from automl.search.trial_record import TrialRecord

    register_family("chatty", "benchmarks.chatty_families:CHATTY")
    print("(a) trial_timeout=2 on a chatty trial (an epoch every 5 ms for 30 s)")
    for run in range(runs):
        watch = _Watch(_warm_worker())
        trial = _one_trial("chatty", folder, f"timeout-{run}", trial_timeout=2.0,
                           search_space={"chatty": {"seconds": 30.0}})
        watch.join(5)
        late = None if watch.gone is None else watch.gone - (trial.datetime_start.timestamp() + 2.0)
        print(f"  run {run + 1}: killed {late:+.2f} s after the limit; trial {trial.state.name}: "
              f"{TrialRecord.read(trial).reason}" if late is not None else f"  run {run + 1}: NOT killed")


def memory_runs(runs: int, folder: str) -> None:
    from automl.families import register_family
    from automl.search.trial_record import TrialRecord

    register_family("chatty_hog", "benchmarks.chatty_families:CHATTY_HOG")
    print("(b) trial_memory_limit on a chatty allocator (+5 MiB and an epoch every 5 ms)")
    for run in range(runs):
        pid = _warm_worker()
        limit = round(_rss_mb(pid) + 150)
        watch = _Watch(pid, limit)
        trial = _one_trial("chatty_hog", folder, f"memory-{run}", trial_memory_limit=limit,
                           search_space={"chatty_hog": {"seconds": 30.0, "step_mb": 5.0}})
        watch.join(5)
        killed = watch.gone is not None and trial.state.name == "FAIL"
        past = (watch.gone - watch.crossed) if killed and watch.crossed is not None else float("nan")
        print(f"  run {run + 1}: limit {limit} MiB; killed: {'yes' if killed else 'NO'}, {past:.3f} s after this "
              f"process read the RSS over the limit; peak RSS read {watch.peak:.0f} MiB; trial {trial.state.name}: "
              f"{TrialRecord.read(trial).reason}")


def _cli(folder: Path, args: list[str], tracking: bool) -> tuple[subprocess.Popen, Path]:
    import pandas as pd  # noqa: F401 - _frame needs it

    _frame().to_csv(folder / "train.csv", index=False)
    tmpdir = folder / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmpdir), "AUTOML_TRACKING": "1" if tracking else "0"}
    command = [sys.executable, "-c", CLI, "fit", "train.csv", "--target", "label", "--cv", "2", *args]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), tmpdir


def _copies(tmpdir: Path) -> int:
    return sum(1 for p in tmpdir.rglob("*") if p.is_file() and ("automl-trial-data" in p.name or p.suffix == ".pkl"))


def _n_trials(journal: Path, name: str) -> int:
    import optuna

    from automl.search.storage import open_storage

    try:
        return len(optuna.load_study(study_name=name, storage=open_storage(str(journal), name)).get_trials())
    except KeyError:
        return 0


def _wait_trials(process: subprocess.Popen, journal: Path, name: str, n: int) -> None:
    end = time.monotonic() + 120
    while _n_trials(journal, name) < n and process.poll() is None and time.monotonic() < end:
        time.sleep(0.25)


def sigterm_run(folder: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri, journal = f"sqlite:///{folder / 'mlflow.db'}", folder / "s.journal"
    process, tmpdir = _cli(folder, ["--families", "chatty", "--n-trials", "3", "--pruner", "none", "--study", "t",
                                    "--storage", str(journal), "--tracking-uri", uri], tracking=True)
    _wait_trials(process, journal, "t", 1)
    time.sleep(1.0)
    started = _descendants(process.pid)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    code = process.wait(timeout=60)
    exited = time.monotonic() - sent
    time.sleep(2.0)
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags]
    running = sum(r.info.status == "RUNNING" for r in runs)
    print(f"(c) SIGTERM mid-search: exit after {exited:.2f} s with code {code}; parent run {parent}; "
          f"{running} runs RUNNING; data copies left {_copies(tmpdir)}; "
          f"processes left {sum(_alive(p) for p in started)} of {len(started)}")


def kill9_run(folder: Path) -> None:
    journal = folder / "s.journal"
    process, tmpdir = _cli(folder, ["--families", "linear", "--time-budget", "300", "--no-ensemble", "--study", "k",
                                    "--storage", str(journal), "--workers", "2"], tracking=False)
    _wait_trials(process, journal, "k", 10)
    started = _descendants(process.pid)
    process.kill()
    process.wait()
    time.sleep(5.0)
    left = sum(_alive(p) for p in started)
    before = _n_trials(journal, "k")
    time.sleep(3.0)
    print(f"(d) kill -9 of `automl fit --workers 2` mid-search: after 5 s, data copies left {_copies(tmpdir)}, "
          f"processes left {left} of {len(started)}; trials added 5-8 s after the kill: "
          f"{_n_trials(journal, 'k') - before}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of (a) and of (b)")
    args = parser.parse_args(argv)
    os.environ["AUTOML_TRACKING"] = "0"
    with tempfile.TemporaryDirectory() as folder:
        timeout_runs(args.runs, folder)
        memory_runs(max(1, args.runs - 1), folder)
        for part in (sigterm_run, kill9_run):
            sub = Path(folder) / part.__name__
            sub.mkdir()
            part(sub)


if __name__ == "__main__":
    main()
