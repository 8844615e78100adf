"""A terminal's Ctrl-C, for real: SIGINT to the whole process group of a tracked ``automl fit``.

A terminal sends Ctrl-C's SIGINT to every process of the foreground group: the fit's own, the MLflow
writer and the spawned trial workers alike. The helpers must ignore it from their first instruction
(the fit's process alone handles it and stops them in order); before, a helper still starting (spawn's
bootstrap importing automl, scikit-learn or MLflow) died of it with a traceback on stderr, and a dead
writer lost the finished trials' MLflow runs. The signal is sent once the writer is writing the
finished trials' runs and keeping up, while a trial worker is still starting: then the command exits 130
with no traceback, every complete trial has its one FINISHED child run, no run is left RUNNING and no
process it started is left.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import psutil
import pytest

from automl.search.storage import open_storage

pytestmark = [
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]
ROOT = Path(__file__).resolve().parents[1]


def _write_data(folder: Path) -> None:
    """300 rows: two float columns, a text column and a yes/no target."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(size=300)
    c = rng.choice(["red", "green", "blue"], 300)
    y = np.where(a + 0.5 * b + (c == "red") + rng.normal(scale=0.5, size=300) > 0.3, "yes", "no")
    pd.DataFrame({"a": a, "b": b, "c": c, "y": y}).to_csv(folder / "train.csv", index=False)


def _tracked_fit(folder: Path) -> tuple[Path, str, list[str]]:
    """The data in ``folder``, and ``(journal, tracking URI, command)`` of a tracked ``automl fit`` of fast trials
    there (linear, 120 s: the MLflow store is opened before the first trial)."""
    _write_data(folder)
    journal, uri = folder / "s.journal", f"sqlite:///{folder / 'mlflow.db'}"
    command = [sys.executable, "-m", "automl.cli", "fit", "train.csv", "--target", "y", "--time-budget", "120",
               "--families", "linear", "--study", "s", "--storage", str(journal), "--tracking-uri", uri]
    return journal, uri, command


def _check_runs(journal: Path, uri: str) -> tuple[list[int], list]:
    """Assert that no MLflow run is left RUNNING and that every complete trial has its one FINISHED run;
    ``(the complete trials' numbers, the runs)``."""
    from mlflow.tracking import MlflowClient

    complete = [n for n, state in _trial_states(journal).items() if state == optuna.trial.TrialState.COMPLETE]
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000)
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    for number in complete:
        mine = [r.info.status for r in runs if r.data.tags.get("automl.trial_number") == str(number)]
        assert mine == ["FINISHED"], f"trial {number}: runs {mine}"
    return complete, runs


def _foreground_sigint() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _trial_states(journal: Path) -> dict[int, optuna.trial.TrialState]:
    """The state of each trial of the study, by number (none before the study exists)."""
    if not journal.exists():
        return {}
    try:
        study = optuna.load_study(study_name="s", storage=open_storage(str(journal), "s"))
    except KeyError:  # not created yet
        return {}
    return {t.number: t.state for t in study.get_trials(deepcopy=False)}


