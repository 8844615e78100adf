"""What isolated trials cost (issue 8, item 1): per-trial overhead of the worker process, and its start.

Each repeat runs, in a fresh child interpreter (``--pin CPU``, BLAS/OpenMP threads 1), the same
search twice, once per mode, in alternating order::

    automl.fit(df, target="y", n_trials=N, families=["linear"], cv=3, pruner="none",
               n_jobs=1, seed=0, tracking=False, isolation=MODE)

on a 500 x 10 classification frame (seed 0), so that a trial is short and the overhead shows.
Per-trial time is the search's span from the first trial's end to the last trial's end (the
study's own timestamps) over N - 1: the worker's start (inside trial 0) is excluded there and reported apart, as
the fit's wall minus the in-process fit's wall minus N x the per-trial overhead (spawn, imports,
shipping the data, all paid once per fit; a second fit in the same interpreter reuses the warm
worker, reported as ``warm start``).

    python -m benchmarks.isolation --trials 200 --repeats 3 --pin 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.tasks import REPO_ROOT

_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from sklearn.datasets import make_classification
import automl
n_trials, modes = int(sys.argv[1]), sys.argv[2].split(",")
X, y = make_classification(500, 10, n_informative=5, random_state=0)
df = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]).assign(y=y)
out = []
for mode in modes:
    start = time.monotonic()
    model = automl.fit(df, target="y", n_trials=n_trials, families=["linear"], cv=3, pruner="none",
                       n_jobs=1, seed=0, tracking=False, isolation=mode)
    wall = time.monotonic() - start
    trials = model.study_.trials
    first_done = min(trials, key=lambda t: t.number).datetime_complete  # the worker's start is in trial 0
    span = (max(t.datetime_complete for t in trials) - first_done).total_seconds()
    out.append({"mode": mode, "wall": wall, "per_trial": span / (len(trials) - 1), "n": len(trials),
                "complete": sum(t.state.name == "COMPLETE" for t in trials)})
print(json.dumps(out))
"""


def _child(trials: int, modes: list[str], pin: int | None) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "AUTOML_TRACKING": "0", "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-c", _CHILD, str(trials), ",".join(modes)]
    if pin is not None:
        command = ["taskset", "-c", str(pin), *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pin", type=int, default=None, help="CPU to pin the child to (taskset)")
    args = parser.parse_args(argv)
    rows: dict[str, list[dict]] = {"none": [], "process": [], "warm": []}
    for repeat in range(args.repeats):
        order = ["none", "process", "process"] if repeat % 2 == 0 else ["process", "process", "none"]
        results = _child(args.trials, order, args.pin)
        seen_process = False
        for result in results:
            key = result["mode"]
            if key == "process":
                key = "warm" if seen_process else "process"
                seen_process = True
            rows[key].append(result)
            print(f"repeat {repeat} {key:8s} wall {result['wall']:7.2f} s  per trial {1000 * result['per_trial']:6.1f} ms"
                  f"  ({result['complete']}/{result['n']} complete)", flush=True)

    def med(key: str, field: str) -> float:
        return statistics.median(r[field] for r in rows[key])

    base, cold, warm = med("none", "per_trial"), med("process", "per_trial"), med("warm", "per_trial")
    n = args.trials
    print()
    print(f"in-process per trial      {1000 * base:7.1f} ms")
    print(f"isolated per trial        {1000 * cold:7.1f} ms  (overhead {1000 * (cold - base):+.1f} ms, "
          f"ratio {cold / base:.3f})")
    print(f"isolated, warm worker     {1000 * warm:7.1f} ms  (overhead {1000 * (warm - base):+.1f} ms)")
    start_cold = med("process", "wall") - med("none", "wall") - n * (cold - base)
    start_warm = med("warm", "wall") - med("none", "wall") - n * (warm - base)
    print(f"worker start, once per fit: cold {start_cold:.2f} s, warm (second fit) {start_warm:.2f} s")


if __name__ == "__main__":
    main()
