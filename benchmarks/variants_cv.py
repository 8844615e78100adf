"""A family's defaults against variants of them, under the portfolio's cross-validation, off-suite (design choices).

Each variant overrides some of the family's default values (``--variants '{"NAME": {PARAM: VALUE}}'``). On every
table of the portfolio corpus and the off-suite set (``--pool``; ``--min-categoricals K``: only tables with at
least K categorical columns as a search sees them), the defaults and each variant are cross-validated exactly as
``python -m benchmarks.portfolio run`` does (the frame as a search sees it, at most ``MAX_ROWS`` rows, 3 folds,
seed 0, ``n_jobs=1``): mean CV score and fit time. No test split is read. Reported per variant against the
defaults: wins / ties / losses on the CV score (ties as in the suite's report), the mean and median relative
difference of the score, and the median and total ratio of fit times.

    python -m benchmarks.variants_cv --family catboost --min-categoricals 1 \\
        --variants '{"onehot10": {"one_hot_max_size": 10}}' --shard 0/2 --out /tmp/cb0.csv   # and 1/2 on core 1
    python -m benchmarks.variants_cv --family catboost --variants '...' --summarise /tmp/cb0.csv /tmp/cb1.csv

A variant's parameter that is not in the family's space is passed to the family as it is (e.g. LightGBM's
``{"objective": "poisson"}``). ``--others torch_mlp,lightgbm`` also cross-validates those families' defaults on the
same folds, each reported as a variant named ``<family>_defaults`` (a new family's defaults against the ones it would
replace).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from benchmarks.ab import POOLS, pool_tasks, tally, wtl  # noqa: E402
from benchmarks.portfolio import cv_setup  # noqa: E402
from benchmarks.report import read  # noqa: E402
from benchmarks.tasks import write_rows  # noqa: E402

FIELDS = ["table", "task", "rows", "categoricals", "family", "variant", "params", "metric", "score", "fit_time",
          "error"]


def evaluate_table(entry, family: str, variants: dict[str, dict], min_categoricals: int,
                   others: tuple[str, ...] = ()) -> list[dict]:
    """The defaults and every variant of ``family``, then the defaults of each of ``others``, on one table
    (empty when it has too few categoricals)."""
    import numpy as np
    import optuna

    from automl.families.pipeline import target_spaces
    from automl.spaces import load_builtin_space

    X, y, metric, evaluator = cv_setup(entry)
    categoricals = sum(str(dtype) == "category" for dtype in X.dtypes)
    if categoricals < min_categoricals:
        return []
    runs = [(family, name, overrides) for name, overrides in {"default": {}, **variants}.items()]
    runs += [(other, f"{other}_defaults", {}) for other in others]
    rows = []
    for fitted, name, overrides in runs:
        space = load_builtin_space(fitted)
        if entry.task == "regression":  # the target transform is a trial parameter there, as in a search
            space = target_spaces("auto", entry.task, np.asarray(y, dtype=float), {fitted: space})[fitted]
        searched = set(space.names)
        optuna_params = {**space.optuna_defaults(), **{space.key(k): v for k, v in overrides.items() if k in searched}}
        fixed = {k: v for k, v in overrides.items() if k not in searched}  # passed to the family as they are
        record = {"table": entry.name, "task": entry.task, "rows": len(y), "categoricals": categoricals,
                  "family": family, "variant": name, "params": json.dumps(overrides, sort_keys=True),
                  "metric": metric.name, "error": ""}
        try:
            params = {**space.suggest(optuna.trial.FixedTrial(optuna_params)), **fixed}
            started = time.perf_counter()
            result = evaluator.evaluate(fitted, params, X, y)
            record["fit_time"] = round(time.perf_counter() - started, 3)
            record["score"] = float(np.mean(result.fold_scores[metric.name]))
        except Exception as exc:  # noqa: BLE001 - a failing variant is recorded, never ends the run
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(record)
        print(f"{entry.name:24s} {name:12s} {record.get('score', float('nan')):.5g} "
              f"{record.get('fit_time', 0):.2f}s {record['error'][:80]}", flush=True)
    return rows


def summary(rows: list[dict], variants: list[str]) -> list[str]:
    """One line per variant: its CV score and fit time against the defaults', over tables both ran on."""
    import numpy as np

    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        if not r["error"]:
            by.setdefault(r["table"], {})[r["variant"]] = r
    lines = []
    for name in variants:
        pairs = [(t["default"], t[name]) for t in by.values() if "default" in t and name in t]
        if not pairs:
            lines.append(f"{name}: no table where both ran")
            continue
        counts, rel = tally([(base["metric"], float(var["score"]), float(base["score"])) for base, var in pairs])
        ratios = [float(var["fit_time"]) / max(float(base["fit_time"]), 1e-9) for base, var in pairs]
        total = sum(float(v["fit_time"]) for _, v in pairs) / sum(float(b["fit_time"]) for b, _ in pairs)
        lines.append(f"{name} against the defaults on {len(pairs)} tables: {wtl(counts)} on CV, score {np.mean(rel):+.2f} % mean ({np.median(rel):+.2f} % median, "
                     f"+ is better); fit time x{np.median(ratios):.2f} median, x{total:.2f} in total")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", required=True)
    parser.add_argument("--variants", required=True, help='JSON: {"NAME": {PARAM: VALUE, ...}, ...}')
    parser.add_argument("--pool", default="both", choices=sorted(POOLS))
    parser.add_argument("--tasks", default="", help="comma-separated tasks to keep (default: all)")
    parser.add_argument("--datasets", default="", help="comma-separated table names (default: all of the pool)")
    parser.add_argument("--min-categoricals", type=int, default=0)
    parser.add_argument("--others", default="", help="comma-separated families whose defaults run beside")
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th table from the I-th (two cores: 0/2, 1/2)")
    parser.add_argument("--out", default="", help="CSV of every row (rewritten after each table)")
    parser.add_argument("--summarise", nargs="*", type=Path, default=None,
                        help="only summarise these CSVs (e.g. both shards)")
    args = parser.parse_args(argv)
    variants = json.loads(args.variants)
    others = tuple(o for o in args.others.split(",") if o)
    names_reported = list(variants) + [f"{o}_defaults" for o in others]
    if args.summarise is not None:
        rows = [r for r in read(args.summarise) if r["family"] == args.family]
        print("\n".join(summary(rows, names_reported)))
        return
    index, count = (int(p) for p in args.shard.split("/"))
    names = args.datasets.split(",") if args.datasets else None
    tables = [t for t in pool_tasks(args.pool, names) if not args.tasks or t.task in args.tasks.split(",")]
    rows: list[dict] = []
    for entry in tables[index::count]:
        rows += evaluate_table(entry, args.family, variants, args.min_categoricals, others)
        if args.out:
            write_rows(Path(args.out), FIELDS, rows)
    print("\n".join(summary(rows, names_reported)))


if __name__ == "__main__":
    main()
