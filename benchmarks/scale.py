"""Scale benchmark: automl.fit (and peers) on synthetic frames of growing size, each run in its own process.

The frame (seeded, ``--seed``, default 0) has N rows x 20 feature columns: 15 numeric (standard
normal, one with 5 % missing values) and 5 categorical string columns (pandas ``str`` dtype) with 5,
10, 20, 35 and 50 levels, plus a binary target ``y`` with signal: ``y = 1`` when a linear term on six
numeric columns, an interaction, a sine term and one effect per level of three categorical columns,
plus Gaussian noise, is above its median. For each size a fresh child interpreter (pinned with
``--pin CPU``, BLAS/OpenMP threads 1) builds the frame, then times::

    start = time.time(); model = automl.fit(df, target="y", time_budget=B, n_jobs=1, tracking=False)

and reports: time to the first completed trial (the earliest ``datetime_complete`` among the
completed trials of ``model.study_`` minus ``start``), trials completed within the budget (and all
trials, pruned and failed included), the total wall time of the fit, the child's peak resident
memory (``ru_maxrss``, frame building included), the RSS just before the fit, and the ratio peak RSS
/ ``df.memory_usage(deep=True).sum()``. A CSV goes to ``--out``.

The frame is drawn with ``--test-rows`` more rows (default 100,000) from the same generator; those
rows are held out and only scored once, after the fit: the test AUC of ``predict_proba``. With
``--systems automl,flaml`` FLAML 2.7 (``AutoML().fit(X, y, task="classification", metric="roc_auc",
time_budget=B, n_jobs=1, seed=0)``, string columns as pandas categoricals) runs on the same frame in
its own child, pinned the same way, one after the other; its trial count is ``len(config_history)``.
``flaml_budget`` is FLAML with ``retrain_full="budget"``: its final retrain on all rows (FLAML's default,
after the search, unbounded) is then kept within the budget. A child is stopped after
``--child-timeout`` seconds (default 3 x budget + 1200).
``--code DIR`` imports ``automl`` from DIR (another commit) in automl's children.

    python -m benchmarks.scale --sizes 10000,100000,1000000 --budget 300 --systems automl,flaml
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.tasks import REPO_ROOT

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LEVELS = (5, 10, 20, 35, 50)
FIELDS = ["system", "rows", "budget_s", "seed", "build_s", "frame_mib", "rss_before_fit_mib", "first_trial_s",
          "trials_complete", "trials_total", "wall_s", "peak_rss_mib", "peak_over_frame", "best_family",
          "best_cv", "test_auc", "error"]
SYSTEMS = ("automl", "flaml", "flaml_budget")


def synthetic(rows: int, seed: int = 0):
    """The N x 20 frame described in the module doc, target column ``y``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((rows, 15)).astype("float64")
    data = {f"num{i}": numeric[:, i] for i in range(15)}
    logit = (numeric[:, :6] @ np.array([1.0, -0.8, 0.6, 0.5, -0.4, 0.3]) + 0.5 * numeric[:, 6] * numeric[:, 7]
             + 0.7 * np.sin(2.0 * numeric[:, 8]))
    for j, levels in enumerate(LEVELS):
        codes = rng.integers(0, levels, size=rows)
        names = np.array([f"c{j}_{k}" for k in range(levels)], dtype=object)
        data[f"cat{j}"] = pd.array(names[codes], dtype="str")
        if j < 3:  # three categorical columns carry signal
            logit += rng.normal(0.0, 0.6, size=levels)[codes]
    missing = rng.random(rows) < 0.05
    data["num14"] = np.where(missing, np.nan, data["num14"])
    logit += rng.normal(0.0, 1.0, size=rows)
    frame = pd.DataFrame(data)
    frame["y"] = (logit > np.median(logit)).astype("int64")
    return frame


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def worker(args: argparse.Namespace) -> None:
    import resource

    record: dict = {"system": args.system, "rows": args.sizes, "budget_s": args.budget, "seed": args.seed,
                    "error": ""}
    try:
        t0 = time.perf_counter()
        full = synthetic(int(args.sizes) + int(args.test_rows), args.seed)
        frame = full.iloc[: int(args.sizes)].reset_index(drop=True)
        test = full.iloc[int(args.sizes):].reset_index(drop=True)
        del full
        record["build_s"] = time.perf_counter() - t0
        frame_bytes = float(frame.memory_usage(deep=True).sum())
        record["frame_mib"] = frame_bytes / 2**20
        fit = _fit_automl if args.system == "automl" else _fit_flaml
        record.update(fit(frame, test, args))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        record["peak_rss_mib"] = peak
        record["peak_over_frame"] = peak * 2**20 / frame_bytes
    except Exception:  # noqa: BLE001 - reported by the parent
        record["error"] = traceback.format_exc()
        record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    Path(args.result).write_text(json.dumps(record, default=str), encoding="utf-8")


