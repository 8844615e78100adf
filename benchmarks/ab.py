"""One setting, two values, the same fit side by side, on data outside the suites (design choices).

For each off-suite table (:mod:`benchmarks.offsuite`; ``--pool corpus`` takes the portfolio corpus's tables
instead, ``--pool both`` both, ``--min-rows N`` only tables of at least N rows; ``--tasks`` picks regression,
binary or multiclass ones) and outer seed, the same ``automl.fit`` (defaults, ``time_budget=B``, ``n_jobs=1``,
``seed=SEED``, tracking off) runs twice at once, one pinned core each, in fresh child interpreters:
``SETTING=A`` on ``--pins``' first core and ``SETTING=B`` on its second (swapped on odd seeds). Each scores
once on its 20 % test part; these tables are in neither suite, so the default is chosen here. Reported per
run: both test scores, which wins (ties as in the suite's report), the wall of each, the final model,
and the CV score the fit reports; at the end A's wins / ties / losses and the mean and median relative
difference. Every finished pair is appended to ``--out`` at once.

``python -m benchmarks.ab --setting target_transform --values auto,none --tasks regression --budget 30 --seeds 0,1``

Two versions of the code: ``--roots ../wt/old,../wt/new --setting cv --values holdout:0.15`` runs the one value
in each checkout (arm A is the first root; each child imports ``automl`` from its own root).
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

from benchmarks.offsuite import OFFSUITE, load_frame, load_offsuite_split, pick_tasks
from benchmarks.portfolio_corpus import CORPUS
from benchmarks.systems import _timed_score
from benchmarks.tasks import GREATER_IS_BETTER, REPO_ROOT, TIE_ABS, TIE_REL, relative_gain, write_rows

FIELDS = ["dataset", "task", "metric", "seed", "budget_s", "setting", "mode", "score", "cv_score", "wall_s",
          "predict_s", "n_trials", "model_source", "cv", "pin", "error", "uncalibrated_score", "temperature"]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
POOLS = {"offsuite": OFFSUITE, "corpus": CORPUS, "both": OFFSUITE + CORPUS}


def pool_tasks(pool: str, names: list[str] | None = None, min_rows: int = 0) -> list:
    """The tables of ``pool`` named (all without ``names``) with at least ``min_rows`` rows."""
    tasks = pick_tasks(POOLS[pool], names, pool)
    return [t for t in tasks if not min_rows or len(load_frame(t)) >= min_rows]


def _value(text: str) -> object:
    """A value as the command line gives it: JSON where it parses (``true``, ``5``), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def child(args: argparse.Namespace) -> None:
    """One fit in this (pinned) interpreter; the record goes to ``args.result``."""
    import automl

    task = pool_tasks("both", [args.datasets])[0]
    record: dict = {"dataset": task.name, "task": task.task, "metric": task.metric, "seed": args.seed,
                    "budget_s": args.budget, "setting": args.setting, "mode": args.mode, "error": ""}
    try:
        train, test = load_offsuite_split(task, args.seed)
        started = time.perf_counter()
        # the table's task, given as a user who knows it would (a count with few values is otherwise classes)
        model = automl.fit(train, target=task.target, time_budget=args.budget, n_jobs=1, seed=args.seed,
                           tracking=False, task=task.task, **{args.setting: _value(args.mode)})
        fitted = time.perf_counter()
        scored = _timed_score(task.as_task(), model, test.drop(columns=[task.target]), test[task.target], started,
                              fitted, None if task.task == "regression" else model.classes_)
        unscaled = getattr(model, "calibration_", None) or {}
        if unscaled.get("applied"):  # the same fit's test score without its temperature: the scaling alone
            scaled_model, model.model_ = model.model_, model.model_.model
            record["uncalibrated_score"] = _timed_score(task.as_task(), model, test.drop(columns=[task.target]),
                                                        test[task.target], started, fitted, model.classes_)["score"]
            model.model_ = scaled_model
            record["temperature"] = unscaled["temperature"]
        board = model.leaderboard()
        cv = model.best_score_
        record.update(score=scored["score"], wall_s=scored["fit_s"], predict_s=scored["predict_s"],
                      cv_score=-cv if task.metric in ("rmse", "log_loss") and cv < 0 else cv,
                      n_trials=int((board["trial"].notna() & (board["state"] == "complete")).sum()),
                      model_source=model.model_source_, cv=getattr(model, "cv_", ""))
    except Exception:  # noqa: BLE001 - reported by the parent
        record["error"] = traceback.format_exc()[-2000:]
    Path(args.result).write_text(json.dumps(record, default=str), encoding="utf-8")


def _arms(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """``(label, value, root)`` of arm A and arm B: two values of the setting in this checkout, or with
    ``--roots`` one value in two checkouts (two versions of the code)."""
    if args.roots:
        roots = [str(Path(r).resolve()) for r in args.roots.split(",")]
        if len(roots) != 2 or Path(roots[0]).name == Path(roots[1]).name:
            raise SystemExit(f"--roots needs two checkouts with different folder names, got {args.roots!r}")
        return [(Path(r).name, args.values, r) for r in roots]
    return [(v, v, str(REPO_ROOT)) for v in args.values.split(args.sep)]


def _start(args: argparse.Namespace, name: str, arm: tuple[str, str, str], index: int, seed: int, pin: str,
           folder: Path) -> tuple[subprocess.Popen, Path]:
    _, value, root = arm
    result = folder / f"{name}-{seed}-{'ab'[index]}.json"
    command = ["taskset", "-c", pin, sys.executable, "-m", "benchmarks.ab", "--child", "--datasets", name,
               "--setting", args.setting, "--values", args.values, "--sep", args.sep, "--mode", value,
               "--seeds", str(seed), "--budget", str(args.budget), "--result", str(result)]
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}, "PYTHONPATH": root}
    return subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True), result


