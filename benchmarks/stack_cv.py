"""Which columns and which model make a second level worth its time: variants under cross-validation, off-suite.

A design measurement for the stack stage (``automl/_fit/stack.py``), on the A/B's tables (``--pool``, the frame
as a search sees it, at most ``MAX_ROWS`` rows, 3 folds, seed 0, one core; off-suite tables only, the same
frames the portfolio and ``variants_cv`` read, so their rows overlap the A/B's test splits). On each table
every family in ``--families`` is cross-validated with its defaults (the first level), greedy selection blends
their out-of-fold predictions (the blend), and each second-level variant is cross-validated on the data plus
some first-level predictions as columns, on the same folds:

- ``members/<family>``: the blend's members' predictions (what a fit stacks today), the second level ``<family>``;
- ``all/<family>``: every first-level model's predictions (AutoGluon's second level reads all of its first);
- ``all/<family>+<family2>``: two second-level models over every first-level model, both offered to the blend;
- ``<family>:<param>=<int>``: that family with one parameter overridden (``members/extra_trees:min_samples_leaf=10``).

With ``--holdout 0.3`` a share of each table's rows is held out first: everything above runs on the other rows, and
the blend and each stack are also scored on the held rows (every model there the average of its fold models, the
second level reading their averaged predictions), always and where a fit would keep the stack (its CV beats the
blend's). The gap between the two is how much the second level's CV flatters it.

Each variant is scored as a fit scores its stack: greedy selection over the first-level models and the second
level(s), cross-fitted per fold (:func:`automl.ensemble.cross_fitted_scores`), against the blend alone cross-fitted
the same way. ``<family>`` ``best`` means the best-scoring booster of the first level (what a fit copies).

    taskset -c 0 python -m benchmarks.stack_cv --shard 0/2 --out /tmp/s0.csv &
    taskset -c 1 python -m benchmarks.stack_cv --shard 1/2 --out /tmp/s1.csv
    python -m benchmarks.stack_cv --summarise /tmp/s0.csv /tmp/s1.csv
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from benchmarks.ab import POOLS, pool_tasks, tally, wtl  # noqa: E402
from benchmarks.portfolio import cv_setup  # noqa: E402
from benchmarks.report import read  # noqa: E402
from benchmarks.tasks import relative_gain, write_rows  # noqa: E402

FAMILIES = "lightgbm,catboost,xgboost,hist_gradient_boosting,extra_trees,random_forest,linear,knn"
BOOSTERS = ("lightgbm", "catboost", "xgboost", "hist_gradient_boosting")
VARIANTS = ("members/best,members/extra_trees,members/best+extra_trees,all/best,all/extra_trees,all/best+extra_trees,"
            "all/lightgbm")
FIELDS = ["table", "task", "rows", "variant", "metric", "blend", "score", "alone", "best_first", "held_blend",
          "held_score", "seconds", "error"]


def _params(family: str, task: str, y, overrides: dict | None = None):
    """The family's default parameters as a search draws them (the target transform too, for regression), with
    ``overrides``."""
    import optuna

    from automl.families.pipeline import target_spaces
    from automl.spaces import load_builtin_space

    space = load_builtin_space(family)
    if task == "regression":
        space = target_spaces("auto", task, np.asarray(y, dtype=float), {family: space})[family]
    return {**space.suggest(optuna.trial.FixedTrial(space.optuna_defaults())), **(overrides or {})}


def _model(token: str, best_booster: str) -> tuple[str, dict]:
    """A second level's family and overrides from its token: ``best``, ``<family>`` or ``<family>:<param>=<int>``."""
    family, _, override = token.partition(":")
    family = best_booster if family == "best" else family
    if not override:
        return family, {}
    name, _, value = override.partition("=")
    return family, {name: int(value)}


def _blend_score(oofs: list, y, evaluator, metric) -> float:

    from automl.ensemble import cross_fitted_scores

    scores = cross_fitted_scores([np.asarray(o)[None] for o in oofs], y, evaluator)
    return float(np.mean(scores[metric.name]))


