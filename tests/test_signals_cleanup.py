"""A fit stopped by a signal leaves nothing behind: real processes, real signals, a real MLflow store.

- SIGTERM (what ``timeout``, systemd, docker and CI send) mid-search of ``automl fit``: the command
  exits promptly and non-zero, the MLflow parent run is KILLED and no run is left RUNNING, no
  process it started is left, and its temporary folder holds no copy of the data.
- a SIGTERM or Ctrl-C that lands in code which turns it into another exception (as Optuna's journal
  lock does when cut in its release) still ends the fit: the search does not go on to its next trial.
- kill -9 of ``automl fit --workers 2`` mid-search: within seconds no helper, trial worker or
  other process it started is alive, the study stops growing, no copy of the data is left; and the
  helpers' command lines never showed the storage URL (``ps`` shows them to every user).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from automl.search.storage import open_storage

pytestmark = [
    pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]
ROOT = Path(__file__).resolve().parents[1]
#: The CLI, with the chatty family registered (its trials run 60 s, reporting every 5 ms).
CLI = (
    "import sys\n"
    "from automl.families import register_family\n"
    "register_family('chatty', 'benchmarks.chatty_families:CHATTY')\n"
    "register_family('masking', 'benchmarks.chatty_families:MASKING')\n"
    "from automl.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _write_data(folder: Path) -> None:
    X, y = make_classification(150, 5, n_informative=3, random_state=0)
    pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).assign(label=y).to_csv(folder / "train.csv", index=False)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, found by walking the parent ids in /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _wait_for(condition, timeout: float, what: str, process: subprocess.Popen):  # noqa: ANN001, ANN202
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"the fit ended (code {process.returncode}) before {what}: "
                                 f"{process.stderr.read() if process.stderr else ''}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _trials(journal: Path, name: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name=name, storage=open_storage(str(journal), name))
    except KeyError:  # not created yet
        return []
    return study.get_trials(deepcopy=False)


def _data_copies(tmpdir: Path) -> list[str]:
    return [str(p) for p in tmpdir.rglob("*") if p.is_file() and ("automl-trial-data" in p.name or p.suffix == ".pkl")]


def _env(tmp_path: Path, tracking: bool) -> dict[str, str]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmpdir), "AUTOML_TRACKING": "1" if tracking else "0"}


def test_sigterm_mid_search_marks_the_run_killed_and_leaves_nothing(tmp_path):
    from mlflow.tracking import MlflowClient

    _write_data(tmp_path)
    journal, uri = tmp_path / "s.journal", f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = _env(tmp_path, tracking=True)
    command = [sys.executable, "-c", CLI, "fit", "train.csv", "--target", "label", "--families", "chatty",
               "--n-trials", "3", "--cv", "2", "--pruner", "none", "--study", "term", "--storage", str(journal),
               "--tracking-uri", uri]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        _wait_for(lambda: any(t.state.name == "RUNNING" for t in _trials(journal, "term")), 120,
                  "a trial running", process)
        time.sleep(1.0)
        started = _descendants(process.pid)
        assert started, "the fit started no process"
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=30)
        exited = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert code != 0 and exited < 15, f"exit code {code} after {exited:.1f} s"
    time.sleep(2.0)
    assert not [p for p in started if _alive(p)], [(_cmdline(p)) for p in started if _alive(p)]
    assert _data_copies(Path(env["TMPDIR"])) == []
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [r.info.status for r in parents] == ["KILLED"]
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]
    assert all(t.state.name != "RUNNING" for t in _trials(journal, "term"))


@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_request_turned_into_another_exception_still_ends_the_fit(tmp_path, sig, expected):
    """The trial's own code masks the interrupt as a RuntimeError: before, the trial was marked failed
    and the search started its next 30 s trial, deaf to the request (CI saw it as a hang)."""
    from mlflow.tracking import MlflowClient

    _write_data(tmp_path)
    journal, uri = tmp_path / "s.journal", f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = _env(tmp_path, tracking=True)
    command = [sys.executable, "-c", CLI, "fit", "train.csv", "--target", "label", "--families", "masking",
               "--n-trials", "3", "--cv", "2", "--pruner", "none", "--isolation", "none", "--study", "mask",
               "--storage", str(journal), "--tracking-uri", uri]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(lambda: any(t.state.name == "RUNNING" for t in _trials(journal, "mask")), 120,
                  "a trial running", process)
        time.sleep(1.0)
        process.send_signal(sig)
        sent = time.monotonic()
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            code = None
        exited = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    trials = _trials(journal, "mask")
    assert code == expected and exited < 15, f"exit code {code} after {exited:.1f} s; trials {[t.state.name for t in trials]}"
    assert len(trials) == 1, "the search went on to another trial"
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs if "mlflow.parentRunId" not in r.data.tags] == ["KILLED"]
    assert not [r.info.run_name for r in runs if r.info.status == "RUNNING"]


def test_kill_9_of_a_fit_with_workers_leaves_no_process_no_data_and_no_secret_in_argv(tmp_path):
    _write_data(tmp_path)
    folder = tmp_path / "store?token=hunter2secret"
    folder.mkdir()
    journal = folder / "s.journal"
    env = _env(tmp_path, tracking=False)
    command = [sys.executable, "-m", "automl.cli", "fit", "train.csv", "--target", "label", "--families", "linear",
               "--time-budget", "300", "--cv", "2", "--no-ensemble", "--study", "nine", "--storage", str(journal),
               "--workers", "2"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        def helper_busy() -> int | None:
            helpers = [p for p in _descendants(process.pid) if " worker --study" in _cmdline(p)]
            busy = [h for h in helpers if any("multiprocessing.spawn" in _cmdline(c) for c in _descendants(h))]
            trials = _trials(journal, "nine")
            return busy[0] if busy and len(trials) >= 3 else None

        helper = _wait_for(helper_busy, 120, "a helper running trials", process)
        assert "hunter2secret" not in _cmdline(helper) and "--storage" not in _cmdline(helper)
        time.sleep(1.0)
        started = _descendants(process.pid)
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(5.0)
    left = [(p, _cmdline(p)) for p in started if _alive(p)]
    assert not left, left
    grown = len(_trials(journal, "nine"))
    time.sleep(3.0)
    assert len(_trials(journal, "nine")) == grown, "trials were still added after every process was killed"
    assert _data_copies(Path(env["TMPDIR"])) == []
