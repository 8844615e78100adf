"""Issue 16, item 1: bagged fold models against one refit on all rows, on data outside the suites.

For each off-suite table (:mod:`benchmarks.offsuite`) and outer seed, the same ``automl.fit`` (defaults,
``time_budget=B``, ``n_jobs=1``, ``seed=SEED``, tracking off) runs twice side by side, one pinned core
each: ``final_model="bag"`` on ``--pins``' first core and ``"refit"`` on its second (swapped on odd
seeds), in fresh child interpreters. Each scores once on its 20 % test part (these tables are not in
either suite: the choice of the default is made here). Reported per run: the test metric of both, which
wins (ties as in the suite's report), the wall of each, the final model, and the CV score the fit
reports for it; at the end wins / ties / losses of the bag and the mean relative difference.

``python -m benchmarks.bagging --budget 30 --seeds 0,1``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.offsuite import load_offsuite_split, offsuite_tasks
from benchmarks.systems import _timed_score
from benchmarks.tasks import GREATER_IS_BETTER, REPO_ROOT, TIE_ABS, TIE_REL, write_rows

MODES = ("bag", "refit")
FIELDS = ["dataset", "task", "metric", "seed", "budget_s", "mode", "score", "cv_score", "wall_s", "predict_s",
          "n_trials", "model_source", "pin", "error"]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def child(args: argparse.Namespace) -> None:
    """One fit in this (pinned) interpreter; the record goes to ``args.result``."""
    import automl

    task = offsuite_tasks([args.datasets])[0]
    record: dict = {"dataset": task.name, "task": task.task, "metric": task.metric, "seed": args.seed,
                    "budget_s": args.budget, "mode": args.mode, "error": ""}
    try:
        train, test = load_offsuite_split(task, args.seed)
        started = time.perf_counter()
        model = automl.fit(train, target=task.target, time_budget=args.budget, n_jobs=1, seed=args.seed,
                           tracking=False, final_model=args.mode)
        fitted = time.perf_counter()
        scored = _timed_score(task.as_task(), model, test.drop(columns=[task.target]), test[task.target], started,
                              fitted, None if task.task == "regression" else model.classes_)
        board = model.leaderboard()
        cv = model.best_score_
        record.update(score=scored["score"], wall_s=scored["fit_s"], predict_s=scored["predict_s"],
                      cv_score=-cv if task.metric in ("rmse", "log_loss") and cv < 0 else cv,
                      n_trials=int((board["trial"].notna() & (board["state"] == "complete")).sum()),
                      model_source=model.model_source_)
    except Exception:  # noqa: BLE001 - reported by the parent
        record["error"] = traceback.format_exc()[-2000:]
    Path(args.result).write_text(json.dumps(record, default=str), encoding="utf-8")


def _start(name: str, mode: str, seed: int, budget: float, pin: str, folder: Path) -> tuple[subprocess.Popen, Path]:
    result = folder / f"{name}-{mode}-{seed}.json"
    command = ["taskset", "-c", pin, sys.executable, "-m", "benchmarks.bagging", "--child", "--datasets", name,
               "--mode", mode, "--seeds", str(seed), "--budget", str(budget), "--result", str(result)]
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True), result


def _verdict(metric: str, bag: float, refit: float) -> str:
    tie = TIE_ABS.get(metric, TIE_REL.get(metric, 0.0) * abs(refit))
    if abs(bag - refit) <= tie:
        return "tie"
    better = bag > refit if GREATER_IS_BETTER[metric] else bag < refit
    return "bag" if better else "refit"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="", help="comma-separated off-suite names (default: all)")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--pins", default="0,1", help="the two cores: bag's, refit's")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "bagging.csv"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.seed = int(args.seeds)
        return child(args)
    pins = args.pins.split(",")
    rows: list[dict] = []
    names = [n for n in args.datasets.split(",") if n]
    for seed in (int(s) for s in args.seeds.split(",")):
        for task in offsuite_tasks(names):
            with tempfile.TemporaryDirectory() as tmp:
                order = pins if seed % 2 == 0 else pins[::-1]
                started = [(_start(task.name, mode, seed, args.budget, pin, Path(tmp)), pin)
                           for mode, pin in zip(MODES, order)]
                pair = {}
                for ((process, result), pin), mode in zip(started, MODES):
                    _, err = process.communicate(timeout=args.budget * 3 + 300)
                    record = json.loads(result.read_text()) if result.exists() else {
                        "dataset": task.name, "mode": mode, "seed": seed, "error": err[-2000:]}
                    record["pin"] = pin
                    pair[mode] = record
                    rows.append(record)
            _report_pair(task.metric, pair)
            write_rows(args.out, FIELDS, rows)
    _summary(rows)


def _report_pair(metric: str, pair: dict) -> None:
    bag, refit = pair["bag"], pair["refit"]
    if bag.get("error") or refit.get("error"):
        print(f"{bag['dataset']:16s} seed {bag['seed']}: error {bag.get('error') or refit.get('error')}")
        return
    print(f"{bag['dataset']:16s} seed {bag['seed']} {metric:8s} bag {bag['score']:.5g} (cv {bag['cv_score']:.5g}, "
          f"{bag['wall_s']:.1f} s, {bag['model_source']}) | refit {refit['score']:.5g} (cv {refit['cv_score']:.5g}, "
          f"{refit['wall_s']:.1f} s, {refit['model_source']}) -> {_verdict(metric, bag['score'], refit['score'])}",
          flush=True)


def _summary(rows: list[dict]) -> None:
    by = {}
    for r in rows:
        by.setdefault((r["dataset"], r["seed"]), {})[r["mode"]] = r
    verdicts, relative = [], []
    for pair in by.values():
        bag, refit = pair.get("bag"), pair.get("refit")
        if not bag or not refit or bag.get("error") or refit.get("error"):
            continue
        metric = bag["metric"]
        verdicts.append(_verdict(metric, bag["score"], refit["score"]))
        sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
        relative.append(sign * (bag["score"] - refit["score"]) / abs(refit["score"]))
    print(f"\nbag against refit over {len(verdicts)} runs: {verdicts.count('bag')} wins, {verdicts.count('tie')} ties, "
          f"{verdicts.count('refit')} losses; mean relative gain of the bag {100 * np.mean(relative):+.2f} % "
          f"(median {100 * np.median(relative):+.2f} %)")


if __name__ == "__main__":
    main()
