"""Accuracy benchmark: automl against LightGBM defaults on the shared suite (BENCHMARKS.md protocol).

For every (system, data set) pair a fresh child interpreter (``python -m benchmarks.accuracy
--worker ...``) loads the outer 80/20 split, fits on the 80 % and scores once on the 20 %. Both
systems use ``n_jobs=1``; the child also sets the BLAS/OpenMP thread variables to 1. Recorded per
run: the manifest metric on the test rows (roc_auc / log_loss / rmse), accuracy (classification) or
r2 (regression), wall time of fit + predict (data loading excluded), and the child's peak resident
memory (``ru_maxrss``, KiB on Linux). Systems:

* ``automl``: ``automl.fit(train, target="target", time_budget=BUDGET, n_jobs=1, seed=0, tracking=False)``, scored
  with ``model.evaluate(test)``;
* ``lightgbm_default``: ``LGBMClassifier/LGBMRegressor(n_jobs=1, verbose=-1, random_state=0)``,
  scored with scikit-learn metrics on ``predict_proba`` / ``predict`` (log loss with ``labels=`` the
  train classes); string columns become ``category`` and names are sanitised, for this peer only.

The CSV goes to ``--out`` (default ``benchmarks/results``, ignored by git); a markdown table (one row
per data set, the first system against the second, better / worse / tie with the thresholds of
BENCHMARKS.md) is printed.

    python -m benchmarks.accuracy --budget 60 --datasets phoneme,telco_churn,wine_quality,abalone \\
        --systems automl,lightgbm_default
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

from benchmarks.tasks import DEFAULT_SUITE, GREATER_IS_BETTER, REPO_ROOT, TIE_ABS, TIE_REL, Task, load_tasks

SYSTEMS = ("automl", "lightgbm_default")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
FIELDS = ["dataset", "task", "metric", "system", "score", "secondary_metric", "secondary", "wall_s",
          "fit_s", "predict_s", "peak_rss_mib", "budget_s", "n_trials", "best_family", "settings", "error"]


# -- child side ------------------------------------------------------------------------------
def run_automl(task: Task, train, test, budget: float, cv: int | None = None) -> dict:
    import automl

    extra = {} if cv is None else {"cv": cv}
    started = time.perf_counter()
    # MLflow tracking off: the peers log nothing either (its cost: python -m benchmarks.tracking_cost).
    model = automl.fit(train, target=task.target, time_budget=budget, n_jobs=1, seed=0, tracking=False, **extra)
    fitted = time.perf_counter()
    metrics = model.evaluate(test)
    done = time.perf_counter()
    board = model.leaderboard()
    return {
        "score": metrics[task.metric], "secondary": metrics[task.secondary],
        "fit_s": fitted - started, "predict_s": done - fitted,
        "n_trials": int((board["state"] == "complete").sum()), "best_family": model.best_family_,
    }


def run_lightgbm(task: Task, train, test) -> dict:
    import lightgbm
    import numpy as np
    from sklearn import metrics as skm

    from benchmarks.tasks import lightgbm_frames

    X_train, y_train, X_test, y_test = lightgbm_frames(train, test, task)
    kind = lightgbm.LGBMRegressor if task.task == "regression" else lightgbm.LGBMClassifier
    model = kind(n_jobs=1, verbose=-1, random_state=0)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fitted = time.perf_counter()
    if task.task == "regression":
        pred = model.predict(X_test)
        done = time.perf_counter()
        score = float(np.sqrt(skm.mean_squared_error(y_test, pred)))
        secondary = float(skm.r2_score(y_test, pred))
    else:
        proba = model.predict_proba(X_test)
        done = time.perf_counter()
        labels = model.classes_[np.argmax(proba, axis=1)]
        secondary = float(skm.accuracy_score(y_test, labels))
        if task.metric == "roc_auc":
            score = float(skm.roc_auc_score(y_test == model.classes_[1], proba[:, 1]))
        else:
            score = float(skm.log_loss(y_test, proba, labels=model.classes_))
    return {"score": score, "secondary": secondary, "fit_s": fitted - started, "predict_s": done - fitted,
            "n_trials": "", "best_family": "lightgbm"}


def worker(args: argparse.Namespace) -> None:
    import resource

    from benchmarks.tasks import load_split

    task = load_tasks(args.suite, [args.dataset])[0]
    record = {"dataset": task.name, "task": task.task, "metric": task.metric, "system": args.system,
              "secondary_metric": task.secondary, "budget_s": args.budget, "error": ""}
    try:
        train, test = load_split(task)
        if args.system == "automl":
            record.update(run_automl(task, train, test, args.budget, args.automl_cv))
            record["settings"] = "" if args.automl_cv is None else f"cv={args.automl_cv}"
        else:
            record.update(run_lightgbm(task, train, test))
        record["wall_s"] = record["fit_s"] + record["predict_s"]
    except Exception:  # noqa: BLE001 - reported by the parent, the run goes on
        record["error"] = traceback.format_exc()
    record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    Path(args.result).write_text(json.dumps(record), encoding="utf-8")


# -- parent side -----------------------------------------------------------------------------
def run_child(system: str, task: Task, args: argparse.Namespace) -> dict:
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "benchmarks.accuracy", "--worker", "--system", system,
                   "--datasets", task.name, "--budget", str(args.budget), "--result", str(result)]
        if args.suite:
            command += ["--suite", args.suite]
        if args.automl_cv is not None:
            command += ["--automl-cv", str(args.automl_cv)]
        if args.pin is not None:
            command = ["taskset", "-c", str(args.pin), *command]
        started = time.perf_counter()
        try:
            proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=args.budget * 3 + 300)
            tail = (proc.stderr or "")[-3000:]
        except subprocess.TimeoutExpired:
            tail = "timed out"
        process_s = time.perf_counter() - started
        if result.exists():
            record = json.loads(result.read_text(encoding="utf-8"))
        else:
            record = {"dataset": task.name, "task": task.task, "metric": task.metric, "system": system,
                      "error": f"child produced no result; stderr tail:\n{tail}"}
    record["process_s"] = process_s
    return record


def verdict(metric: str, ours: float, ref: float) -> str:
    if not (math.isfinite(ours) and math.isfinite(ref)):
        return "n/a"
    diff = ours - ref
    tie = TIE_REL[metric] * abs(ref) if metric in TIE_REL else TIE_ABS[metric]
    if abs(diff) < tie:
        return "tie"
    return "better" if (diff > 0) == GREATER_IS_BETTER[metric] else "worse"


def fmt(value: object, digits: int | None = None) -> str:
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(value):
        return "—"
    if digits is None:
        digits = 0 if abs(value) >= 1000 else 2 if abs(value) >= 100 else 4
    return f"{value:,.{digits}f}"


def markdown(records: list[dict], systems: list[str], tasks: list[Task]) -> str:
    ours, ref = systems[0], systems[1] if len(systems) > 1 else None
    by = {(r["dataset"], r["system"]): r for r in records}
    head = ["data set", "metric"] + [f"{s}" for s in systems]
    if ref:
        head += [f"diff ({ours} − {ref})", "ratio", "verdict"]
    head += [f"acc / r2 {s}" for s in systems] + [f"wall s {s}" for s in systems]
    head += [f"peak MiB {s}" for s in systems]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tally = {"better": 0, "tie": 0, "worse": 0, "n/a": 0}
    for task in tasks:
        rows = [by.get((task.name, s), {}) for s in systems]
        scores = [float(r.get("score", "nan") or "nan") for r in rows]
        arrow = "↑" if GREATER_IS_BETTER[task.metric] else "↓"
        cells = [task.name, f"{task.metric} {arrow}"]
        cells += ["ERROR" if r.get("error") else fmt(v) for r, v in zip(rows, scores)]
        if ref:
            word = verdict(task.metric, scores[0], scores[1])
            tally[word] += 1
            failed = [s for s, r in zip(systems[:2], rows) if r.get("error")]
            word = f"n/a ({', '.join(failed)} failed)" if failed and word == "n/a" else word
            ratio = scores[0] / scores[1] if scores[1] else math.nan
            cells += [f"{scores[0] - scores[1]:+.4f}" if math.isfinite(scores[0] - scores[1]) else "—",
                      fmt(ratio), word]
        cells += [fmt(r.get("secondary")) for r in rows]
        cells += [fmt(r.get("wall_s"), 1) for r in rows]
        cells += [fmt(r.get("peak_rss_mib"), 0) for r in rows]
        lines.append("| " + " | ".join(cells) + " |")
    if ref:
        lines.append("")
        lines.append(f"{ours} vs {ref}: {tally['better']} better / {tally['tie']} tie / {tally['worse']} worse"
                     + (f" / {tally['n/a']} n/a (failed run)" if tally["n/a"] else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Accuracy of automl against LightGBM defaults on the shared suite, each run in its own process.",
        epilog="Example: python -m benchmarks.accuracy --budget 60 --datasets phoneme,telco_churn,wine_quality,abalone",
    )
    parser.add_argument("--budget", type=float, default=60.0, help="automl time budget in seconds (default 60)")
    parser.add_argument("--datasets", default="phoneme,telco_churn,wine_quality,abalone",
                        help="comma-separated data-set names from the manifest, or 'all'")
    parser.add_argument("--systems", default="automl,lightgbm_default",
                        help=f"comma-separated, from {', '.join(SYSTEMS)}; the first is compared with the second")
    parser.add_argument("--suite", default=None, help=f"folder holding manifest.json (default {DEFAULT_SUITE})")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"), help="folder for the CSV")
    parser.add_argument("--automl-cv", type=int, default=None,
                        help="pass cv=K to automl.fit (default: not passed, automl's own default)")
    parser.add_argument("--pin", type=int, default=None, help="run each child on this CPU only (taskset -c)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.dataset = args.datasets
        worker(args)
        return
    systems = [s for s in args.systems.split(",") if s]
    bad = [s for s in systems if s not in SYSTEMS]
    if bad:
        parser.error(f"unknown systems {bad}; choose from {list(SYSTEMS)}")
    names = [] if args.datasets == "all" else [n for n in args.datasets.split(",") if n]
    tasks = load_tasks(args.suite, names)
    records = []
    for task in tasks:
        for system in systems:
            record = run_child(system, task, args)
            records.append(record)
            status = "ERROR" if record.get("error") else f"{task.metric}={fmt(record.get('score'))}"
            print(f"[{datetime.now():%H:%M:%S}] {task.name:16s} {system:16s} {status} "
                  f"wall={fmt(record.get('wall_s'), 1)}s process={record['process_s']:.1f}s "
                  f"peak={fmt(record.get('peak_rss_mib'), 0)}MiB"
                  + (f" trials={record['n_trials']} best={record['best_family']}" if record.get("n_trials") else ""),
                  flush=True)
            if record.get("error"):
                print(record["error"], file=sys.stderr, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"accuracy_{datetime.now():%Y%m%d_%H%M%S}_b{args.budget:g}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS + ["process_s"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    cv_note = "" if args.automl_cv is None else f", automl cv={args.automl_cv} (not the default)"
    print(f"\nbudget {args.budget:g} s, n_jobs=1{cv_note}, CSV: {path}\n")
    print(markdown(records, systems, tasks))


if __name__ == "__main__":
    main()
