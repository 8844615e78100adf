"""What the plots share: figure making, family colours, legends, sampling and the rows a plot can use.

Example:
    >>> _sample(5).tolist()
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
_MAX_CURVES = 10  # one-vs-rest curves drawn at most (the classes with most rows)
_MAX_SCATTER = 20_000  # points drawn at most in a scatter (a seeded sample beyond)
_ANNOTATE_MAX_CLASSES = 25  # confusion matrix cells get their count up to this many classes

# Fixed colours for the built-in families (tab10), so a family keeps its colour across plots.
_FAMILY_ORDER = ("lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "linear", "knn", "torch_mlp",
                 "catboost", "xgboost", "tabm")
_GREY = "0.55"


def _new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _family_colours(families: Sequence[str]) -> dict[str, Any]:
    """A stable colour per family: built-ins by their fixed slot, others after them."""

    palette = _colours("tab10") + _colours("Dark2")
    colours: dict[str, Any] = {}
    extra = len(_FAMILY_ORDER)
    for family in sorted(set(families), key=str):
        if family in _FAMILY_ORDER:
            colours[family] = palette[_FAMILY_ORDER.index(family)]
        else:
            colours[family] = palette[extra % len(palette)]
            extra += 1
    return colours


def _score_column(leaderboard: pd.DataFrame, metric: str) -> str:
    column = f"{metric}_mean"
    if column not in leaderboard.columns:
        raise ValueError(
            f"The leaderboard has no column {column!r} for metric {metric!r}; "
            f"its columns are {list(leaderboard.columns)}."
        )
    return column


def _complete_rows(leaderboard: pd.DataFrame, column: str) -> pd.DataFrame:
    """Completed trials with a finite score, in trial order."""
    rows = leaderboard[leaderboard["state"] == "complete"]
    scores = pd.to_numeric(rows[column], errors="coerce").astype(float)
    rows = rows.assign(_score=scores)[np.isfinite(scores.to_numpy())]
    return rows.sort_values("trial")


def _label(value: Any) -> str:
    return str(value)


def _outside_legend(ax: Axes, **kwargs: Any) -> None:
    """A legend to the right of the axes, so it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def _below_legend(ax: Axes, ncols: int = 1) -> None:
    """A legend under the axes (below the tick labels and x label), so it never hides data."""
    from matplotlib.transforms import ScaledTranslation

    handles, labels = ax.get_legend_handles_labels()
    if handles:
        below = ax.transAxes + ScaledTranslation(0.0, -36 / 72, ax.figure.dpi_scale_trans)
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
                  ncols=ncols, fontsize="small")


def _finite_limits(values: np.ndarray) -> tuple[float, float]:
    """Data limits padded by 5 %, never empty (a constant gets a unit window)."""
    lo, hi = float(np.min(values)), float(np.max(values))
    if not hi > lo:
        return lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _sample(n: int, limit: int = _MAX_SCATTER) -> np.ndarray:
    """Row indices to draw: all of them, or a seeded sample of ``limit``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def _classification_rows(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    """Encoded labels and a 2-D probability matrix, restricted to rows that were predicted."""
    y = np.asarray(y_true).astype(int, copy=False).ravel()
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:  # a binary score for the positive class
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"proba must be (n, K) with n = len(y_true) = {len(y)}; got shape {np.shape(proba)}.")
    keep = np.isfinite(p).all(axis=1)
    return y[keep], p[keep]


def _regression_rows(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_pred, dtype=float).ravel()
    if len(y) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(y)} and {len(p)}.")
    keep = np.isfinite(y) & np.isfinite(p)
    return y[keep], p[keep]


def _add_note(fig: Figure, note: str) -> None:
    """Append a small grey line to the figure's super-title (constrained layout makes room)."""
    current = fig.get_suptitle()
    fig.suptitle(f"{current}; {note}" if current else note, fontsize="small", color="0.35")


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color=_GREY)
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- search plots



def _colours(name: str) -> tuple[Any, ...]:
    """The colours of a listed matplotlib colormap."""
    import matplotlib

    return tuple(getattr(matplotlib.colormaps[name], "colors", ()))