def _test_auc(y_true, proba, classes) -> float:
    from sklearn.metrics import roc_auc_score

    column = list(classes).index(1)
    return float(roc_auc_score(np.asarray(y_true), np.asarray(proba)[:, column]))


def _fit_automl(frame, test, args: argparse.Namespace) -> dict:
    import automl  # imported before the clock starts: the fit, not the import, is measured
    import optuna

    record: dict = {"rss_before_fit_mib": rss_mib()}
    start = time.time()
    model = automl.fit(frame, target="y", time_budget=args.budget, n_jobs=1, tracking=False)
    record["wall_s"] = time.time() - start
    trials = model.study_.trials
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.datetime_complete]
    record["trials_complete"] = len(done)
    record["trials_total"] = len(trials)
    if done:  # Optuna stamps datetime.now() (naive local time); .timestamp() reads it the same way
        record["first_trial_s"] = min(t.datetime_complete.timestamp() for t in done) - start
    record["best_family"] = model.best_family_
    board = model.leaderboard()
    cv_cols = [c for c in board.columns if str(c).endswith("_mean")]
    if cv_cols:
        record["best_cv"] = float(board.iloc[0][cv_cols[0]])
    record["test_auc"] = _test_auc(test["y"], model.predict_proba(test.drop(columns=["y"])), model.classes_)
    return record


def _fit_flaml(frame, test, args: argparse.Namespace) -> dict:
    import logging

    from flaml import AutoML

    from benchmarks.tasks import Task, lightgbm_frames

    logging.getLogger("flaml.automl.logger").setLevel(logging.WARNING)
    task = Task(name="scale", path="", target="y", task="binary", metric="roc_auc",
                categorical_columns=tuple(c for c in frame.columns if c.startswith("cat")))
    X_train, y_train, X_test, y_test = lightgbm_frames(frame, test, task)
    del frame
    record: dict = {"rss_before_fit_mib": rss_mib()}
    model = AutoML()
    start = time.time()
    extra = {"retrain_full": "budget"} if args.system == "flaml_budget" else {}
    model.fit(X_train, y_train, task="classification", metric="roc_auc", time_budget=args.budget, n_jobs=1,
              seed=0, verbose=0, **extra)
    record["wall_s"] = time.time() - start
    history = getattr(model, "config_history", None) or {}
    record["trials_complete"] = record["trials_total"] = len(history)
    record["best_family"] = model.best_estimator
    record["best_cv"] = 1.0 - float(model.best_loss)
    record["test_auc"] = _test_auc(y_test, model.predict_proba(X_test), model.classes_)
    return record


def run_child(rows: int, system: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(REPO_ROOT)
        if args.code and system == "automl":  # that commit's automl, this checkout's benchmarks
            (Path(tmp) / "code").mkdir()
            (Path(tmp) / "code" / "automl").symlink_to(Path(args.code).resolve() / "automl")
            path = f"{Path(tmp) / 'code'}{os.pathsep}{REPO_ROOT}"
        env = dict(os.environ, PYTHONPATH=path, **{v: "1" for v in THREAD_VARS})
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "benchmarks.scale", "--worker", "--sizes", str(rows),
                   "--budget", str(args.budget), "--seed", str(args.seed), "--result", str(result),
                   "--system", system, "--test-rows", str(args.test_rows)]
        if args.pin is not None:
            command = ["taskset", "-c", str(args.pin), *command]
        try:
            proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=args.child_timeout or args.budget * 3 + 1200)
            tail = (proc.stderr or "")[-3000:]
        except subprocess.TimeoutExpired:
            tail = "timed out"
        if result.exists():
            return json.loads(result.read_text(encoding="utf-8"))
        return {"system": system, "rows": rows, "budget_s": args.budget, "seed": args.seed,
                "error": f"child produced no result; stderr tail:\n{tail}"}


