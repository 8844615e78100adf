"""The final model's explanation on the parent run: a table and a plot of each input column's
mean absolute contribution (``model.explain``) over a sample of the training rows.

The rows are a seeded sample of the training frame (:data:`ROWS` at most, fewer for wide data, so
the estimate of the families without an exact method stays bounded); the background of the
estimate is a sample of the same rows. It runs after the fit, before the tracking deadline: it is
left out (an extra: the run stays complete) for image models and when fewer than :data:`EXPLAIN_SECONDS`
are left, and it explains
the rows :data:`CHUNK_ROWS` at a time, stopping before a chunk that would end past the deadline or
past :data:`EXPLAIN_MAX_SECONDS` (the table then says how many rows it covers): the explanation
of a slow model never moves the end of the fit.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, -3.0], "b": [0.5, 0.5], "base_value": [0.2, 0.2]})
    >>> summary_table(frame).values.tolist()
    [['a', 2.0, -1.0], ['b', 0.5, 0.5]]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["CHUNK_ROWS", "EXPLAIN_MAX_SECONDS", "EXPLAIN_SECONDS", "ROWS", "summary_table", "write_explanations"]

#: Seconds that must be left before the deadline for the explanation to start (else it is left out).
EXPLAIN_SECONDS = 3.0
#: Training rows explained at most.
ROWS = 200
#: Rows explained at a time (each chunk's contributions are complete: the table covers whole rows).
CHUNK_ROWS = 20
#: Seconds spent explaining at most, even without a deadline (a fit given ``n_trials`` only).
EXPLAIN_MAX_SECONDS = 10.0
_TOP = 20  # columns drawn in the plot


def summary_table(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Mean absolute and mean contribution of each input column (``columns``; default: all but
    ``base_value`` and ``class``), largest mean absolute first."""
    if columns is None:
        columns = [c for c in frame.columns if c not in ("base_value", "class")]
    contributions = frame[list(columns)]
    return pd.DataFrame({
        "feature": list(contributions.columns),
        "mean_abs_contribution": contributions.abs().mean().to_numpy(),
        "mean_contribution": contributions.mean().to_numpy(),
    }).sort_values("mean_abs_contribution", ascending=False, kind="stable").reset_index(drop=True)


def _plot(table: pd.DataFrame, output: str, path: Path) -> None:
    from automl.tracking.plot_style import DPI, _new_figure

    shown = table.head(_TOP).iloc[::-1]
    fig = _new_figure(7.0, 1.2 + 0.3 * len(shown))
    ax = fig.add_subplot()
    ax.barh([str(f) for f in shown["feature"]], shown["mean_abs_contribution"], color="tab:blue")
    ax.set_xlabel(f"mean |contribution| to the {output}")
    ax.set_title("Input columns by mean absolute contribution (training rows)")
    fig.savefig(path, dpi=DPI)


def _explained(estimator: Any, rows: pd.DataFrame, background: pd.DataFrame, stop_at: float) -> pd.DataFrame:
    """``rows`` explained a chunk at a time (:data:`CHUNK_ROWS`, fewer for wide data: an estimate's cost
    grows with rows × columns) while the next chunk, timed as the slowest so far, still ends before
    ``stop_at``; at least one chunk."""
    parts: list[pd.DataFrame] = []
    slowest = 0.0
    chunk = max(1, min(CHUNK_ROWS, 10 * CHUNK_ROWS // max(1, rows.shape[1])))
    for start in range(0, len(rows), chunk):
        if parts and time.monotonic() + slowest > stop_at:
            break
        began = time.monotonic()
        parts.append(estimator.explain(rows.iloc[start:start + chunk], background=background,
                                       n_background=len(background), n_permutations=4, random_state=0))
        slowest = max(slowest, time.monotonic() - began)
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs = dict(parts[0].attrs)
    return frame


def write_explanations(estimator: Any, X: pd.DataFrame, folder: Path, *, plot: bool = True,
                       deadline: float | None = None) -> list[str]:
    """Explain a sample of ``X`` with ``estimator``; write ``importance.csv`` (and ``importance.png``).

    Args:
        estimator: The fitted estimator.
        X: Training rows (input columns).
        folder: Where the files go.
        plot: Draw the plot too.
        deadline: Monotonic time the explanation must end by (see the module docstring).

    Returns:
        The names of the files written.
    """
    width = max(1, len(estimator.schema_.names))
    rows = X.sample(min(len(X), max(CHUNK_ROWS, min(ROWS, 4000 // width))), random_state=0)
    background = X.sample(min(len(X), 50), random_state=1)
    stop_at = time.monotonic() + EXPLAIN_MAX_SECONDS
    if deadline is not None:
        stop_at = min(stop_at, deadline)
    frame = _explained(estimator, rows, background, stop_at)
    table = summary_table(frame, list(estimator.schema_.names)).assign(output=frame.attrs.get("output", ""), method=frame.attrs.get("method", ""),
                                        rows=len(frame))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "importance.csv", index=False)
    written = ["importance.csv"]
    if plot:
        _plot(table, str(frame.attrs.get("output", "output")), folder / "importance.png")
        written.append("importance.png")
    return written
