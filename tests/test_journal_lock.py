"""The study journal's write lock, from the outside: real processes, real signals, a wall clock.

- a writer killed by ``kill -9`` while it holds the lock does not stall the next writer (Optuna's lock
  file alone made it wait its 30 s grace period; CI saw a ``--workers`` helper outlive its fit that way);
- the lock excludes other processes and other threads of one process;
- a plain Optuna writer's lock file is honoured while it lives and broken after its grace period;
- Ctrl-C while waiting leaves the holder's lock in place.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from automl.search._journal_lock import JournalLock
from automl.search.storage import open_study

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock")

HOLD = (
    "import sys, time\n"
    "from automl.search._journal_lock import JournalLock\n"
    "JournalLock(sys.argv[1]).acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def _holder(journal: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(journal)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_writer_killed_holding_the_lock_does_not_stall_the_next_one(tmp_path):
    journal = tmp_path / "s.journal"
    study, _ = open_study(str(journal), "s", direction="maximize")
    holder = _holder(journal)
    assert os.readlink(f"{journal}.lock").endswith(f".automl-{holder.pid}")
    holder.kill()
    holder.wait(timeout=10)
    started = time.monotonic()
    study.set_user_attr("after", 1)
    took = time.monotonic() - started
    assert took < 5.0, f"the append waited {took:.1f} s for a dead writer's lock"
    again, _ = open_study(str(journal), "s", direction="maximize", create=False)
    assert again.user_attrs["after"] == 1
    assert not os.path.lexists(f"{journal}.lock")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.journal"]


def test_a_live_holder_is_waited_for(tmp_path):
    journal = tmp_path / "s.journal"
    open_study(str(journal), "s", direction="maximize")
    holder = _holder(journal)
    done: list[float] = []
    try:
        def append() -> None:
            study, _ = open_study(str(journal), "s", direction="maximize", create=False)
            study.set_user_attr("k", 1)
            done.append(time.monotonic())

        writer = threading.Thread(target=append)
        writer.start()
        time.sleep(1.5)
        assert writer.is_alive() and not done
        released = time.monotonic()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    writer.join(timeout=10)
    assert done and done[0] >= released


COUNT = (
    "import sys, threading\n"
    "from automl.search._journal_lock import JournalLock\n"
    "path, counter = sys.argv[1], sys.argv[2]\n"
    "def work():\n"
    "    lock = JournalLock(path)\n"
    "    for _ in range(150):\n"
    "        lock.acquire()\n"
    "        try:\n"
    "            value = int(open(counter).read())\n"
    "            open(counter, 'w').write(str(value + 1))\n"
    "        finally:\n"
    "            lock.release()\n"
    "threads = [threading.Thread(target=work) for _ in range(2)]\n"
    "[t.start() for t in threads]\n"
    "[t.join() for t in threads]\n"
)


def test_processes_and_threads_exclude_each_other(tmp_path):
    """Two processes of two threads, each with its own lock object, increment a file 150 times each
    by read-then-write: a lost update shows as a count below 600."""
    journal, counter = tmp_path / "s.journal", tmp_path / "count"
    journal.touch()
    counter.write_text("0")
    processes = [subprocess.Popen([sys.executable, "-c", COUNT, str(journal), str(counter)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    assert counter.read_text() == "600"
    assert not os.path.lexists(f"{journal}.lock")


def test_a_live_optuna_lock_file_is_honoured_and_a_stale_one_broken_after_its_grace(tmp_path):
    journal = tmp_path / "s.journal"
    journal.touch()
    os.symlink(str(journal), f"{journal}.lock")  # what Optuna's JournalFileSymlinkLock makes
    started = time.monotonic()
    lock = JournalLock(str(journal), grace_period=1.0)
    lock.acquire()
    waited = time.monotonic() - started
    assert 1.0 <= waited < 5.0, waited
    assert os.readlink(f"{journal}.lock").endswith(f".automl-{os.getpid()}")
    lock.release()
    assert not os.path.lexists(f"{journal}.lock")


WAIT = (  # Ctrl-C handled as a terminal's process does, even when started where SIGINT is ignored (a shell's
    # background job inherits SIG_IGN, and Python then installs no KeyboardInterrupt handler)
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from automl.search._journal_lock import JournalLock\n"
    "print('waiting', flush=True)\n"
    "JournalLock(sys.argv[1]).acquire()\n"
    "print('acquired', flush=True)\n"
)


def test_ctrl_c_while_waiting_leaves_the_holders_lock(tmp_path):
    """Optuna's own acquire releases, on an exception while it waits, the lock another process holds."""
    journal = tmp_path / "s.journal"
    journal.touch()
    holder = JournalLock(str(journal))
    holder.acquire()
    try:
        waiter = subprocess.Popen([sys.executable, "-c", WAIT, str(journal)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert waiter.stdout is not None and waiter.stdout.readline().strip() == "waiting"
        time.sleep(1.0)
        waiter.send_signal(signal.SIGINT)
        out, err = waiter.communicate(timeout=20)
        assert waiter.returncode != 0 and "KeyboardInterrupt" in err and "acquired" not in out
        assert os.readlink(f"{journal}.lock") == f"{journal}.automl-{os.getpid()}"
    finally:
        holder.release()
    assert not os.path.lexists(f"{journal}.lock")


def test_release_without_acquire_is_an_error(tmp_path):
    lock = JournalLock(str(tmp_path / "s.journal"))
    with pytest.raises(RuntimeError, match="not held"):
        lock.release()


def test_without_flock_a_lock_file_of_ours_is_waited_on_like_a_foreign_one(tmp_path, monkeypatch, caplog):
    """An NFS mount without a lock service refuses flock: the lock file alone then serves, so an automl
    lock file is no longer known dead and gets the grace period (it was removed at once)."""
    import errno
    import fcntl

    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    journal = tmp_path / "s.journal"
    journal.touch()
    os.symlink(f"{journal}.automl-1", f"{journal}.lock")  # a live automl holder elsewhere, as far as we know
    started = time.monotonic()
    lock = JournalLock(str(journal), grace_period=1.0)
    lock.acquire()
    assert time.monotonic() - started >= 1.0
    lock.release()
    assert "no flock" in caplog.text
