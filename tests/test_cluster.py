"""Workers on a Dask cluster, for real: a scheduler and worker processes (``dask scheduler`` /
``dask worker`` subprocesses on loopback), the ``automl`` console script, a real PostgreSQL.

- ``automl sweep --workers 3 --cluster ADDRESS``: exactly the trial target, shared with the Dask tasks.
- ``kill -9`` of the Dask worker process whose ``automl worker`` is mid-trial: the worker dies with it,
  its trial is failed by heartbeat and run again, the sweep completes.
- a task whose Dask worker died is run again by Dask elsewhere; cancelling stops its process.
- bad input (``--workers 1``, an unreachable scheduler) is refused before anything is written.
- the Slurm script, run by ``bash`` as an array task, joins a sweep; the Kubernetes manifest parses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from sklearn.datasets import make_classification

from automl.search.trial_record import TrialRecord
from automl.sweep import study_leaderboard

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; dies by PR_SET_PDEATHSIG")]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(sys.executable).with_name("automl"))
BAD_WORDS = ("Traceback", "database is locked", "deadlock", "could not serialize", "UniqueViolation")
STATE = optuna.trial.TrialState


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "AUTOML_TRACKING": "0", "AUTOML_HEARTBEAT_SECONDS": "1", **extra}


class DaskCluster:
    """``dask scheduler`` and ``dask worker --no-nanny`` processes (one thread each) on 127.0.0.1."""

    def __init__(self, folder: Path, n_workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        address_file = folder / "scheduler.json"
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                     "--scheduler-file", str(address_file), log="scheduler")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the scheduler writes the file in place: once there, it may still be empty
            try:
                self.address = json.loads(address_file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        else:
            raise AssertionError(f"dask scheduler wrote no address to {address_file} within 60 s")
        self.workers = [self._start("worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                    "--host", "127.0.0.1", "--local-directory", str(folder / f"w{i}"), log=f"w{i}")
                        for i in range(n_workers)]
        with distributed.Client(self.address, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=60)

    def _start(self, *args: str, log: str) -> subprocess.Popen:
        with open(self.folder / f"{log}.log", "wb") as out:
            return subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.folder, env=_env(),
                                    stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        for process in self.workers:  # SIGTERM would have them reconnect to a closing scheduler for a while
            if process.poll() is None:
                process.kill()
        if self.scheduler.poll() is None:
            self.scheduler.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    cluster = DaskCluster(tmp_path_factory.mktemp("dask"), 3)
    yield cluster
    cluster.stop()


@pytest.fixture
def own_cluster(tmp_path):
    """A cluster of 2 workers for a test that kills one."""
    cluster = DaskCluster(tmp_path / "dask", 2)
    yield cluster
    cluster.stop()


def _data(folder: Path, rows: int, features: int = 6) -> None:
    X, y = make_classification(rows, features, n_informative=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(features)])
    frame["label"] = y
    frame.to_csv(folder / "train.csv", index=False)


def _sweep(folder: Path, storage: str, tracking_uri: str | None = None, **settings: object) -> Path:
    tracking = ["tracking: false"] if tracking_uri is None else ["tracking: true", f"tracking_uri: {tracking_uri}"]
    lines = ["data: train.csv", "target: label", "study_name: s", f"storage: {storage}", *tracking,
             "pruner: none", "cv: 3", "n_jobs: 1"]
    lines += [f"{k}: {v}" for k, v in settings.items()]
    path = folder / "sweep.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _start(*args: str, cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([SCRIPT, *args], cwd=cwd, env=_env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def _trials(storage: str, study: str = "s") -> list[optuna.trial.FrozenTrial]:
    from automl.search.storage import open_storage

    return optuna.load_study(study_name=study, storage=open_storage(storage, study)).get_trials()


def _pid_of(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    """The process is dead (no such pid, or a zombie no one has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _eventually(condition, what: str, timeout: float = 60.0):  # noqa: ANN001, ANN202 - a test helper
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def _worker_processes(study: str) -> list[int]:
    """Pids of the live ``automl worker --study STUDY`` processes on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            is_worker = b"worker" in command and b"--study" in command and study.encode() in command
            if is_worker and not _gone(int(entry.name)):
                found.append(int(entry.name))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the sweep with cluster workers ---------------------------------------------------------------------
def test_cluster_workers_and_the_main_process_reach_exactly_the_target_each_logged_once(
        shared_cluster, postgres_url, mlflow_server, tmp_path):
    # The study in a PostgreSQL journal table, the runs on a real MLflow server (PostgreSQL store).
    from tests.tracking.test_tracking_server import _numbers, _runs

    storage = "journal+" + postgres_url
    # Trials long enough that the cluster's workers, which start after the main process (each imports
    # automl, its trial worker and MLflow: about 30 s on a busy 2-core machine), still find trials to run.
    _data(tmp_path, rows=8000, features=20)
    _sweep(tmp_path, storage, mlflow_server.url, n_trials=30, families="[linear]", output="model")
    main = _start("sweep", "sweep.yaml", "--workers", "3", "--cluster", shared_cluster.address, cwd=tmp_path,
                  AUTOML_TRACKING="1")
    code, output = _finish(main)
    assert code == 0, output
    assert not any(word in output for word in BAD_WORDS), output
    trials = _trials(storage)
    complete = [t for t in trials if t.state == STATE.COMPLETE]
    assert len(complete) == 30
    assert len({t.number for t in trials}) == len(trials)
    assert all(t.state != STATE.RUNNING for t in trials)
    workers = {TrialRecord.read(t).worker for t in complete}
    assert len(workers) >= 2
    helpers = {w for w in workers if _pid_of(w) != main.pid}
    assert helpers, "no trial was run by a cluster worker"
    assert (tmp_path / "model" / "manifest.json").is_file()
    parents, children = _runs(mlflow_server.url, "s")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    logged = _numbers(children)
    assert logged == sorted(t.number for t in trials), [  # one child run per trial, none twice
        (t.number, t.state.name, TrialRecord.read(t).worker, TrialRecord.read(t).reason, main.pid) for t in trials
        if t.number not in logged] + [output[-3000:]]
    assert {r.data.tags["automl.worker"] for r in children} >= helpers  # logged by the cluster workers themselves
    assert [r.info.run_name for r in children if r.info.status == "RUNNING"] == []


def test_a_dask_worker_killed_mid_trial_takes_its_automl_worker_and_the_trial_runs_again(
        own_cluster, postgres_url, tmp_path):
    from automl.cluster import launch_workers

    _data(tmp_path, rows=1500, features=20)
    # Slow trials (a pinned forest) so that the kill lands inside one: with 60 trees a trial seen running once
    # completed between the poll and the kill (a full run on 2 cores), so 150.
    _sweep(tmp_path, postgres_url, n_trials=6, families="[random_forest]",
           search_space="{random_forest: {n_estimators: 150}}")
    # The cluster's worker starts first and waits for the study: on a busy machine a helper launched by the
    # sweep itself may still be importing when the main process has run all 6 trials.
    helpers = launch_workers("s", 1, cluster=own_cluster.address, storage=postgres_url,
                             env={"AUTOML_TRACKING": "0", "AUTOML_HEARTBEAT_SECONDS": "1"})
    _eventually(lambda: _worker_processes("s"), "the start of the cluster's automl worker")
    main = _start("sweep", "sweep.yaml", cwd=tmp_path)
    dask_pids = {p.pid for p in own_cluster.workers}

    def running_helper_trial():  # noqa: ANN202
        try:
            trials = _trials(postgres_url)
        except Exception:  # noqa: BLE001 - the study does not exist yet
            return None
        for t in trials:
            pid = _pid_of(TrialRecord.read(t).worker or "x:0")
            if t.state == STATE.RUNNING and pid != main.pid and not _gone(pid):
                return t.number, pid
        return None

    killed_trial, victim = _eventually(running_helper_trial, "a trial of a cluster worker", timeout=120)
    dask_worker = _parent_of(victim)
    assert dask_worker in dask_pids  # the automl worker is a child of a Dask worker process
    os.kill(dask_worker, signal.SIGKILL)
    _eventually(lambda: _gone(victim), "the death of the killed Dask worker's automl worker", timeout=30)
    try:
        code, output = _finish(main)
    finally:
        helpers.cancel()
    assert code == 0, output
    trials = {t.number: t for t in _trials(postgres_url)}
    assert trials[killed_trial].state == STATE.FAIL
    retries = [t for t in trials.values() if killed_trial in TrialRecord.read(t).retry_of]
    assert len(retries) == 1 and retries[0].state == STATE.COMPLETE
    board = study_leaderboard("s", postgres_url)
    reason = board.loc[board["trial"] == killed_trial, "reason"].iloc[0]
    assert reason == f"its process stopped (no heartbeat); run again as trial {retries[0].number}"
    assert sum(t.state == STATE.COMPLETE for t in trials.values()) == 6
    assert all(t.state != STATE.RUNNING for t in trials.values())


def test_a_lost_task_runs_again_on_another_dask_worker_and_cancel_stops_its_process(own_cluster, tmp_path):
    from automl.cluster import launch_workers

    study = f"waiting-{os.getpid()}"  # never created: its worker waits for it
    with distributed.Client(own_cluster.address, set_as_default=False) as client:
        workers = launch_workers(study, 1, cluster=client, storage=str(tmp_path / "none.journal"), wait=600)
        first = _eventually(lambda: _worker_processes(study), "the start of the task's automl worker")[0]
        dask_worker = _parent_of(first)
        assert dask_worker in {p.pid for p in own_cluster.workers}
        assert str(tmp_path / "none.journal").encode() in Path(f"/proc/{first}/environ").read_bytes()
        assert b"none.journal" not in Path(f"/proc/{first}/cmdline").read_bytes()  # the storage is not on argv
        os.kill(dask_worker, signal.SIGKILL)
        _eventually(lambda: _gone(first), "the death of the automl worker with its Dask worker", timeout=30)
        second = _eventually(lambda: [p for p in _worker_processes(study) if p != first],
                             "the task's run on another Dask worker")[0]
        assert _parent_of(second) not in (dask_worker, first)
        workers.cancel()
        assert _gone(second)  # cancel returns once the processes are gone


def test_sigterm_to_the_main_process_stops_the_cluster_workers(shared_cluster, tmp_path):
    _data(tmp_path, rows=1000, features=10)
    _sweep(tmp_path, "studies.journal", time_budget=300, families="[linear]")
    main = _start("sweep", "sweep.yaml", "--workers", "3", "--cluster", shared_cluster.address, cwd=tmp_path)
    helpers = _eventually(lambda: (lambda pids: pids if len(pids) == 2 else None)(_worker_processes("s")),
                          "the start of both cluster workers")  # with --cluster, every helper is a Dask task's
    main.send_signal(signal.SIGTERM)
    code, output = _finish(main, timeout=120)
    assert code == 143, output
    assert all(_gone(pid) for pid in helpers), "a cluster worker outlived its sweep"  # stopped before the exit


def test_a_worker_that_exits_non_zero_is_a_typed_error_naming_the_task_without_the_password(
        shared_cluster, postgres_url):
    from automl.cluster import launch_workers
    from automl.exceptions import AutoMLError, ClusterError

    secret_url = postgres_url.replace("://automl@", "://automl:s3cret-pw@")  # the server trusts: any password
    workers = launch_workers("s", 1, cluster=shared_cluster.address, storage=secret_url, wait=0)
    with pytest.raises(ClusterError) as info:
        workers.wait(timeout=120)
    workers.cancel()
    message = str(info.value)
    assert isinstance(info.value, AutoMLError) and isinstance(info.value, RuntimeError)
    assert message.startswith("1 of 1 automl worker task on the Dask cluster failed")
    assert "task 0 (automl-worker-s-" in message and "exited with code 2" in message
    assert "no study named 's'" in message  # the end of the worker's output
    assert "s3cret-pw" not in message


# -- refused before anything runs ------------------------------------------------------------------------
def _nothing_written(folder: Path) -> None:
    assert not (folder / "studies.journal").exists()
    assert not (folder / "model").exists()
    assert not (folder / "mlflow.db").exists()


def test_cluster_with_one_worker_is_refused_before_anything_runs(tmp_path):
    _data(tmp_path, rows=100)
    _sweep(tmp_path, "studies.journal", n_trials=3, families="[linear]", output="model")
    code, output = _finish(_start("sweep", "sweep.yaml", "--workers", "1", "--cluster", "tcp://127.0.0.1:8786",
                                  cwd=tmp_path))
    assert code == 2, output
    assert "--cluster runs the N - 1 helpers of --workers N as Dask tasks, so it needs --workers 2 or more" in output
    _nothing_written(tmp_path)


def test_an_unreachable_scheduler_fails_fast_naming_the_address_and_writes_nothing(tmp_path):
    _data(tmp_path, rows=100)
    path = _sweep(tmp_path, "studies.journal", n_trials=3, families="[linear]", output="model")
    path.write_text(path.read_text().replace("tracking: false", f"tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, output = _finish(_start("sweep", "sweep.yaml", "--workers", "2", "--cluster", address, cwd=tmp_path,
                                  AUTOML_TRACKING="1"))
    assert code == 1, output
    assert f"cannot reach the Dask scheduler at {address}" in output and "dask scheduler" in output
    assert "Traceback" not in output
    _nothing_written(tmp_path)


# -- the batch-system files ------------------------------------------------------------------------------
def test_the_slurm_script_run_by_bash_as_an_array_task_joins_the_sweep(tmp_path):
    storage = str(tmp_path / "studies.journal")
    code, output = _finish(_start("worker-script", "--format", "slurm", "--study", "s", "--workers", "4",
                                  "--storage-env", "MY_STUDIES", "-o", "workers.sbatch", cwd=tmp_path))
    assert code == 0, output
    script = (tmp_path / "workers.sbatch").read_text()
    assert "#SBATCH --array=0-3" in script and storage not in script
    _data(tmp_path, rows=1500, features=20)
    _sweep(tmp_path, storage, n_trials=8, families="[random_forest]", search_space="{random_forest: {n_estimators: 40}}")
    env = _env(MY_STUDIES=storage, SLURM_ARRAY_TASK_ID="0", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    array_task = subprocess.Popen(["bash", "workers.sbatch"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)  # started first: it waits for the study
    main = _start("sweep", "sweep.yaml", cwd=tmp_path)
    for process in (main, array_task):
        code, output = _finish(process)
        assert code == 0, output
    trials = _trials(storage)
    assert sum(t.state == STATE.COMPLETE for t in trials) == 8
    assert any(_pid_of(TrialRecord.read(t).worker) == array_task.pid for t in trials)  # `exec`: the same pid


def test_the_kubernetes_manifest_is_an_indexed_job_taking_the_storage_from_a_secret(tmp_path):
    code, output = _finish(_start("worker-script", "--format", "kubernetes", "--study", "Income v1", "--workers", "5",
                                  "--image", "registry.example/automl:1", "--secret", "db", "-o", "job.yaml",
                                  cwd=tmp_path))
    assert code == 0, output
    job = yaml.safe_load((tmp_path / "job.yaml").read_text())
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 5, 5)
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/automl:1"
    assert container["command"] == ["automl", "worker", "--study", "Income v1", "--quiet"]
    storage = next(e for e in container["env"] if e["name"] == "AUTOML_STORAGE")
    assert storage["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "storage"}}
