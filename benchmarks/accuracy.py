"""Accuracy benchmark: automl and its peers side by side on a suite (BENCHMARKS.md protocol).

What to run comes from the suite's ``manifest.json`` (``--suite DIR``, default
``../shared/datasets``; ``--datasets`` picks some); how much from the flags (``--budget 30,60,300``,
``--seeds 0,1``). For every (budget, seed, data set, system) a fresh child interpreter
(``python -m benchmarks.accuracy --worker ...``) loads the outer 80/20 split (``random_state=0``, or the seed with ``--outer-seeds``;
stratified for classification), fits on the 80 % and scores once on the
20 %. Every system gets ``n_jobs=1`` and the same budget; the child also sets the BLAS/OpenMP thread
variables to 1 (and runs under ``taskset -c CPU`` with ``--pin CPU``). Recorded per run: the manifest
metric on the test rows (roc_auc / log_loss / rmse), accuracy or r2, wall time of fit + predict
(data loading and the peers' frame conversion excluded), the child's whole process time, and its
peak resident memory (``ru_maxrss``). The systems are in :mod:`benchmarks.systems`.

Every finished run is appended at once to the CSV in ``--out`` (default ``benchmarks/results``,
ignored by git), so an interrupted run can still be summarised with ``python -m benchmarks.report
CSV``. At the end the report (tables per suite and budget, PNG plot, summary lines) is printed.

    python -m benchmarks.accuracy --budget 60 --datasets all \\
        --systems automl,flaml,lightgbm_default,histgb_default,optuna_lightgbm
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

from benchmarks.report import fmt
from benchmarks.tasks import DEFAULT_SUITE, REPO_ROOT, Task, load_tasks, suite_dir

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
FIELDS = ["suite", "dataset", "task", "metric", "system", "budget_s", "seed", "score", "secondary_metric",
          "secondary", "wall_s", "fit_s", "predict_s", "process_s", "peak_rss_mib", "n_trials", "best_family",
          "self_score", "settings", "pin", "started", "error", "search_s", "ensemble_s", "refit_s",
          "families_used", "model_source"]
DEFAULT_SYSTEMS = "automl,autogluon,flaml,lightgbm_default,histgb_default,optuna_lightgbm"
#: AutoGluon's own venv, beside the checkout: ``python3 -m venv ../agvenv && ../agvenv/bin/pip install
#: torch==2.13.0 "autogluon.tabular[all]==1.6.*"`` (BENCHMARKS.md: it needs pandas < 3).
AUTOGLUON_PYTHON = str(REPO_ROOT.parent / "agvenv" / "bin" / "python")


# -- child side ------------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> None:
    import resource

    from benchmarks.systems import SYSTEMS
    from benchmarks.tasks import load_split

    task = load_tasks(args.suite, [args.datasets])[0]
    record = {"dataset": task.name, "task": task.task, "metric": task.metric, "system": args.system,
              "secondary_metric": task.secondary, "budget_s": args.budget, "seed": args.seed, "error": ""}
    try:
        train, test = load_split(task, args.seed if args.outer_seeds else 0)
        if args.system.startswith("automl"):
            record.update(SYSTEMS[args.system](task, train, test, args.budget, args.seed, args.automl_cv))
        else:
            record.update(SYSTEMS[args.system](task, train, test, args.budget, args.seed))
        record["wall_s"] = record["fit_s"] + record["predict_s"]
    except Exception:  # noqa: BLE001 - reported by the parent, the run goes on
        record["error"] = traceback.format_exc()
    record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    Path(args.result).write_text(json.dumps(record, default=str), encoding="utf-8")


# -- parent side -----------------------------------------------------------------------------
def run_child(system: str, task: Task, budget: float, seed: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        python = args.autogluon_python if system == "autogluon" else sys.executable
        command = [python, "-m", "benchmarks.accuracy", "--worker", "--systems", system,
                   "--datasets", task.name, "--budget", str(budget), "--seeds", str(seed),
                   "--result", str(result), "--suite", str(suite_dir(args.suite))]
        if args.automl_cv is not None:
            command += ["--automl-cv", str(args.automl_cv)]
        if args.outer_seeds:
            command += ["--outer-seeds"]
        if args.pin is not None:
            command = ["taskset", "-c", str(args.pin), *command]
        started = time.perf_counter()
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        try:
            proc = subprocess.run(command, cwd=tmp, env={**env, "PYTHONPATH": str(REPO_ROOT)},
                                  capture_output=True, text=True, timeout=budget * 3 + 300)
            tail = (proc.stderr or "")[-3000:]
        except subprocess.TimeoutExpired:
            tail = "timed out"
        process_s = time.perf_counter() - started
        if result.exists():
            record = json.loads(result.read_text(encoding="utf-8"))
        else:
            record = {"dataset": task.name, "task": task.task, "metric": task.metric, "system": system,
                      "budget_s": budget, "seed": seed, "error": f"child produced no result; stderr tail:\n{tail}"}
    record.update(process_s=process_s, started=stamp, suite=suite_dir(args.suite).name,
                  pin="" if args.pin is None else args.pin)
    return record


def main(argv: list[str] | None = None) -> None:
    from benchmarks.systems import SYSTEMS

    parser = argparse.ArgumentParser(
        description="Accuracy of automl and its peers on a suite, each (system, data set) in its own process.",
        epilog="Example: python -m benchmarks.accuracy --budget 60 --datasets all "
               f"--systems {DEFAULT_SYSTEMS}",
    )
    parser.add_argument("--budget", default="60", help="comma-separated budgets in seconds (default 60)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the systems (default 0); "
                        "the outer split is random_state=0 unless --outer-seeds")
    parser.add_argument("--datasets", default="all", help="comma-separated data-set names, or 'all' (default)")
    parser.add_argument("--systems", default=DEFAULT_SYSTEMS,
                        help=f"comma-separated, from {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--suite", default=None, help=f"folder holding manifest.json (default {DEFAULT_SUITE})")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"),
                        help="folder for the CSV, tables and plot (default benchmarks/results)")
    parser.add_argument("--tag", default="", help="added to the output file names")
    parser.add_argument("--automl-cv", type=int, default=None,
                        help="pass cv=K to automl.fit (default: not passed, automl's own default)")
    parser.add_argument("--autogluon-python", default=os.environ.get("AUTOGLUON_PYTHON", AUTOGLUON_PYTHON),
                        help="the interpreter of AutoGluon's own venv (AutoGluon 1.6 needs pandas < 3; default "
                             f"$AUTOGLUON_PYTHON or {AUTOGLUON_PYTHON})")
    parser.add_argument("--outer-seeds", action="store_true",
                        help="each seed is also the outer split's random_state (the outer seeds of BENCHMARKS.md); "
                             "default: the split is random_state=0 and the seed the systems' only")
    parser.add_argument("--pin", type=int, default=None, help="run each child on this CPU only (taskset -c)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.system, args.budget, args.seed = args.systems, float(args.budget), int(args.seeds)
        worker(args)
        return
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        parser.error(f"unknown systems {bad}; choose from {list(SYSTEMS)}")
    budgets = [float(b) for b in args.budget.split(",") if b]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    names = [] if args.datasets == "all" else [n for n in args.datasets.split(",") if n]
    tasks = load_tasks(args.suite, names)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"_{args.tag}" if args.tag else ""
    path = out / f"accuracy_{datetime.now():%Y%m%d_%H%M%S}{tag}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=FIELDS).writeheader()
    print(f"{len(tasks)} data sets x {len(systems)} systems x budgets {budgets} x seeds {seeds}, n_jobs=1"
          + (f", pinned to CPU {args.pin}" if args.pin is not None else "") + f"; CSV: {path}", flush=True)
    for budget in budgets:
        for seed in seeds:
            for task in tasks:
                for system in systems:
                    record = run_child(system, task, budget, seed, args)
                    with open(path, "a", newline="", encoding="utf-8") as handle:
                        csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore").writerow(record)
                    status = "ERROR" if record.get("error") else f"{task.metric}={fmt(record.get('score'))}"
                    print(f"[{datetime.now():%H:%M:%S}] b={budget:g} s={seed} {task.name:16s} {system:16s} {status} "
                          f"wall={fmt(record.get('wall_s'), 1)}s process={record['process_s']:.1f}s "
                          f"peak={fmt(record.get('peak_rss_mib'), 0)}MiB"
                          + (f" trials={record['n_trials']}" if record.get("n_trials") not in (None, "") else "")
                          + (f" best={record['best_family']}" if record.get("best_family") else ""), flush=True)
                    if record.get("error"):
                        print(record["error"], file=sys.stderr, flush=True)
    from benchmarks.report import report

    cv_note = "" if args.automl_cv is None else f"; automl cv={args.automl_cv} (not the default)"
    print(f"\nCSV: {path}{cv_note}\n")
    print(report([path], out_dir=out, stem=path.stem))


if __name__ == "__main__":
    main()
