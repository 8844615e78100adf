"""The final model's explanation on the parent run: a table and a plot of each input column's
mean absolute contribution (``model.explain``) over a sample of the training rows.

The rows are a seeded sample of the training frame (:data:`ROWS` at most, fewer for wide data, so
the estimate of the families without an exact method stays bounded); the background of the
estimate is a sample of the same rows. It runs after the fit, before the tracking deadline: it is
left out (and named on the run) when fewer than :data:`EXPLAIN_SECONDS` are left.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, -3.0], "b": [0.5, 0.5], "base_value": [0.2, 0.2]})
    >>> summary_table(frame).values.tolist()
    [['a', 2.0, -1.0], ['b', 0.5, 0.5]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["EXPLAIN_SECONDS", "ROWS", "summary_table", "write_explanations"]

#: Seconds the explanation is expected to take; it is left out when less time is left before the deadline.
EXPLAIN_SECONDS = 10.0
#: Training rows explained at most.
ROWS = 200
_TOP = 20  # columns drawn in the plot


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute and mean contribution of each input column, largest mean absolute first."""
    contributions = frame.drop(columns=[c for c in ("base_value", "class") if c in frame.columns])
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


def write_explanations(estimator: Any, X: pd.DataFrame, folder: Path, *, plot: bool = True) -> list[str]:
    """Explain a sample of ``X`` with ``estimator``; write ``importance.csv`` (and ``importance.png``).

    Returns:
        The names of the files written.
    """
    width = max(1, len(estimator.schema_.names))
    rows = X.sample(min(len(X), max(20, min(ROWS, 4000 // width))), random_state=0)
    frame = estimator.explain(rows, n_background=50, n_permutations=4, random_state=0)
    table = summary_table(frame).assign(output=frame.attrs.get("output", ""), method=frame.attrs.get("method", ""))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "importance.csv", index=False)
    written = ["importance.csv"]
    if plot:
        _plot(table, str(frame.attrs.get("output", "output")), folder / "importance.png")
        written.append("importance.png")
    return written
