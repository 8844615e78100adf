"""The life of our helper processes: started without ``__main__``, dead with their parent, SIGTERM as Ctrl-C.

- :func:`start_without_main` starts a ``multiprocessing`` spawn process (trial workers, the MLflow
  writer) without importing the user's main script in it again (a script without an
  ``if __name__ == "__main__":`` guard would run its whole fit there), and makes the child die
  with the process that started it: Linux's ``PR_SET_PDEATHSIG`` where it exists, and on every
  system a thread that waits for the end of the pipe ``multiprocessing`` keeps to the parent. The
  child ignores Ctrl-C from its first instruction (see :func:`_ctrl_c_blocked`): a terminal's Ctrl-C
  reaches the whole process group, and the fit's process alone handles it, stopping its helpers in order.
- :func:`start_helper` starts a command-line helper (``automl worker`` for ``--workers``) with a
  liveness pipe and the parent's pid in its environment; :func:`watch_parent`, called at the
  helper's start, stops it (as SIGTERM would) when that pipe ends: the parent died, even by kill -9.
- :func:`sigterm_as_interrupt` turns SIGTERM (sent by ``timeout``, systemd, docker, CI) into
  :class:`Terminated`, a ``KeyboardInterrupt``, while a fit runs, so that the same clean-up as for
  Ctrl-C runs: workers stopped, the MLflow run marked KILLED.

Example:
    >>> import multiprocessing
    >>> p = multiprocessing.get_context("spawn").Process(target=len, args=((),))
    >>> start_without_main(p); p.join(); p.exitcode
    0
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["PARENT_FD_ENV", "PARENT_PID_ENV", "Terminated", "raise_if_stopped", "sigterm_as_interrupt",
           "sigterm_deferred", "start_helper", "start_without_main", "stop_helper", "stop_helpers", "stop_requested",
           "STOP_GRACE_SECONDS", "watch_parent", "worker_arguments"]

#: Environment variables a helper started by :func:`start_helper` finds its liveness pipe and parent in.
PARENT_FD_ENV = "AUTOML_PARENT_FD"
PARENT_PID_ENV = "AUTOML_PARENT_PID"
#: Seconds a helper whose parent died has to clean up (after SIGTERM) before it exits regardless.
ORPHAN_GRACE_SECONDS = 10.0

_LOCK = threading.Lock()
_MISSING = object()
_PR_SET_PDEATHSIG = 1
#: Seconds a stopped helper has to clean up (mark its trial failed) after SIGTERM, before SIGKILL.
STOP_GRACE_SECONDS = 10.0


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a fit ran: handled as Ctrl-C (the run is marked KILLED, workers stop)."""


def start_without_main(process: Any) -> None:
    """``process.start()`` with ``__main__``'s ``__file__`` and ``__spec__`` hidden from the child,
    the child told a start method a plain Python knows (not joblib's ``"loky"``, inside a
    ``GridSearchCV(n_jobs=2)`` worker), set to die with this process and to ignore Ctrl-C from its
    start (see :func:`_child_main` and :func:`_ctrl_c_blocked`)."""
    target = getattr(process, "_target", None)
    if target is not None and target is not _child_main:
        process._target = _child_main
        process._args = (target, tuple(process._args), dict(process._kwargs), os.getpid())
        process._kwargs = {}
    _on_spawner_thread(lambda: _start_hidden(process))


def _start_hidden(process: Any) -> None:
    """``process.start()`` with ``__main__`` hidden and Ctrl-C blocked (see :func:`start_without_main`)."""
    main = sys.modules.get("__main__")
    from multiprocessing import spawn

    with _LOCK:
        saved_file = getattr(main, "__file__", _MISSING)
        saved_spec = getattr(main, "__spec__", _MISSING)
        saved_preparation = spawn.get_preparation_data
        try:
            if saved_file is not _MISSING:
                del main.__file__  # type: ignore[union-attr]
            if saved_spec is not _MISSING:
                main.__spec__ = None  # type: ignore[union-attr]
            spawn.get_preparation_data = _plain_preparation(saved_preparation, process)
            with _ctrl_c_blocked():
                process.start()
        finally:
            spawn.get_preparation_data = saved_preparation
            if saved_file is not _MISSING:
                main.__file__ = saved_file  # type: ignore[union-attr]
            if saved_spec is not _MISSING:
                main.__spec__ = saved_spec  # type: ignore[union-attr]