def _setup(entry, holdout: float) -> tuple:
    """``(X, y, metric, evaluator, held)``: the table as :func:`benchmarks.portfolio.cv_setup` gives it, or, with a
    ``holdout`` share, its other rows under the same cross-validation and ``held = (X, y)`` the rows held out."""
    if not holdout:
        return (*cv_setup(entry), None)
    from sklearn.model_selection import train_test_split

    from automl.evaluation import Evaluator, default_metric, make_cv_plan
    from benchmarks.portfolio import FOLDS, SEED, _frame

    X, y, n_classes = _frame(entry)
    fit, held = train_test_split(range(len(y)), test_size=holdout, random_state=SEED,
                                 stratify=y if entry.task != "regression" else None)
    X_fit, y_fit = X.iloc[fit].reset_index(drop=True), y[fit]
    metric = default_metric(entry.task)
    splits = make_cv_plan(FOLDS, entry.task).splits(len(y_fit), y_fit, None)
    evaluator = Evaluator([metric], splits, task=entry.task, n_classes=n_classes, seed=SEED, n_jobs=1)
    return X_fit, y_fit, metric, evaluator, (X.iloc[held].reset_index(drop=True), y[held])


def _bag(result, X) -> np.ndarray:
    """The fold models' average prediction on ``X`` (the held rows)."""
    return np.mean([np.asarray(m.predict_scores(X)) for m in result.models], axis=0)


def evaluate_table(entry, families: list[str], variants: list[str], holdout: float = 0.0) -> list[dict]:
    """The first level, the blend and every variant's stack on one table (with ``holdout``: each also scored on
    the rows held out, every model there the average of its fold models)."""
    from automl.ensemble import blend as blend_of, greedy_selection
    from automl.stacking import stack_columns

    X, y, metric, evaluator, held = _setup(entry, holdout)
    first: dict[str, tuple[np.ndarray, float, np.ndarray | None]] = {}
    for family in families:
        try:
            result = evaluator.evaluate(family, _params(family, entry.task, y), X, y, keep_model=held is not None)
            first[family] = (np.asarray(result.oof), float(np.mean(result.fold_scores[metric.name])),
                             None if held is None else _bag(result, held[0]))
        except Exception as exc:  # noqa: BLE001 - a failing family is left out of the first level
            print(f"{entry.name}: {family} failed ({type(exc).__name__}: {exc})"[:200], flush=True)
    names = list(first)
    oofs = [first[n][0] for n in names]
    ranked = sorted(names, key=lambda n: first[n][1], reverse=metric.greater_is_better)
    best_booster = next((n for n in ranked if n in BOOSTERS), ranked[0])
    selection = greedy_selection(oofs, y, metric, classes=evaluator.classes)
    members = [n for n, c in zip(names, selection.counts) if c]

    def on_held(predictions: list, counts) -> float:
        return metric.compute(held[1], blend_of(predictions, np.asarray(counts, dtype=float) / np.sum(counts)))

    blend = _blend_score(oofs, y, evaluator, metric)
    base = {"table": entry.name, "task": entry.task, "rows": len(y), "metric": metric.name, "blend": blend,
            "best_first": first[ranked[0]][1]}
    if held is not None:
        base["held_blend"] = on_held([first[n][2] for n in names], selection.counts)
    rows = []
    for variant in variants:
        source, models = variant.split("/")
        used = members if source == "members" else names
        columns = stack_columns([first[n][0] for n in used], list(range(len(used))), entry.task)
        record = {**base, "variant": variant, "error": ""}
        started = time.perf_counter()
        try:
            second = []
            for token in models.split("+"):
                family, overrides = _model(token, best_booster)
                result = evaluator.evaluate(family, _params(family, entry.task, y, overrides), X.assign(**columns), y,
                                            keep_model=held is not None)
                second.append((np.asarray(result.oof), float(np.mean(result.fold_scores[metric.name])), result))
            record["alone"] = second[0][1]
            record["score"] = _blend_score(oofs + [o for o, _, _ in second], y, evaluator, metric)
            if held is not None:
                held_columns = stack_columns([first[n][2] for n in used], list(range(len(used))), entry.task)
                wide = held[0].assign(**held_columns)
                counts = greedy_selection(oofs + [o for o, _, _ in second], y, metric, classes=evaluator.classes).counts
                record["held_score"] = on_held([first[n][2] for n in names] + [_bag(r, wide) for _, _, r in second],
                                               counts)
        except Exception as exc:  # noqa: BLE001 - a failing variant is recorded, never ends the run
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        record["seconds"] = round(time.perf_counter() - started, 2)
        rows.append(record)
        held_text = "" if held is None else (f" | held blend {base['held_blend']:.5g} stack "
                                             f"{record.get('held_score', float('nan')):.5g}")
        print(f"{entry.name:24s} {variant:24s} blend {blend:.5g} stack {record.get('score', float('nan')):.5g} "
              f"alone {record.get('alone', float('nan')):.5g} best L1 {base['best_first']:.5g}{held_text} "
              f"{record['seconds']:.1f}s {record['error'][:60]}", flush=True)
    return rows


