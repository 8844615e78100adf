"""Tests in one process per core, none taking another's core (a pytest plugin, loaded by ``-p tests.cores`` in
the pytest settings of pyproject.toml).

The README's test command runs the suite with pytest-xdist, one worker process per core (``-n auto``). Many
tests time real fits against their promises (a budget kept, a slow net stopped after its first epochs), and two
such tests sharing a core each see half of it: in the twenty-third session a TabM epoch that takes 1 s on a
free core took 14 s beside another test, and the test's premise failed (benchmarks/README.md). So:

- each worker is pinned to a core of its own (``os.sched_setaffinity``), and whatever its tests start (trial
  workers, CLI subprocesses, servers) inherits that one core, which is the machine the benchmarks give each
  system (one pinned core);
- a test marked ``alone`` (it needs several cores, or a machine with nothing else running) waits until no other
  test runs, takes every core, and no other test starts until it ends: a readers-writer lock on a file, shared by
  the workers of one run (``flock``; a turnstile lock in front of it so that an ``alone`` test is not starved by
  the other workers' tests).

Without pytest-xdist (``python -m pytest tests/test_budget.py``) nothing here does anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

MARKER = "alone"
MARKER_HELP = (f"{MARKER}: needs every core and no other test running (under pytest-xdist it waits for the other "
               "workers' tests, and they wait for it)")


class CoreLocks:
    """One worker's core and its side of the run's readers-writer lock.

    Args:
        folder: Where the run's two lock files live (one folder per run, shared by its workers).
        index: The worker's number.
    """

    def __init__(self, folder: Path, index: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.all_cores = sorted(os.sched_getaffinity(0))
        self.own_core = {self.all_cores[index % len(self.all_cores)]}
        self._turnstile = open(folder / "turnstile.lock", "a+b")  # noqa: SIM115 (held for the whole run)
        self._room = open(folder / "room.lock", "a+b")  # noqa: SIM115
        os.sched_setaffinity(0, self.own_core)

    def close(self) -> None:
        """Close the lock files and remove the run's folder (a worker still running keeps its open files)."""
        folder = Path(self._room.name).parent
        for lock in (self._turnstile, self._room):
            lock.close()
            with contextlib.suppress(OSError):
                Path(lock.name).unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()

    def _enter(self, mode: int) -> None:
        """Take the room in ``mode`` through the turnstile, held while waiting: an ``alone`` test waiting there
        lets no new test in ahead of it."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._room, mode)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Run beside the other workers' tests, on this worker's own core."""
        self._enter(fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._room, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """Run with no other test running, on every core."""
        self._enter(fcntl.LOCK_EX)
        os.sched_setaffinity(0, self.all_cores)
        try:
            yield
        finally:
            os.sched_setaffinity(0, self.own_core)
            fcntl.flock(self._room, fcntl.LOCK_UN)


_LOCKS: list[CoreLocks] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    workerinput = getattr(config, "workerinput", None)  # set in an xdist worker only
    if workerinput is None or not hasattr(os, "sched_setaffinity"):
        return
    folder = Path(tempfile.gettempdir()) / f"automl-tests-{workerinput['testrunuid']}"
    _LOCKS.append(CoreLocks(folder, int(workerinput["workerid"].removeprefix("gw"))))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not _LOCKS:
        yield
        return
    locks = _LOCKS[0]
    with locks.alone() if item.get_closest_marker(MARKER) is not None else locks.shared():
        yield


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close this worker's lock files and remove them."""
    while _LOCKS:
        _LOCKS.pop().close()