_SPAWNER_LOCK = threading.Lock()
_SPAWNER: dict[str, Any] = {"thread": None, "calls": None}


def _on_spawner_thread(call: Any) -> None:
    """Run ``call`` (a child's start) on this process's one long-lived spawner thread, and wait for it.

    Linux's ``PR_SET_PDEATHSIG`` (:func:`die_with_parent`) fires when the *thread* that started the child ends,
    not the process: a warm trial worker started by a fit on a short-lived thread (a thread pool, a web request)
    was killed mid-trial of a later fit when that thread ended. The spawner thread lives as long as the process.
    Its signal mask is the one a child inherits and the one the resource tracker's start unblocks, so the caller's
    own mask is never touched either. A Ctrl-C while the child starts is raised once the start has ended.
    """
    import queue

    with _SPAWNER_LOCK:
        thread = _SPAWNER["thread"]
        if thread is None or not thread.is_alive():  # none yet, or a forked child's copy (threading stops it)
            calls: queue.SimpleQueue[Any] = queue.SimpleQueue()
            thread = threading.Thread(target=_serve_spawns, args=(calls,), name="automl-spawner", daemon=True)
            thread.start()
            _SPAWNER.update(thread=thread, calls=calls)
        calls = _SPAWNER["calls"]
    done, outcome = threading.Event(), dict[str, BaseException]()
    calls.put((call, done, outcome))
    interrupted: BaseException | None = None
    while not done.is_set():
        try:
            done.wait()
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C or SIGTERM: raised once the child is started
            interrupted = interrupted or exc
    if "error" in outcome:
        raise outcome["error"]
    if interrupted is not None:
        raise interrupted


def _serve_spawns(calls: Any) -> None:
    while True:
        call, done, outcome = calls.get()
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            done.set()


@contextlib.contextmanager
def _ctrl_c_blocked() -> Iterator[None]:
    """SIGINT blocked in the calling thread while the block runs (a child started in it inherits the mask).

    A terminal's Ctrl-C goes to the whole process group. A spawned child that ignored it only once its
    target ran (after spawn's bootstrap imported automl, scikit-learn, MLflow: seconds) died of it
    before, with a traceback on stderr and, for the MLflow writer, the finished trials' runs unwritten.
    The child starts with SIGINT blocked (as the standard library's resource tracker does), and
    :func:`_child_main` sets it to ignored before unblocking it, so that no SIGINT reaches it from
    its start on. Blocking, unlike ignoring it here, works in any thread and loses no Ctrl-C meant
    for this process: one that arrives meanwhile is delivered once the previous mask is restored.
    The resource tracker a spawn start needs is started before: starting it unblocks SIGINT (CPython
    unblocks it after the tracker's start instead of restoring the mask it found).
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups, no Ctrl-C sent to the children
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _ignore_ctrl_c() -> None:
    """In a spawned child: ignore SIGINT, then unblock it (one already pending is discarded)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _plain_preparation(get_preparation_data: Any, process: Any) -> Any:
    """``multiprocessing.spawn.get_preparation_data`` whose start method is one a plain Python knows.

    The child sets the start method it is told; inside a joblib/loky worker that is ``"loky"``, which a
    fresh interpreter does not know ("cannot find context for 'loky'"), so the child is told its own
    method (``spawn``) instead.
    """
    import multiprocessing

    def preparation_data(name: str) -> dict[str, Any]:
        from multiprocessing import context

        default: Any = context._default_context
        chosen = default._actual_context  # None while the program has not chosen a start method
        data = get_preparation_data(name)
        # CPython's get_preparation_data asks get_start_method(), which fixes the default method for good: a
        # program that sets its own start method after a fit would get "context has already been set".
        default._actual_context = chosen
        if data.get("start_method") not in multiprocessing.get_all_start_methods():
            data["start_method"] = getattr(process, "_start_method", None) or "spawn"
        return data

    return preparation_data