def summary(rows: list[dict]) -> list[str]:
    """One line per variant: its stack's cross-fitted score against the blend's (and on the held-out rows)."""
    lines = []
    for variant in dict.fromkeys(r["variant"] for r in rows):
        done = [r for r in rows if r["variant"] == variant and not r["error"]]
        counts, gains = tally([(r["metric"], float(r["score"]), float(r["blend"])) for r in done])
        _, alone = tally([(r["metric"], float(r["alone"]), float(r["best_first"])) for r in done])
        seconds = sum(float(r["seconds"]) for r in done)
        lines.append(f"{variant}: stack against the blend on {len(done)} tables {wtl(counts)}, {np.mean(gains):+.3f} % "
                     f"mean ({np.median(gains):+.3f} % median); the second level alone against the best first level "
                     f"{np.mean(alone):+.2f} % mean; {seconds:.0f} s")
        held = [r for r in done if str(r.get("held_score", "")) not in ("", "nan")]
        if held:
            lines.append("    on the held-out rows: " + _held(held))
    return lines


def _held(rows: list[dict]) -> str:
    """The stack against the blend on the held-out rows: always, and as a fit keeps it (its CV beats the blend's)."""
    counts, gains = tally([(r["metric"], float(r["held_score"]), float(r["held_blend"])) for r in rows])
    kept = [r for r in rows if relative_gain(r["metric"], float(r["score"]), float(r["blend"])) > 0]
    kept_counts, kept_gains = tally([(r["metric"], float(r["held_score"]), float(r["held_blend"])) for r in kept])
    return (f"always {wtl(counts)}, {np.mean(gains):+.3f} % mean ({np.median(gains):+.3f} % median); where its CV "
            f"beats the blend's ({len(kept)} tables) {wtl(kept_counts)}, "
            f"{np.sum(kept_gains) / max(len(rows), 1):+.3f} % mean over all {len(rows)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", default="both", choices=sorted(POOLS))
    parser.add_argument("--datasets", default="", help="comma-separated table names (default: all of the pool)")
    parser.add_argument("--families", default=FAMILIES)
    parser.add_argument("--variants", default=VARIANTS)
    parser.add_argument("--shard", default="0/1", help="I/N: every N-th table from the I-th (two cores: 0/2, 1/2)")
    parser.add_argument("--holdout", type=float, default=0.0,
                        help="hold out this share of each table's rows and score every variant on them too")
    parser.add_argument("--out", default="", help="CSV of every row (rewritten after each table)")
    parser.add_argument("--summarise", nargs="*", type=Path, default=None, help="only summarise these CSVs")
    args = parser.parse_args(argv)
    if args.summarise is not None:
        print("\n".join(summary(read(args.summarise))))
        return
    index, count = (int(p) for p in args.shard.split("/"))
    names = args.datasets.split(",") if args.datasets else None
    rows: list[dict] = []
    for entry in pool_tasks(args.pool, names)[index::count]:
        rows += evaluate_table(entry, args.families.split(","), args.variants.split(","), args.holdout)
        if args.out:
            write_rows(Path(args.out), FIELDS, rows)
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
