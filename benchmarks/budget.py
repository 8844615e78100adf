"""Budget and memory benchmark: does a fit end on time where the budget is hard to keep, and does a long search leak?

``budget``: for each shape, each budget B in ``--budgets`` (default 5, 10, 30, 60, 300 s) and each
isolation mode in ``--isolation`` (default ``process,none``), a fresh child interpreter (``--pin CPU``,
BLAS/OpenMP threads 1) builds its frame, then times with its own clock::

    start = time.monotonic(); automl.fit(df, target="y", time_budget=B, isolation=MODE, n_jobs=1, seed=0, ...)

The shapes (see :mod:`benchmarks.shapes`):

- ``refit``: the refit dominates. Families ``slow_refit`` and ``linear``, 3-fold CV, 1,500 rows;
  a ``slow_refit`` fold sleeps B/10 s, its refit on all rows would sleep about 2.6 B.
- ``fold``: one fold is longer than the budget. ``slow_refit`` (a fold sleeps 2 B) and ``linear``.
- ``wide`` and ``classes``: every default family on a table that costs a booster far more than its rows say:
  500 rows of 3,000 columns (regression), or 5,000 rows of 20 columns and 100 classes (:func:`benchmarks.shapes.wide_frame`,
  :func:`benchmarks.shapes.many_classes_frame`); at 10 s each booster's and forest's first fold overran, and before the
  quick family ran first (:data:`automl.search.policy.QUICK_FAMILIES`) these fits ended with no model.
- ``wide_text``: every default family on 300 rows of 2,000 text columns of four levels
  (:func:`benchmarks.shapes.wide_text_frame`), where preparing the data, not training, is most of the cost.
- ``defaults``: every default family on ``--rows`` rows of :func:`benchmarks.scale.synthetic` (one LightGBM
  fold of 200,000 rows takes longer than the smallest budgets on one core), tracking on to a SQLite store.

The target, for process isolation: wall <= B x 1.1 + 10 s, also when the fit ends in an error (the
wall is still timed). With ``isolation="none"`` nothing can be killed: the budget is best effort, and
the figures say how far it is from the target. Each run records the wall, the outcome (the family
``predict`` uses, or the error) and ``model_source_`` (a refit, a fallback, or the best trial's fold model).

``memory``: one child runs a 500-trial in-memory search (``--trials``; family ``linear``, 3-fold CV,
``pruner="none"``, 2000 rows of the synthetic frame), reading its resident set size (``/proc/self/statm``)
after every trial, and that of its trial worker process. Reported: the RSS after trial 50 and after
the last trial, and the growth between them (target: at most 100 MB), for each process.

    python -m benchmarks.budget --budgets 5,10,30,60,300 --pin 1 --parts budget
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.tasks import REPO_ROOT

SHAPES = ("refit", "fold", "wide", "classes", "wide_text", "defaults")

_BUDGET_CHILD = """
import json, sys, tempfile, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
import automl
shape, budget, isolation, rows = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
kwargs = dict(time_budget=budget, isolation=isolation, n_jobs=1, seed=0, tracking=False)
if shape == "defaults":
    from benchmarks.scale import synthetic
    frame = synthetic(rows, 0)
    kwargs.update(tracking=True, tracking_uri="sqlite:///" + tempfile.mkdtemp() + "/mlflow.db")
elif shape in ("wide", "classes", "wide_text"):
    from benchmarks.shapes import many_classes_frame, wide_frame, wide_text_frame
    frame = {"wide": wide_frame, "classes": many_classes_frame, "wide_text": wide_text_frame}[shape]()
else:
    from benchmarks.shapes import linear_frame
    frame = linear_frame(1500)
    fold = budget / 10 if shape == "refit" else budget * 2
    kwargs.update(families=["slow_refit", "linear"], cv=3, search_space={"slow_refit": {"fold_seconds": fold}})
start = time.monotonic()
try:
    model = automl.fit(frame, target="y", **kwargs)
except automl.AutoMLError as exc:  # e.g. no trial fits in the budget: it must still end on time
    print(json.dumps({"wall": time.monotonic() - start, "outcome": type(exc).__name__}))
    raise SystemExit(0)
wall = time.monotonic() - start
states = model.leaderboard()["state"].value_counts().to_dict()
print(json.dumps({"wall": wall, "outcome": model.best_family_, "source": getattr(model, "model_source_", ""),
                  "trials": states, "fallbacks": len(getattr(model, "refit_fallbacks_", []))}))
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
from automl._fit.run import run_fit
from automl.config import resolve_settings
settings = resolve_settings(dict(n_trials=trials, families=["linear"], cv=3, pruner="none", n_jobs=1, seed=0,
                                 tracking=False), "classifier")