def _sleeping(pid: int) -> bool:
    """Whether the main thread of ``pid`` is blocked in a system call (waiting for its trial worker, when
    a trial runs), not running Python: on one core, where the test runs the fit is not running."""
    try:
        with open(f"/proc/{pid}/task/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"S"
    except OSError:
        return False


def _ignores_sigint(pid: int) -> bool:
    """Whether the process ``pid`` has SIGINT ignored (True once it is gone: nothing to catch there)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            fields = dict(line.split(":\t", 1) for line in handle.read().splitlines() if ":\t" in line)
    except OSError:
        return True
    return bool(int(fields["SigIgn"], 16) & (1 << (signal.SIGINT - 1)))


def _child_runs_written(store: Path) -> int:
    """How many trial runs the MLflow writer has written (the parent run is RUNNING until the fit ends, so every
    FINISHED run is a trial's)."""
    try:
        with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.1)) as db:
            return int(db.execute("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0])
    except sqlite3.Error:  # not made yet, or locked by a write this moment
        return 0


def _writer_keeping_up(store: Path, journal: Path) -> bool:
    """Whether the MLflow writer has written a trial's run and is at most two behind the complete trials. On one
    core shared with the search a fast family's trials (0.5 s) come faster than the writer writes their runs, so
    later in the search its queue is a backlog that no interrupted fit's seconds can write (the fit then says
    "incomplete", as it should); the moment this test is about comes early, when the queue is short."""
    written = _child_runs_written(store)
    complete = sum(state == optuna.trial.TrialState.COMPLETE for state in _trial_states(journal).values())
    return written > 0 and written >= complete - 2


def _helpers(process: psutil.Process, store: Path) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """The fit's spawned helper processes alive now: the MLflow writers that opened the ``store`` file (the
    writer opens it once MLflow is imported) and the others (trial workers, a writer still starting)."""
    writers: list[psutil.Process] = []
    others: list[psutil.Process] = []
    for child in process.children(recursive=True):
        try:
            if any("multiprocessing.spawn" in part for part in child.cmdline()):
                opened = any(Path(f.path) == store for f in child.open_files())
                (writers if opened else others).append(child)
        except psutil.Error:
            continue
    return writers, others


def _interrupt_moment(fit: subprocess.Popen, journal: Path, store: Path, started: set[psutil.Process]) -> None:
    """Wait until the MLflow writer is keeping up with the trials and a trial worker is alive; kill the
    trial workers (as the OS's out-of-memory killer would: the fit replaces them and goes on), then wait
    until a replacement is still starting (it has not ignored SIGINT yet: before the fix, the moment a
    Ctrl-C killed it with a traceback) while the fit's main thread waits in a system call (not in
    Optuna's bookkeeping of a trial, which is not this test's subject). Every process the fit starts
    meanwhile is added to ``started``."""
    tree = psutil.Process(fit.pid)
    end = time.monotonic() + 120.0
    killed: set[int] = set()
    while time.monotonic() < end:
        if fit.poll() is not None:
            raise AssertionError(f"the fit ended (code {fit.returncode}) before the interrupt: {fit.communicate()[1]}")
        started.update(tree.children(recursive=True))
        writers, others = _helpers(tree, store)
        if not killed and writers and others and _writer_keeping_up(store, journal):
            for worker in others:
                worker.kill()
                killed.add(worker.pid)
        elif killed and any(h.pid not in killed and not _ignores_sigint(h.pid) for h in others) and _sleeping(fit.pid):
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for a finished trial with the MLflow writer up and a worker starting")


def test_ctrl_c_to_the_process_group_is_the_fits_alone_and_keeps_every_finished_trials_run(tmp_path):
    journal, uri, command = _tracked_fit(tmp_path)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp"), "AUTOML_TRACKING": "1"}
    fit = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True, preexec_fn=_foreground_sigint)
    started: set[psutil.Process] = set()
    try:
        _interrupt_moment(fit, journal, tmp_path / "mlflow.db", started)
        os.killpg(fit.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, stderr = fit.communicate(timeout=30)
    finally:
        if fit.poll() is None:
            os.killpg(fit.pid, signal.SIGKILL)
            fit.wait()
    assert fit.returncode == 130, stderr
    assert "Traceback" not in stderr and "incomplete" not in stderr, stderr
    _, left = psutil.wait_procs(list(started), timeout=10)
    assert not left, [p.pid for p in left]

    complete, runs = _check_runs(journal, uri)
    assert complete
    assert [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags] == ["KILLED"]


def test_a_ctrl_c_that_optuna_turns_into_another_error_is_raised_as_the_interrupt(monkeypatch):
    """A Ctrl-C landing in Optuna's trial bookkeeping surfaced as "UnboundLocalError: ... 'updated_state'" and the
    fit exited 1 ("failed") instead of 130; the search raises the interrupt it was."""
    from types import SimpleNamespace

    from automl import _spawn
    from automl.search.runner import _optimize

    class _Study:
        def optimize(self, *args, **kwargs):
            raise UnboundLocalError("cannot access local variable 'updated_state'")

    objective = SimpleNamespace(asked=[], lost=0)
    with pytest.raises(UnboundLocalError):  # no interrupt arrived: the error is the error
        _optimize(_Study(), objective, [])
    monkeypatch.setitem(_spawn._STATE, "interrupted", True)
    with pytest.raises(KeyboardInterrupt) as info:
        _optimize(_Study(), objective, [])
    assert isinstance(info.value.__cause__, UnboundLocalError)


def _one_core() -> None:  # runs in the child between fork and exec
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    # as a terminal's foreground job: a suite started in the background (`pytest ... &` from a script, or under
    # nohup) passes SIGINT ignored down to every child, and Python then installs no KeyboardInterrupt handler. That
    # was this test's failure under the full suite (fifty-first and fifty-fifth sessions: SigIgn held SIGINT).
    _foreground_sigint()


def test_ctrl_c_just_after_the_first_trial_on_one_core_logs_that_trials_run(tmp_path):
    """The fit, its trial worker and its MLflow writer share one core: the writer is still importing MLflow when
    the first trial completes (12 s in, measured). Before, a Ctrl-C then lost the trial's run ("incomplete ...
    trial runs not logged"): the writer could not start writing within the interrupted fit's seconds. The fit's
    own process, connected since it made the parent run, writes the queue instead (automl/tracking/writer.py)."""
    journal, uri, command = _tracked_fit(tmp_path)
    fit = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "AUTOML_TRACKING": "1"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=_one_core)
    try:
        end = time.monotonic() + 120
        while optuna.trial.TrialState.COMPLETE not in _trial_states(journal).values():
            assert fit.poll() is None and time.monotonic() < end, fit.communicate()[1]
            time.sleep(0.05)
        fit.send_signal(signal.SIGINT)
        try:
            _, stderr = fit.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # once under the full suite's load (fifty-first session): say how SIGINT
            raise AssertionError(f"the fit ran on after SIGINT; its signal masks: {_masks(fit.pid)}") from None
    finally:
        if fit.poll() is None:
            fit.kill()
            fit.wait()
    assert fit.returncode == 130, stderr
    assert "Traceback" not in stderr and "incomplete" not in stderr, stderr
    _check_runs(journal, uri)


def _masks(pid: int) -> str:
    """The process's blocked, ignored and pending signals as /proc shows them (SigBlk, SigIgn, SigPnd, ShdPnd), and
    those of its threads' blocked masks."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            lines = [line for line in handle.read().splitlines() if line.startswith(("SigBlk", "SigIgn", "SigPnd",
                                                                                    "ShdPnd"))]
        threads = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status", encoding="ascii") as handle:
                threads += [line.split()[1] for line in handle if line.startswith("SigBlk")]
    except OSError as exc:
        return f"unreadable ({exc})"
    return "; ".join(lines) + f"; threads' SigBlk: {threads}"