def verdict(metric: str, a: float, b: float) -> str:
    """``a``, ``b`` or ``tie``: which score is better, with the suite report's tie margins."""
    tie = TIE_ABS.get(metric, TIE_REL.get(metric, 0.0) * abs(b))
    if abs(a - b) <= tie:
        return "tie"
    better = a > b if GREATER_IS_BETTER[metric] else a < b
    return "a" if better else "b"


def tally(pairs: list[tuple[str, float, float]]) -> tuple[dict[str, int], list[float]]:
    """Over ``(metric, a, b)`` pairs: ``{"a": wins, "tie": ties, "b": losses}`` of ``a`` (:func:`verdict`) and how
    much better ``a`` is in each, in percent of ``|b|``."""
    counts = {"a": 0, "tie": 0, "b": 0}
    gains = []
    for metric, a, b in pairs:
        counts[verdict(metric, a, b)] += 1
        gains.append(100.0 * relative_gain(metric, a, b))
    return counts, gains


def wtl(counts: dict[str, int]) -> str:
    """``"W W / T T / L L"`` of :func:`tally`'s counts."""
    return f"{counts['a']} W / {counts['tie']} T / {counts['b']} L"


def run_pair(args: argparse.Namespace, task: object, seed: int, arms: list[tuple[str, str, str]],
             pins: list[str]) -> dict:
    """Both fits of one table and seed, side by side: ``{label: record}``."""
    with tempfile.TemporaryDirectory() as tmp:
        order = pins if seed % 2 == 0 else pins[::-1]
        started = [(_start(args, task.name, arm, i, seed, pin, Path(tmp)), pin)
                   for i, (arm, pin) in enumerate(zip(arms, order))]
        pair = {}
        for ((process, result), pin), (label, _, _) in zip(started, arms):
            _, err = process.communicate(timeout=args.budget * 3 + 300)
            record = json.loads(result.read_text()) if result.exists() else {
                "dataset": task.name, "mode": label, "seed": seed, "error": err[-2000:]}
            record["pin"], record["mode"] = pin, label
            pair[label] = record
    return pair


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", required=True, help="an automl.fit keyword, e.g. target_transform")
    parser.add_argument("--values", required=True, help="A,B: the two values compared (A's wins are counted); "
                        "each is JSON where it parses (a list of families: --sep ';')")
    parser.add_argument("--roots", default="", help="ROOT_A,ROOT_B: two checkouts (e.g. git worktrees of two "
                        "commits) run with the one value --values gives, instead of two values in this checkout")
    parser.add_argument("--sep", default=",", help="what separates A from B in --values (default ',')")
    parser.add_argument("--datasets", default="", help="comma-separated off-suite names (default: all)")
    parser.add_argument("--pool", default="offsuite", choices=sorted(POOLS),
                        help="the off-suite design tables (default), the portfolio corpus, or both")
    parser.add_argument("--min-rows", type=int, default=0, help="only tables of at least this many rows")
    parser.add_argument("--tasks", default="", help="comma-separated tasks to keep (default: all)")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--pins", default="0,1", help="the two cores: A's, B's")
    parser.add_argument("--out", default="")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.seed = int(args.seeds)
        return child(args)
    arms, pins = _arms(args), args.pins.split(",")
    modes = [label for label, _, _ in arms]
    out = args.out or str(REPO_ROOT / "benchmarks" / "results" / f"ab_{args.setting}_{int(args.budget)}s.csv")
    tasks = [t for t in pool_tasks(args.pool, [n for n in args.datasets.split(",") if n], args.min_rows)
             if not args.tasks or t.task in args.tasks.split(",")]
    rows: list[dict] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for task in tasks:
            pair = run_pair(args, task, seed, arms, pins)
            rows += list(pair.values())
            _report_pair(task.metric, modes, pair)
            write_rows(out, FIELDS, rows)
    _summary(rows, modes)


def _report_pair(metric: str, modes: list[str], pair: dict) -> None:
    a, b = pair[modes[0]], pair[modes[1]]
    if a.get("error") or b.get("error"):
        print(f"{a['dataset']:16s} seed {a['seed']}: error {a.get('error') or b.get('error')}")
        return
    won = {"a": modes[0], "b": modes[1], "tie": "tie"}[verdict(metric, a["score"], b["score"])]
    print(f"{a['dataset']:16s} seed {a['seed']} {metric:8s} "
          + " | ".join(f"{m} {r['score']:.5g} (cv {r['cv_score']:.5g}, {r['wall_s']:.1f} s, {r['n_trials']} trials, "
                       f"{r['model_source']})" for m, r in ((modes[0], a), (modes[1], b)))
          + f" -> {won}", flush=True)


def _summary(rows: list[dict], modes: list[str]) -> None:
    by: dict = {}
    for r in rows:
        by.setdefault((r["dataset"], r["seed"]), {})[r["mode"]] = r
    verdicts, relative = [], []
    for pair in by.values():
        a, b = pair.get(modes[0]), pair.get(modes[1])
        if not a or not b or a.get("error") or b.get("error"):
            continue
        metric = a["metric"]
        verdicts.append(verdict(metric, a["score"], b["score"]))
        relative.append(relative_gain(metric, a["score"], b["score"]))
    if not verdicts:
        print("no pair finished")
        return
    print(f"\nA={modes[0]} against B={modes[1]} over {len(verdicts)} runs: {verdicts.count('a')} wins, "
          f"{verdicts.count('tie')} ties, {verdicts.count('b')} losses; mean relative gain of {modes[0]} "
          f"{100 * np.mean(relative):+.2f} % (median {100 * np.median(relative):+.2f} %)")


if __name__ == "__main__":
    main()