def fmt(value: object, digits: int = 1) -> str:
    try:
        return f"{float(value):,.{digits}f}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="automl.fit on synthetic N x 20 binary frames (15 numeric, 5 string categorical), "
        "one process per size: time to the first trial, trials in the budget, wall, peak memory."
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated row counts")
    parser.add_argument("--budget", type=float, default=300.0, help="automl time_budget in seconds (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic frame (default 0)")
    parser.add_argument("--pin", type=int, default=None, help="run each child on this CPU only (taskset -c)")
    parser.add_argument("--systems", default="automl", help="comma-separated, of: " + ", ".join(SYSTEMS))
    parser.add_argument("--test-rows", type=int, default=100_000, help="held-out rows scored once (default 100000)")
    parser.add_argument("--code", default=None, help="a folder holding the automl package to run (another commit)")
    parser.add_argument("--system", default="automl", help=argparse.SUPPRESS)
    parser.add_argument("--child-timeout", type=float, default=None,
                        help="seconds before a child is stopped (default 3 x budget + 1200)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results"), help="folder for the CSV")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    systems = [s for s in args.systems.split(",") if s]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"--systems: unknown {unknown}; choose from {list(SYSTEMS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pin = "" if args.pin is None else f"_pin{args.pin}"  # two runs started together on two cores: two files
    path = out / f"scale_{datetime.now():%Y%m%d_%H%M%S}_b{args.budget:g}{pin}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=FIELDS).writeheader()
    records = []
    for rows, system in [(rows, system) for rows in sizes for system in systems]:
        record = run_child(rows, system, args)
        records.append(record)
        with open(path, "a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore").writerow(record)
        print(f"[{datetime.now():%H:%M:%S}] {system} rows={rows:,} " + ("ERROR" if record.get("error") else
              f"first trial {fmt(record.get('first_trial_s'))} s, {record.get('trials_complete')} trials, "
              f"wall {fmt(record.get('wall_s'))} s, peak {fmt(record.get('peak_rss_mib'), 0)} MiB, "
              f"test AUC {fmt(record.get('test_auc'), 4)}"), flush=True)
        if record.get("error"):
            print(record["error"], file=sys.stderr, flush=True)
    print(f"\nsynthetic binary frames x 20 columns (15 numeric, 5 str categorical), budget {args.budget:g} s, "
          f"n_jobs=1, tracking off" + (f", pinned to CPU {args.pin}" if args.pin is not None else "")
          + f"; CSV: {path}\n")
    print("| system | rows | frame MiB | build s | first trial s | trials complete (all) | wall s | wall / budget "
          "| RSS before fit MiB | peak RSS MiB | peak RSS / frame | best family | best CV | test AUC |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        if r.get("error"):
            print(f"| {r.get('system')} | {int(r['rows']):,} | ERROR (see stderr) |" + " |" * 11)
            continue
        print(f"| {r.get('system')} | {int(r['rows']):,} | {fmt(r.get('frame_mib'))} | {fmt(r.get('build_s'))} | "
              f"{fmt(r.get('first_trial_s'))} | {r.get('trials_complete')} ({r.get('trials_total')}) | "
              f"{fmt(r.get('wall_s'))} | {fmt(float(r.get('wall_s') or 'nan') / args.budget, 2)} | "
              f"{fmt(r.get('rss_before_fit_mib'), 0)} | {fmt(r.get('peak_rss_mib'), 0)} | "
              f"{fmt(r.get('peak_over_frame'), 1)} | {r.get('best_family', '—')} | {fmt(r.get('best_cv'), 4)} | "
              f"{fmt(r.get('test_auc'), 4)} |")


if __name__ == "__main__":
    main()