def _child_main(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], parent_pid: int) -> Any:
    """In a spawned child: ignore Ctrl-C (the parent's to handle), die with the parent (``SIGKILL`` at its
    death, and a watching thread), then run."""
    _ignore_ctrl_c()
    die_with_parent(parent_pid, signal.SIGKILL)
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_when_ready, args=(parent.sentinel,), name="automl-parent-watch",
                         daemon=True).start()
    return target(*args, **kwargs)


def _exit_when_ready(sentinel: int) -> None:
    """Wait until ``sentinel`` (the parent's end of a pipe) is closed: the parent is gone; exit now."""
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def die_with_parent(parent_pid: int, signum: int) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies (no-op elsewhere); exit at
    once if the parent ``parent_pid`` is already gone (it died before the request was made)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signum))
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


# -- command-line helpers (automl worker for --workers) -------------------------------------------------
def worker_arguments(study_name: str, *, n_trials: int | None = None, data: str | None = None,
                     wait: float | None = None) -> list[str]:
    """The ``automl worker`` arguments of a helper (no secret among them: the storage goes in the environment):
    a ``--workers`` process, a Dask task or a batch job's command.

    Example:
        >>> worker_arguments("income-v1", n_trials=5, data="/mnt/train.csv")
        ['--study', 'income-v1', '--quiet', '--n-trials', '5', '--data', '/mnt/train.csv']
    """
    arguments = ["--study", study_name, "--quiet"]
    if n_trials is not None:
        arguments += ["--n-trials", str(n_trials)]
    if data is not None:
        arguments += ["--data", os.fspath(data)]
    if wait is not None:
        arguments += ["--wait", f"{wait:g}"]
    return arguments


