"""Where a fit's time goes after its search: each final stage timed from outside, on the scale benchmark's frame.

    taskset -c 0 python -m benchmarks.stage_clock --rows 1000000 --budget 300
    taskset -c 0 python -m benchmarks.stage_clock --selection --rows 100000 --candidates 20

The first form fits ``automl`` with its defaults (one job, tracking off) on ``benchmarks.scale``'s synthetic frame
and prints, from the fit's start, automl's INFO log (each trial's end, each stage) and the entry and exit of the
final stages (the best trial's refit, ensemble planning, each greedy selection and cross-fitted score, each member's
refit, the report), wrapped with timers in this process. The forty-fifth session read with it why a 300 s fit on
1,000,000 rows ended at 328-334 s: ensemble selection run again and again on the holdout after the refit. The
second form times one ``greedy_selection`` (40 rounds, ROC AUC) over ``--candidates`` synthetic binary predictions
of ``--rows`` rows, as the ensemble does on a holdout that size.
"""

from __future__ import annotations

import argparse
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

_START = [0.0]


def _now() -> float:
    return time.perf_counter() - _START[0]


def _timed(owner: Any, name: str, label: str | None = None) -> None:
    """Replace ``owner.name`` with the same callable printing its entry and its exit with the seconds it took."""
    function: Callable[..., Any] = getattr(owner, name)
    shown = label or f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        print(f"{_now():7.1f} >> {shown}", flush=True)
        try:
            return function(*args, **kwargs)
        finally:
            print(f"{_now():7.1f} << {shown} {time.perf_counter() - began:.1f}s", flush=True)

    setattr(owner, name, wrapper)


def stage_clock(rows: int, budget: float, seed: int) -> None:
    """Fit on the scale frame and print the timeline of its final stages."""
    import automl
    import automl._fit.refit as refit
    import automl._fit.run as run
    import automl.ensemble as ensemble
    from benchmarks.scale import synthetic

    frame = synthetic(rows, seed)

    class _Clock(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return f"{_now():7.1f} {record.name}: {record.getMessage()}"

    handler = logging.StreamHandler()
    handler.setFormatter(_Clock())
    logging.getLogger("automl").addHandler(handler)
    logging.getLogger("automl").setLevel(logging.INFO)
    for owner, name in [(run, "build_final_model"), (run, "build_report"), (refit, "_single"),
                        (refit, "_ensemble"), (refit, "plan_ensemble"), (refit, "_stack_first"), (refit, "_calibrate"),
                        (ensemble, "greedy_selection"), (ensemble, "cross_fitted_scores")]:
        _timed(owner, name)
    _timed(refit._Refitter, "refit", "member refit")
    _START[0] = time.perf_counter()
    model = automl.fit(frame, target="y", time_budget=budget, n_jobs=1, tracking=False)
    print(f"{_now():7.1f} fit done: {model.model_source_}")


def selection_seconds(rows: int, candidates: int, seed: int) -> float:
    """Seconds of one greedy selection (40 rounds, ROC AUC) over ``candidates`` binary predictions of ``rows`` rows."""
    from automl.ensemble import greedy_selection
    from automl.evaluation import get_metric

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    oofs = []
    for _ in range(candidates):
        p = np.clip(0.3 * y + rng.normal(0.35, 0.25, rows), 0.001, 0.999)
        oofs.append(np.c_[1 - p, p].astype("float32"))
    began = time.perf_counter()
    greedy_selection(oofs, y, get_metric("roc_auc", "binary"), rounds=40)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the frame (default 1,000,000)")
    parser.add_argument("--budget", type=float, default=300.0, help="the fit's time_budget in seconds (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the frame (default 0)")
    parser.add_argument("--selection", action="store_true", help="time one greedy selection instead of a fit")
    parser.add_argument("--candidates", type=int, default=20, help="candidates of --selection (default 20)")
    args = parser.parse_args(argv)
    if args.selection:
        seconds = selection_seconds(args.rows, args.candidates, args.seed)
        print(f"greedy selection, {args.candidates} candidates x 40 rounds on {args.rows:,} rows: {seconds:.1f} s")
    else:
        stage_clock(args.rows, args.budget, args.seed)


if __name__ == "__main__":
    main()
