"""Budget and memory benchmark (issue 8, item 2): does a fit end on time, and does a long search leak?

``budget``: for each budget B in ``--budgets`` (default 10, 30, 60, 120, 300 s), a fresh child
interpreter (``--pin CPU``, BLAS/OpenMP threads 1) builds the synthetic frame of
``benchmarks.scale`` (``--rows`` rows x 20 mixed columns, seed 0), then times::

    start = time.monotonic(); automl.fit(df, target="y", time_budget=B, n_jobs=1, seed=0, tracking=False)

with every default family (nets included). The target is wall <= B x 1.1 + 10 s, also when the fit
ends in an error (``BudgetExhaustedError`` when no trial fits in the budget: the wall is still timed).

``memory``: one child runs a 500-trial in-memory search (``--trials``; family ``linear``, 3-fold CV,
``pruner="none"``, 2000 rows of the same frame), reading its resident set size (``/proc/self/statm``)
after every trial, and that of its trial worker process. Reported: the RSS after trial 50 and after
the last trial, and the growth between them (target: at most 100 MB), for each process.

    python -m benchmarks.budget --budgets 10,30,60,120,300 --pin 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.tasks import REPO_ROOT

_BUDGET_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from benchmarks.scale import synthetic
import automl
budget, rows = float(sys.argv[1]), int(sys.argv[2])
df = synthetic(rows, 0)
start = time.monotonic()
try:
    model = automl.fit(df, target="y", time_budget=budget, n_jobs=1, seed=0, tracking=False)
except automl.AutoMLError as exc:  # e.g. no trial fits in the budget: it must still end on time
    print(json.dumps({"budget": budget, "wall": time.monotonic() - start, "trials": type(exc).__name__}))
    raise SystemExit(0)
wall = time.monotonic() - start
states = model.leaderboard()["state"].value_counts().to_dict()
print(json.dumps({"budget": budget, "wall": wall, "trials": states, "best": model.best_family_}))
"""

_MEMORY_CHILD = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
from benchmarks.scale import synthetic
import automl
trials = int(sys.argv[1])
df = synthetic(2000, 0)
import multiprocessing
page = os.sysconf("SC_PAGE_SIZE")
rss, worker_rss = [], []
def statm(pid):
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * page / 2**20
def record(study, trial):
    rss.append(statm("self"))
    workers = [p for p in multiprocessing.active_children() if p.name == "automl-trial-worker"]
    worker_rss.append(sum(statm(p.pid) for p in workers))
model = automl.AutoMLClassifier(n_trials=trials, families=["linear"], cv=3, pruner="none", n_jobs=1, seed=0,
                                tracking=False)
model._fit(df.drop(columns="y"), df["y"], callbacks=[record])
print(json.dumps({"trials": len(rss), "rss_50": rss[49], "rss_last": rss[-1], "rss_max": max(rss),
                  "worker_50": worker_rss[49], "worker_last": worker_rss[-1], "worker_max": max(worker_rss)}))
"""


def _child(code: str, args: list[str], pin: int | None, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), AUTOML_TRACKING="0")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    command = [sys.executable, "-c", code, *args]
    if pin is not None:
        command = ["taskset", "-c", str(pin), *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO_ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-400:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="10,30,60,120,300")
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--parts", default="budget,memory")
    parser.add_argument("--pin", type=int, default=None, help="run each child on this CPU only (taskset -c)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "budget.json"))
    args = parser.parse_args(argv)
    results: dict = {"budget": [], "memory": None}
    if "budget" in args.parts:
        for budget in [float(b) for b in args.budgets.split(",")]:
            row = _child(_BUDGET_CHILD, [str(budget), str(args.rows)], args.pin, budget * 3 + 300)
            limit = budget * 1.1 + 10
            row.update(limit=limit, within=row.get("wall", float("inf")) <= limit)
            results["budget"].append(row)
            print(f"budget {budget:5.0f} s: wall {row.get('wall', float('nan')):7.1f} s "
                  f"({row.get('wall', float('nan')) / budget:.2f}x), limit {limit:.0f} s, "
                  f"{'OK' if row['within'] else 'OVER'} {row.get('trials', row.get('error', ''))}", flush=True)
    if "memory" in args.parts:
        row = _child(_MEMORY_CHILD, [str(args.trials)], args.pin, 3600)
        results["memory"] = row
        if "error" in row:
            print(f"memory: {row['error']}")
        else:
            growth = row["rss_last"] - row["rss_50"]
            print(f"memory: {row['trials']} trials, RSS after trial 50 {row['rss_50']:.1f} MiB, after the last "
                  f"{row['rss_last']:.1f} MiB: growth {growth:+.1f} MiB (target <= 100), peak {row['rss_max']:.1f} MiB")
            worker_growth = row["worker_last"] - row["worker_50"]
            print(f"        trial worker: {row['worker_50']:.1f} MiB after trial 50, {row['worker_last']:.1f} MiB "
                  f"after the last: growth {worker_growth:+.1f} MiB, peak {row['worker_max']:.1f} MiB")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
