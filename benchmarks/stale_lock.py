"""How long the next append to a study journal waits after a writer holding the lock was killed by ``kill -9``.

A child process takes the journal's lock and is killed with SIGKILL; this process then appends one record
(``study.set_user_attr``) and times it from outside. ``--lock optuna``: Optuna's ``JournalFileSymlinkLock``
alone (automl's lock before ``1ed4b41``); ``--lock automl``: :class:`automl.search._journal_lock.JournalLock`.

    python -m benchmarks.stale_lock --lock optuna,automl
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

HOLD = (
    "import sys, time\n"
    "from automl.search._journal_lock import journal_lock\n"
    "if sys.argv[2] == 'optuna':\n"
    "    from optuna.storages.journal import JournalFileSymlinkLock as journal_lock\n"
    "journal_lock(sys.argv[1]).acquire()\n"
    "print('held', flush=True)\n"
    "time.sleep(120)\n"
)


def measure(lock: str) -> float:
    """Seconds the append took after the holder's death."""
    import automl.search._journal_repair as repair
    from automl.search.storage import open_study

    if lock == "optuna":
        from optuna.storages.journal import JournalFileSymlinkLock

        repair.journal_lock = lambda path, grace_period=30: JournalFileSymlinkLock(path)  # type: ignore[assignment]
    path = os.path.join(tempfile.mkdtemp(), "s.journal")
    study, _ = open_study(path, "s", direction="maximize")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, lock], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    started = time.monotonic()
    study.set_user_attr("after", 1)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", default="optuna,automl", help="comma-separated: optuna, automl")
    args = parser.parse_args()
    for lock in args.lock.split(","):
        code = subprocess.run([sys.executable, "-c", f"from benchmarks.stale_lock import measure; print(measure({lock!r}))"],
                              capture_output=True, text=True, check=True)
        print(f"{lock:7s} lock: the append after kill -9 of its holder took {float(code.stdout.split()[-1]):.2f} s")


if __name__ == "__main__":
    main()