run_fit(settings, None, df.drop(columns="y"), df["y"], callbacks=[record])
print(json.dumps({"trials": len(rss), "rss_50": rss[49], "rss_last": rss[-1], "rss_max": max(rss),
                  "worker_50": worker_rss[49], "worker_last": worker_rss[-1], "worker_max": max(worker_rss)}))
"""


#: Where ``automl`` is imported from in the children (``--code``: a folder holding another version's ``automl``).
CODE: list[str] = []


def run_child(code: str, args: list[str], pin: int | None, timeout: float) -> dict:
    """Run ``code`` in a fresh interpreter (``automl`` from :data:`CODE` or this checkout, BLAS threads 1, on CPU
    ``pin``); its last stdout line as JSON, with ``process_wall``, or ``error``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*CODE, str(REPO_ROOT)]), AUTOML_TRACKING="0")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    command = [sys.executable, "-c", code, *args]
    if pin is not None:
        command = ["taskset", "-c", str(pin), *command]
    started = time.monotonic()
    try:
        # ``python -c`` puts its working directory first on sys.path: run in the code's folder
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                              cwd=CODE[0] if CODE else REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s", "process_wall": time.monotonic() - started}
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-400:], "process_wall": time.monotonic() - started}
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall"] = time.monotonic() - started
    return out


def run_budget(shapes: list[str], budgets: list[float], modes: list[str], rows: int, pin: int | None) -> list[dict]:
    """Every (shape, budget, isolation) case, printed as it ends."""
    rows_out = []
    for shape in shapes:
        for budget in budgets:
            for mode in modes:
                row = run_child(_BUDGET_CHILD, [shape, str(budget), mode, str(rows)], pin, budget * 4 + 300)
                limit = budget * 1.1 + 10
                wall = row.get("wall", float("inf"))
                row.update(shape=shape, budget=budget, isolation=mode, limit=limit, within=wall <= limit)
                rows_out.append(row)
                print(f"{shape:9s} {mode:8s} budget {budget:5.0f} s: wall {wall:7.1f} s ({wall / budget:5.2f}x), "
                      f"limit {limit:5.0f} s, {'OK  ' if row['within'] else 'OVER'} "
                      f"{row.get('outcome', row.get('error', ''))} {row.get('source', '')}", flush=True)
    return rows_out


def _memory(trials: int, pin: int | None) -> dict:
    row = run_child(_MEMORY_CHILD, [str(trials)], pin, 3600)
    if "error" in row:
        print(f"memory: {row['error']}")
        return row
    growth = row["rss_last"] - row["rss_50"]
    print(f"memory: {row['trials']} trials, RSS after trial 50 {row['rss_50']:.1f} MiB, after the last "
          f"{row['rss_last']:.1f} MiB: growth {growth:+.1f} MiB (target <= 100), peak {row['rss_max']:.1f} MiB")
    worker_growth = row["worker_last"] - row["worker_50"]
    print(f"        trial worker: {row['worker_50']:.1f} MiB after trial 50, {row['worker_last']:.1f} MiB "
          f"after the last: growth {worker_growth:+.1f} MiB, peak {row['worker_max']:.1f} MiB")
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", default="5,10,30,60,300")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--isolation", default="process,none")
    parser.add_argument("--rows", type=int, default=300_000, help="rows of the 'defaults' shape")
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--parts", default="budget,memory")
    parser.add_argument("--pin", type=int, default=None, help="run each child on this CPU only (taskset -c)")
    parser.add_argument("--code", help="a folder holding the automl package to time (default: this checkout's); "
                        "benchmarks.shapes still comes from this checkout")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "budget.json"))
    args = parser.parse_args(argv)
    CODE[:] = [args.code] if args.code else []
    results: dict = {"budget": [], "memory": None}
    if "budget" in args.parts:
        results["budget"] = run_budget(args.shapes.split(","), [float(b) for b in args.budgets.split(",")],
                                       args.isolation.split(","), args.rows, args.pin)
        isolated = [r for r in results["budget"] if r["isolation"] == "process"]
        print(f"process isolation: {sum(r['within'] for r in isolated)}/{len(isolated)} within budget x 1.1 + 10 s; "
              f"worst wall/limit {max((r.get('wall', float('inf')) / r['limit'] for r in isolated), default=0):.2f}")
    if "memory" in args.parts:
        results["memory"] = _memory(args.trials, args.pin)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
