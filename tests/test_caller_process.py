"""A fit leaves the process that calls it as it found it, from the outside: a fresh interpreter (the state checked
is process-wide and set once) that blocks signals, has chosen no start method and fits from a short-lived thread."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import multiprocessing, signal, threading, time
    import numpy as np, pandas as pd
    import automl

    if __name__ == "__main__":
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "c": rng.normal(size=300)})
        df["y"] = (df.a * df.b + rng.normal(size=300) > 0).astype(int)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        fitted = threading.Event()

        def request():  # a request handler or a thread pool's task: one fit, then the thread ends
            automl.fit(df, "y", n_trials=1, families=["linear"], tracking=False, cv=3)  # starts a warm worker
            fitted.set()
            time.sleep(1.5)

        threading.Thread(target=request).start()
        fitted.wait()
        model = automl.fit(df, "y", n_trials=6, families=["random_forest", "extra_trees"], tracking=False, cv=3,
                           seed=0, pruner="none", ensemble=False)  # takes that worker; the thread ends meanwhile
        board = model.leaderboard()
        print("failed", int((board["state"] == "fail").sum()), "|".join(board["reason"].dropna().astype(str)))
        print("blocked", sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
        print("start method", multiprocessing.get_start_method(allow_none=True))
        multiprocessing.set_start_method("spawn")  # the program may still choose one
        print("chosen", multiprocessing.get_start_method())
''')


def test_a_fit_from_a_short_lived_thread_leaves_its_worker_alive_and_the_callers_mask_and_start_method(tmp_path):
    (tmp_path / "caller.py").write_text(SCRIPT)
    out = subprocess.run([sys.executable, "caller.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.split(" ", 1)[0] in
                 ("failed", "blocked", "start", "chosen"))
    assert lines["failed"].startswith("0 "), lines["failed"]  # no trial killed with the thread that spawned it
    assert lines["blocked"] == str(sorted([2, 15]))  # the caller's blocked SIGINT and SIGTERM stay blocked
    assert lines["start"] == "method None" and lines["chosen"] == "spawn", out.stdout
