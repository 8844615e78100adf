"""Run ``automl worker`` processes as Dask tasks on a Dask distributed cluster (``--cluster ADDRESS``).

:func:`launch_workers` submits ``n`` tasks; each runs one ``automl worker --study NAME --quiet`` as a
subprocess of its Dask worker and returns how it ended (:class:`WorkerExit`: exit code, end of output).
The subprocess:

- gets the storage in ``$AUTOML_STORAGE`` and the tracking URI in ``$MLFLOW_TRACKING_URI``, never on
  its command line (which ``ps`` shows). They travel to the Dask worker inside the task: on a network
  you do not trust, use a TLS cluster (``tls://``, with a client passed in).
- dies with its Dask worker: the child asks Linux, between ``fork`` and ``exec`` (a ``preexec_fn``
  calling libc's ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` through ctypes), for SIGKILL when the thread
  that started it ends. That thread waits in the task until the child ends, so it ends only with the
  Dask worker process, even by ``kill -9``. Dask then runs the task again on a live worker (up to
  ``distributed.scheduler.allowed-failures`` times, 3 by default); the new ``automl worker`` simply
  joins the study again, and the killed one's trial is failed by heartbeat and queued once more.
  Elsewhere than Linux the child ends at the sweep's deadline or trial target.
- is stopped (SIGTERM, then SIGKILL after 10 s) when its task is cancelled (:meth:`ClusterWorkers.cancel`)
  or released because the client that submitted it went away (the task checks twice a second).

Tasks are impure (``pure=False``: two launches never share a result) and spread over distinct Dask
workers where there are enough (a loose restriction: Dask may move a task to another worker).
A scheduler's machines need a shared study store, such as PostgreSQL; a journal file serves only a
cluster on this host.

Why Dask rather than Ray: the ``dask`` and ``distributed`` wheels are 2.5 MB of pure Python, Ray's is
79 MB. Measured here (2 busy cores): ``import distributed`` 0.7 s; a local cluster of 2 worker
processes plus its client 1.5 s.

Example:
    >>> import tempfile
    >>> from distributed import Client, LocalCluster
    >>> folder = tempfile.mkdtemp()
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
    ...     workers = launch_workers("no-such-study", 1, cluster=client, storage=f"{folder}/s.journal", wait=0)
    ...     try:
    ...         workers.wait()
    ...     except ClusterError as exc:
    ...         print(str(exc).splitlines()[0])
    1 of 1 automl worker task on the Dask cluster failed:
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from automl._redact import redact_text, redact_url, take_over
from automl._spawn import (
    _PR_SET_PDEATHSIG, PARENT_FD_ENV, PARENT_PID_ENV, STOP_GRACE_SECONDS, stop_helper, worker_arguments,
)
from automl.exceptions import ClusterConnectionError, ClusterError, InvalidParameterError
from automl.search.storage import STORAGE_ENV

__all__ = ["ClusterWorkers", "WorkerExit", "cluster_storage", "connect", "launch_workers", "run_worker_task",
           "worker_arguments"]

#: Seconds to reach the scheduler before :class:`~automl.exceptions.ClusterConnectionError`.
CONNECT_TIMEOUT = 10.0
#: Characters of a worker's output kept for :class:`WorkerExit` and the error messages.
TAIL_CHARS = 2000
#: Seconds between two checks of a running task for its cancellation.
POLL_SECONDS = 0.5
TRACKING_ENV = "MLFLOW_TRACKING_URI"

_RUNNING_STATES = ("executing", "long-running")
#: In a Dask worker process: launch token -> the ``automl worker`` subprocesses its tasks run there.
_RUNNING: dict[str, dict[int, subprocess.Popen]] = {}
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class WorkerExit:
    """How one task's ``automl worker`` ended: its task number, exit code (negative: killed by that
    signal), the end of its output (passwords masked) and ``host:pid``, the id it recorded on its trials."""

    task: int
    exit_code: int
    output_tail: str
    where: str


def cluster_storage(storage: object = None) -> str:
    """The storage as a process elsewhere needs it: ``env:NAME`` read here, and paths (the default journal
    file, a relative journal path or ``sqlite:///`` file) made absolute.

    Example:
        >>> cluster_storage("postgresql://me:pw@db/studies")
        'postgresql://me:pw@db/studies'
        >>> cluster_storage("runs/s.journal") == os.path.abspath("runs/s.journal")
        True
    """
    from automl.search.storage import DEFAULT_STORAGE_FILE

    if storage is None:
        storage = os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE_FILE
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if not isinstance(storage, str):
        raise InvalidParameterError(
            f"storage={type(storage).__name__} cannot be sent to a cluster's workers; pass its URL "
            "(postgresql://user@host/db) or a journal file path instead of a storage object")
    return _absolute(take_over(storage) or "")


def _absolute(storage: str) -> str:
    for prefix in ("journal:///", "sqlite:///"):
        if storage.startswith(prefix):
            path = storage[len(prefix):]
            if path and not path.startswith(("/", ":memory:")):
                return prefix + os.path.abspath(path)
            return storage
    return storage if "://" in storage else os.path.abspath(storage)


def _tracking_uri(tracking_uri: str | None) -> str:
    from automl.tracking.mlflow_tracker import default_tracking_uri

    uri = take_over(tracking_uri) if tracking_uri is not None else default_tracking_uri()
    return _absolute(uri or "") if (uri or "").startswith("sqlite:///") else str(uri)


# -- connecting -------------------------------------------------------------------------------------
def connect(cluster: Any, timeout: float = CONNECT_TIMEOUT) -> tuple[Any, bool]:
    """``(client, made_here)`` for ``cluster``: a scheduler address (``tcp://host:8786``) gets a new
    ``distributed.Client``; anything else is taken as a client already made (and left open).

    Raises:
        ClusterConnectionError: Dask distributed is not installed, or nothing answers at the address
            within ``timeout`` seconds (a refused connection fails at once); names the address and the fix.

    Example:
        >>> connect("tcp://127.0.0.1:1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        automl.exceptions.ClusterConnectionError: cannot reach the Dask scheduler at tcp://127.0.0.1:1 (...); ...
    """
    if not isinstance(cluster, str | os.PathLike):
        return cluster, False
    address = os.fspath(cluster).strip()
    shown = redact_url(address)
    try:
        from distributed import Client
    except ImportError:
        raise ClusterConnectionError(
            f"--cluster {shown}: Dask distributed is not installed here; pip install 'automl[cluster]' "
            "(on this machine and on the cluster's workers)") from None
    _check_reachable(address, shown, timeout)
    try:
        return Client(address, timeout=timeout, set_as_default=False), True
    except (OSError, ValueError, TypeError) as exc:  # a timeout is an OSError
        raise ClusterConnectionError(_unreachable(shown, redact_text(str(exc), address))) from None


def _unreachable(shown: str, reason: str) -> str:
    return (f"cannot reach the Dask scheduler at {shown} ({reason}); start one there (`dask scheduler`, then "
            f"`dask worker {shown}` on each machine) or pass the address it prints: --cluster tcp://HOST:8786")


def _check_reachable(address: str, shown: str, timeout: float) -> None:
    """Fail at once where a plain TCP address refuses the connection (the client would retry until its timeout)."""
    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("", "tcp") or not host or not port.isdigit():
        return  # tls://, ucx://, inproc:// or no port: the client checks
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout, 5.0)).close()
    except OSError as exc:
        raise ClusterConnectionError(_unreachable(shown, exc.strerror or type(exc).__name__)) from None


# -- launching --------------------------------------------------------------------------------------
def _launch_problems(study_name: object, n: object, n_trials: object, wait: object) -> list[str]:
    problems = []
    if not isinstance(study_name, str) or not study_name:
        problems.append(f"study_name must be the sweep's study name, a non-empty string; got {study_name!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"n must be the number of workers to launch, a whole number >= 1; got {n!r}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        problems.append(f"n_trials must be None (until the sweep ends) or a whole number >= 1; got {n_trials!r}")
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0):
        problems.append(f"wait must be None (60 s) or seconds >= 0; got {wait!r}")
    return problems


def launch_workers(
    study_name: str, n: int, *, cluster: Any, storage: object = None, n_trials: int | None = None,
    tracking_uri: str | None = None, data: str | None = None, wait: float | None = None,
    env: Mapping[str, str] | None = None, connect_timeout: float = CONNECT_TIMEOUT,
) -> ClusterWorkers:
    """Run ``n`` ``automl worker`` processes on a Dask cluster, each in its own task, joining ``study_name``.

    Args:
        study_name: The sweep's study (the workers wait up to ``wait`` seconds for it to appear).
        n: Number of tasks (spread over distinct Dask workers where there are enough).
        cluster: The scheduler's address (``tcp://host:8786``) or a ``distributed.Client`` (or an object
            with its ``submit``, ``cancel``, ``run`` and ``scheduler_info``), left open.
        storage: The study's storage (default ``$AUTOML_STORAGE``, else the local journal file, made absolute).
        n_trials: Trials per worker (default: until the sweep's deadline or trial target).
        tracking_uri: MLflow store for the workers (default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///`` here).
        data: The data's path on the Dask workers' machines (default: the sweep's own path).
        wait: Seconds each worker waits for the study (default 60).
        env: More environment variables for the workers.
        connect_timeout: Seconds to reach the scheduler.

    Returns:
        A :class:`ClusterWorkers` handle: ``wait()`` for the exits, ``cancel()`` to stop them.

    Raises:
        InvalidParameterError: a bad argument. ClusterConnectionError: the scheduler cannot be reached.

    Example:
        >>> launch_workers("s", 0, cluster="tcp://127.0.0.1:1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        automl.exceptions.InvalidParameterError: n must be the number of workers to launch, a whole number >= 1; got 0
    """
    problems = _launch_problems(study_name, n, n_trials, wait)
    if problems:
        raise InvalidParameterError(problems)
    child_env = {**(env or {}), STORAGE_ENV: cluster_storage(storage), TRACKING_ENV: _tracking_uri(tracking_uri)}
    arguments = worker_arguments(study_name, n_trials=n_trials, data=data, wait=wait)
    client, owned = connect(cluster, connect_timeout)
    token = uuid.uuid4().hex[:12]
    try:
        targets = _spread(client, n)
        futures = []
        for task in range(n):
            where = {} if targets[task] is None else {"workers": [targets[task]], "allow_other_workers": True}
            futures.append(client.submit(run_worker_task, task, arguments, child_env, token, pure=False,
                                         key=f"automl-worker-{study_name}-{token}-{task}", **where))
    except BaseException:
        if owned:
            client.close()
        raise
    return ClusterWorkers(client, futures, token, owns_client=owned,
                          secrets=(child_env[STORAGE_ENV], child_env[TRACKING_ENV]))


def _spread(client: Any, n: int) -> list[str | None]:
    """One Dask worker address per task, round robin over the workers there are (None: let Dask choose)."""
    try:
        addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
    except Exception:  # noqa: BLE001 - a client-like object without it: Dask places the tasks
        addresses = []
    return [addresses[i % len(addresses)] if addresses else None for i in range(n)]


class ClusterWorkers:
    """The ``automl worker`` tasks of one :func:`launch_workers`: :meth:`wait` for them or :meth:`cancel` them.

    Used as a context manager, it cancels whatever still runs at the end of the block.
    """

    def __init__(self, client: Any, futures: Sequence[Any], token: str, *, owns_client: bool = False,
                 secrets: Sequence[str] = ()) -> None:
        self.client = client
        self.futures = list(futures)
        self.token = token
        self._owns_client = owns_client
        self._secrets = tuple(s for s in secrets if s)

    def __enter__(self) -> ClusterWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()

    def wait(self, timeout: float | None = None) -> list[WorkerExit]:
        """Wait for every task; return their :class:`WorkerExit` in task order.

        Raises:
            ClusterError: a worker exited non-zero, or a task was lost (its Dask workers kept dying,
                it was cancelled, or it raised); the message names each such task and the end of its output.
            TimeoutError: not all ended within ``timeout`` seconds (they go on; :meth:`cancel` stops them).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        exits: list[WorkerExit] = []
        problems: list[str] = []
        for task, future in enumerate(self.futures):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                outcome = future.result(timeout=remaining)
            except (TimeoutError, KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - KilledWorker, a cancellation (a BaseException), ...
                problems.append(f"task {task} ({future.key}) was lost: {type(exc).__name__}: {exc}")
                continue
            exits.append(outcome)
            if outcome.exit_code != 0:
                tail = "\n".join("    " + line for line in outcome.output_tail.strip().splitlines()[-15:])
                problems.append(f"task {task} ({future.key}): automl worker {outcome.where} exited with code "
                                f"{outcome.exit_code}; its output ended with:\n{tail}")
        if problems:
            what = "task" if len(self.futures) == 1 else "tasks"
            message = (f"{len(problems)} of {len(self.futures)} automl worker {what} on the Dask cluster failed:\n"
                       + "\n".join(problems) + "\n(finished trials are kept in the study; the Dask workers' logs "
                       "say more)")
            raise ClusterError(redact_text(message, *self._secrets))
        return exits

    def cancel(self, timeout: float = STOP_GRACE_SECONDS + 10) -> None:
        """Cancel the tasks and stop their ``automl worker`` processes (SIGTERM: a worker marks its running
        trial failed; SIGKILL after 10 s); wait up to ``timeout`` seconds for them to be gone. Closes the
        client if :func:`launch_workers` made it. Never raises for a cluster already gone."""
        try:
            self.client.cancel(self.futures)
            deadline = time.monotonic() + timeout
            while any(self.client.run(stop_launch, self.token).values()) and time.monotonic() < deadline:
                time.sleep(0.2)
        except Exception:  # noqa: BLE001 - the scheduler is gone: its workers' tasks die with it
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Close the client if :func:`launch_workers` made it (the tasks go on; cancel them first to stop them)."""
        if self._owns_client:
            self._owns_client = False
            try:
                self.client.close(timeout=5)
            except Exception:  # noqa: BLE001 - closing a client whose scheduler is gone
                pass


# -- on a Dask worker -------------------------------------------------------------------------------
def stop_launch(token: str) -> list[int]:
    """In a Dask worker process (``client.run``): SIGTERM the ``automl worker`` processes of launch ``token``
    still running here; return their pids."""
    with _RUNNING_LOCK:
        processes = list(_RUNNING.get(token, {}).values())
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        try:
            process.terminate()
        except OSError:
            pass
    return [p.pid for p in alive]


def run_worker_task(task: int, arguments: Sequence[str], env: Mapping[str, str], token: str = "") -> WorkerExit:
    """The body of a task, on a Dask worker: run ``automl worker ARGUMENTS`` with ``env`` added to this
    process's environment until it ends or the task is cancelled or released (then stop it)."""
    command = [sys.executable, "-m", "automl.cli", "worker", *arguments]
    child_env = {k: v for k, v in os.environ.items() if k not in (PARENT_FD_ENV, PARENT_PID_ENV)}
    child_env.update(env)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, preexec_fn=_death_signal())
        with _RUNNING_LOCK:
            _RUNNING.setdefault(token, {})[process.pid] = process
        try:
            code = _wait_or_stop(process)
        finally:
            if process.poll() is None:
                _stop(process)
            with _RUNNING_LOCK:
                _RUNNING.get(token, {}).pop(process.pid, None)
                if not _RUNNING.get(token, True):
                    _RUNNING.pop(token, None)
        tail = _tail(log)
    return WorkerExit(task, code, redact_text(tail, *env.values()), f"{socket.gethostname()}:{process.pid}")


def _death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when the thread starting it ends (None elsewhere).

    libc's ``prctl`` is looked up here, before ``fork``: the child only calls it and compares its
    parent's pid (already gone: exit), running no import and no lookup between ``fork`` and ``exec``.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, kill = os.getpid(), int(signal.SIGKILL)

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, kill)
        if os.getppid() != parent:
            os._exit(1)

    return die_with_parent


def _wait_or_stop(process: subprocess.Popen) -> int:
    while True:
        try:
            return process.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            if _task_released():
                return _stop(process)


def _task_released() -> bool:
    """Whether the Dask task running in this thread was cancelled or released (its client went away)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        state = get_worker().state.tasks.get(thread_state.key)
    except Exception:  # noqa: BLE001 - not in a Dask task (called directly), or another distributed
        return False
    return state is None or state.state not in _RUNNING_STATES


def _stop(process: subprocess.Popen) -> int:
    """SIGTERM (the worker cleans up as after Ctrl-C), SIGKILL after :data:`STOP_GRACE_SECONDS`; the exit code."""
    stop_helper(process, timeout=0)
    return int(process.returncode)


def _tail(log: Any) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - 4 * TAIL_CHARS))
    return log.read().decode("utf-8", "replace")[-TAIL_CHARS:]