def start_helper(command: Sequence[str], env: Mapping[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """Start ``command`` with a liveness pipe: its read end is the helper's ``$AUTOML_PARENT_FD``, its
    write end stays here, so the helper sees end-of-file when this process dies, however it dies.
    Secrets go in ``env``, never in ``command`` (``ps`` shows every process's command line)."""
    if os.name != "posix":  # no descriptors to pass: the helper ends with its sweep's deadline
        process = subprocess.Popen(list(command), env={**os.environ, **(env or {})}, **popen)
        process.liveness = None  # type: ignore[attr-defined]
        return process
    read_end, write_end = os.pipe()
    child_env = {**os.environ, **(env or {}), PARENT_FD_ENV: str(read_end), PARENT_PID_ENV: str(os.getpid())}
    try:
        process = subprocess.Popen(list(command), env=child_env, pass_fds=(read_end,), **popen)
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    process.liveness = write_end  # type: ignore[attr-defined]
    return process


def stop_helpers(processes: Sequence[subprocess.Popen], timeout: float = 60.0, terminate: bool = False) -> None:
    """:func:`stop_helper` for each of ``processes`` within ``timeout`` seconds in all; with ``terminate``
    all are sent SIGTERM first, so that they clean up at the same time."""
    if terminate:
        for process in processes:
            if process.poll() is None:
                process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        stop_helper(process, max(0.1, deadline - time.monotonic()))


def stop_helper(process: subprocess.Popen, timeout: float | None = None) -> None:
    """Wait ``timeout`` seconds (None: for ever) for a helper to end; SIGTERM it past ``timeout``,
    SIGKILL it :data:`STOP_GRACE_SECONDS` later; close its liveness pipe."""
    try:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        fd = getattr(process, "liveness", None)
        if fd is not None:
            process.liveness = None  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                os.close(fd)


def watch_parent(environ: Mapping[str, str] | None = None) -> bool:
    """In a helper started by :func:`start_helper`: stop (SIGTERM to itself, then exit after
    :data:`ORPHAN_GRACE_SECONDS`) when the parent dies. Returns whether there was a parent to watch."""
    environ = os.environ if environ is None else environ
    try:
        fd, parent_pid = int(environ[PARENT_FD_ENV]), int(environ[PARENT_PID_ENV])
    except (KeyError, ValueError):
        return False
    os.environ.pop(PARENT_FD_ENV, None)  # not for this helper's own children
    os.environ.pop(PARENT_PID_ENV, None)
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return False  # no such pipe: not started by start_helper
    die_with_parent(parent_pid, signal.SIGTERM)
    threading.Thread(target=_stop_when_closed, args=(fd,), name="automl-parent-watch", daemon=True).start()
    return True


def _stop_when_closed(fd: int) -> None:
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    os._exit(143)


# -- SIGTERM while a fit runs -------------------------------------------------------------------------
# Why the request is kept as well as raised: the exception a signal raises lands wherever the main
# thread is, and library code sometimes turns it into another one. Optuna's journal lock, cut in its
# release, unlinks a file the cut left unrenamed: the ``FileNotFoundError`` replaces our exception, the
# trial is marked failed and the search went on, deaf to a second SIGTERM. So the request stays set
# until the fit ends, and the search's checkpoints (each trial, each event of a running trial, each
# turn of the wait for a worker, each stage) raise it again: :func:`raise_if_stopped`.
def _raise_terminated(signum: int, frame: Any) -> None:
    if _STATE["raised"]:
        return  # the clean-up of the first SIGTERM is running: let it finish (SIGKILL still ends it)
    if _STATE["deferred"]:
        _STATE["pending"] = True  # raised when the block that must not be cut ends
        return
    _STATE["raised"] = True
    raise Terminated("terminated by signal SIGTERM")


def _raise_interrupt(signum: int, frame: Any) -> None:
    _STATE["interrupted"] = True
    raise KeyboardInterrupt


_STATE = {"raised": False, "deferred": False, "pending": False, "interrupted": False}


def stop_requested() -> bool:
    """Whether a SIGTERM or Ctrl-C arrived during the running fit (see :func:`raise_if_stopped`).

    Example:
        >>> stop_requested()
        False
    """
    return bool(_STATE["raised"] or _STATE["interrupted"])


def raise_if_stopped(cause: BaseException | None = None) -> None:
    """Raise :class:`Terminated` (SIGTERM) or ``KeyboardInterrupt`` (Ctrl-C) again when one arrived
    during the running fit and was lost on its way up (turned into another exception by the code it
    landed in, or caught); nothing otherwise. Called only where the fit works (the search and the
    refit), never in its clean-up, which runs after the request undisturbed.

    Args:
        cause: The exception the request was turned into, kept as the new one's cause.

    Example:
        >>> raise_if_stopped()  # nothing arrived
    """
    if not stop_requested():
        return
    if _STATE["raised"]:
        raise Terminated("terminated by signal SIGTERM") from cause
    raise KeyboardInterrupt from cause


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[None]:
    """Inside :func:`sigterm_as_interrupt`: a SIGTERM arriving in this block (short, and bounded by its
    own deadline, e.g. the MLflow run being finished) raises :class:`Terminated` only when it ends.

    Example:
        >>> with sigterm_deferred():
        ...     pass
    """
    if _STATE["deferred"] or signal.getsignal(signal.SIGTERM) is not _raise_terminated:
        yield
        return
    _STATE["deferred"], _STATE["pending"] = True, False
    try:
        yield
    finally:
        _STATE["deferred"] = False
        if _STATE["pending"] and not _STATE["raised"]:
            _STATE["pending"], _STATE["raised"] = False, True
            raise Terminated("terminated by signal SIGTERM")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[bool]:
    """While the block runs, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main
    thread, and both it and Ctrl-C are remembered for :func:`raise_if_stopped`; the previous handlers
    are restored after. Does nothing outside the main thread, inside another such block, or when
    SIGTERM is not at its default (the program handles or ignores it); Ctrl-C is remembered only
    where Python's own handler has it.
    Yields whether it installed the handler.

    Example:
        >>> with sigterm_as_interrupt() as installed:
        ...     signal.getsignal(signal.SIGTERM) is _raise_terminated
        True
        >>> signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        True
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield False
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield False
        return
    previous_int = signal.getsignal(signal.SIGINT)
    _reset()
    signal.signal(signal.SIGTERM, _raise_terminated)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield True
    finally:
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)
        _reset()


def _reset() -> None:
    _STATE.update(raised=False, deferred=False, pending=False, interrupted=False)
