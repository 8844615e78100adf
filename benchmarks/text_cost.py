"""What a character of free text costs a fold, beside what a numeric cell costs: ``python -m benchmarks.text_cost``.

Run it pinned to one core (``taskset -c 0``). It fits one fold's pipeline (the preprocessing, then the family
with its defaults) per family, on a numeric frame (``--rows`` x ``--columns`` normal values) and on a frame of
long texts (``--text-rows`` rows of ``--words`` words drawn from 5,000, about 5.8 characters a word), and prints
the seconds (the best of ``--repeats``), the microseconds per numeric cell and per character of text, and their
ratio: the characters that cost as much as one cell. Then it encodes the text fold twice inside one
:func:`automl.data.text_cache.reuse` scope (as two trials of a search do) and prints both times.
:data:`automl.data.text.TEXT_CHARS_PER_CELL` is read from these figures (benchmarks/README.md, fiftieth session).
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd


def _canonical(frame: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    from automl._fit.problem import prepare_problem
    from automl.config import resolve_settings

    settings = resolve_settings({"tracking": False}, estimator="classifier")
    return prepare_problem(settings, frame, pd.Series(y)).X


def _best_fit(family: str, X: pd.DataFrame, y: np.ndarray, repeats: int) -> float:
    from automl.families.pipeline import FamilyPipeline

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        FamilyPipeline(family, {}, task="binary", n_classes=2).fit(X, y)
        times.append(time.perf_counter() - started)
    return min(times)


def frames(args: Any) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """``(numeric frame, its target, text frame, its target)``, canonical as a search sees them."""
    rng = np.random.default_rng(0)
    numeric = pd.DataFrame(rng.normal(size=(args.rows, args.columns)), columns=[f"x{i}" for i in range(args.columns)])
    y_numeric = (numeric["x0"] + rng.normal(size=args.rows) > 0).astype(int).to_numpy()
    vocab = np.array([f"w{i}" for i in range(5000)])
    text = pd.DataFrame({"a": rng.normal(size=args.text_rows),
                         "note": [" ".join(rng.choice(vocab, args.words)) for _ in range(args.text_rows)]})
    y_text = (text["a"] > 0).astype(int).to_numpy()
    return _canonical(numeric, y_numeric), y_numeric, _canonical(text, y_text), y_text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--text-rows", type=int, default=240)
    parser.add_argument("--words", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--families", default="lightgbm,linear,random_forest,extra_trees,hist_gradient_boosting")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    X_num, y_num, X_text, y_text = frames(args)
    cells, chars = X_num.shape[0] * X_num.shape[1], int(X_text["note"].str.len().sum())
    print(f"numeric fold: {X_num.shape[0]:,} x {X_num.shape[1]} = {cells:,} cells; "
          f"text fold: {len(X_text)} rows, {chars:,} characters ({chars / len(X_text):,.0f} a row)")
    for family in args.families.split(","):
        numeric, text = _best_fit(family, X_num, y_num, args.repeats), _best_fit(family, X_text, y_text, args.repeats)
        per_cell, per_char = numeric / cells * 1e6, text / chars * 1e6
        print(f"{family:24s} numeric {numeric:6.2f} s = {per_cell:6.2f} us/cell | text {text:5.2f} s = "
              f"{per_char:5.2f} us/char | characters costing a cell: {per_cell / per_char:6.1f}")
    from automl.data import text_cache
    from automl.data.text import TextEncoder

    with text_cache.reuse():
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            TextEncoder(task="binary").fit_transform(X_text["note"], y_text)
            seconds.append(time.perf_counter() - started)
    text_cache.clear()
    print(f"the text fold encoded twice in one search: first {seconds[0]:.2f} s, second {seconds[1]:.3f} s")


if __name__ == "__main__":
    main()
