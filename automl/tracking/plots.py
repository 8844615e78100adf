"""Plots of a search for the MLflow parent run: PNG figures, no display needed.

Every function builds a :class:`matplotlib.figure.Figure` directly (with an Agg
canvas attached), so nothing here touches pyplot or the global matplotlib
backend, and figures are freed as soon as they go out of scope. Matplotlib is
imported inside the functions, so importing this module stays cheap.

:func:`render_search_plots` writes every applicable figure of a finished search
as PNG files; the other functions each build one figure:

- :func:`optimization_history` and :func:`score_by_family` read the leaderboard
  (:func:`automl.search.leaderboard.leaderboard`),
- :func:`param_importance` reads the Optuna study,
- :func:`confusion_matrix_plot` and :func:`roc_pr_curves` read classification
  out-of-fold probabilities (encoded labels ``0..K-1``, a ``(n, K)`` matrix),
- :func:`predicted_vs_actual` and :func:`residuals_plot` read regression
  out-of-fold predictions.

Rows whose prediction is NaN (not predicted by any fold) are left out everywhere.

Example:
    >>> import numpy as np
    >>> fig = predicted_vs_actual(np.array([1.0, 2.0, 3.0]), np.array([1.1, 1.9, 3.2]))
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('actual', 'predicted')
"""

from __future__ import annotations

import logging
import math
import pathlib
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "optimization_history",
    "param_importance",
    "score_by_family",
    "confusion_matrix_plot",
    "roc_pr_curves",
    "predicted_vs_actual",
    "residuals_plot",
    "render_search_plots",
]

logger = logging.getLogger("automl")

DPI = 110
_MAX_CURVES = 10  # one-vs-rest curves drawn at most (the classes with most rows)
_MAX_SCATTER = 20_000  # points drawn at most in a scatter (a seeded sample beyond)
_ANNOTATE_MAX_CLASSES = 25  # confusion matrix cells get their count up to this many classes

# Fixed colours for the built-in families (tab10), so a family keeps its colour across plots.
_FAMILY_ORDER = ("lightgbm", "hist_gradient_boosting", "random_forest", "extra_trees", "linear", "knn", "torch_mlp")
_GREY = "0.55"


# ----------------------------------------------------------------------------- helpers


def _new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure with an Agg canvas and constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _family_colours(families: Sequence[str]) -> dict[str, Any]:
    """A stable colour per family: built-ins by their fixed slot, others after them."""
    import matplotlib

    palette = matplotlib.colormaps["tab10"].colors + matplotlib.colormaps["Dark2"].colors
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


def optimization_history(leaderboard: pd.DataFrame, metric: str, greater_is_better: bool) -> Figure:
    """CV score of every completed trial by trial number, with the best-so-far line.

    Completed trials are points coloured by family; the step line is the best
    score reached so far. Pruned and failed trials have no comparable score:
    they are small grey ``x`` marks along the edge of worse scores (bottom when
    greater is better, else top), counted in the legend. The best trial is ringed.

    Args:
        leaderboard: The search leaderboard (columns ``trial``, ``family``,
            ``state`` and ``{metric}_mean``).
        metric: Name of the search metric.
        greater_is_better: Direction of the metric (the best-so-far line is a
            running maximum or minimum).

    Returns:
        The figure (one axes, legend outside on the right).

    Example:
        >>> import pandas as pd
        >>> lb = pd.DataFrame({"trial": [0, 1, 2], "family": ["knn", "linear", "knn"],
        ...                    "state": ["complete", "complete", "pruned"], "rmse_mean": [2.0, 1.5, 3.0]})
        >>> fig = optimization_history(lb, "rmse", greater_is_better=False)
        >>> ax = fig.axes[0]
        >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
        ('Optimisation history', 'trial', 'rmse (CV mean)')
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['knn', 'linear', 'best so far (lowest)', 'best: trial 1 (1.5)', 'pruned / failed (1)']
    """
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    column = _score_column(leaderboard, metric)
    complete = _complete_rows(leaderboard, column)
    others = leaderboard[leaderboard["state"].isin(["pruned", "fail"])]

    fig = _new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    ax.set_title("Optimisation history")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric} (CV mean)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)

    if complete.empty:
        _no_data(ax, "no completed trials")
    else:
        colours = _family_colours(complete["family"].astype(str).tolist())
        for family, rows in complete.groupby(complete["family"].astype(str), sort=True):
            ax.scatter(rows["trial"], rows["_score"], s=28, color=colours[family], label=family, zorder=3,
                       edgecolors="white", linewidths=0.5)
        scores = complete["_score"].to_numpy()
        best = np.maximum.accumulate(scores) if greater_is_better else np.minimum.accumulate(scores)
        trials = complete["trial"].to_numpy()
        last = int(max(trials.max(), leaderboard["trial"].max()))
        ax.step(np.append(trials, last), np.append(best, best[-1]), where="post", color="0.15", linewidth=1.4,
                label=f"best so far ({'highest' if greater_is_better else 'lowest'})", zorder=2)
        at = int(np.argmax(scores) if greater_is_better else np.argmin(scores))
        ax.scatter([trials[at]], [scores[at]], s=110, facecolors="none", edgecolors="0.1", linewidths=1.2, zorder=4,
                   label=f"best: trial {int(trials[at])} ({scores[at]:.4g})")
    if len(others):
        # No comparable score: marks along the edge of worse scores, away from the best-so-far line.
        edge = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(others["trial"].to_numpy(), np.full(len(others), 0.03 if greater_is_better else 0.97),
                transform=edge, linestyle="none", marker="x", markersize=5, color=_GREY, zorder=4,
                label=f"pruned / failed ({len(others)})")
    _outside_legend(ax, fontsize="small", title="family", title_fontsize="small")
    return fig


def param_importance(study: Any, top: int = 15) -> Figure | None:
    """Horizontal bars of Optuna's hyperparameter importances.

    Uses :func:`optuna.importance.get_param_importances` with its default
    evaluator (PED-ANOVA in Optuna 5), which scores conditional parameters such
    as ``lightgbm__num_leaves`` as well as ``family``. The evaluator's name is
    in the title; a family's parameters share the family's colour.

    Args:
        study: A finished Optuna study.
        top: Show at most this many parameters (the most important ones;
            parameters of importance 0 are left out and counted in a note).

    Returns:
        The figure, or ``None`` when the study has fewer than 2 complete trials,
        no parameter to assess, or Optuna cannot compute importances.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize")
        >>> dists = {"family": optuna.distributions.CategoricalDistribution(["knn", "linear"]),
        ...          "x": optuna.distributions.FloatDistribution(0.0, 1.0)}
        >>> for i in range(12):
        ...     family = ["knn", "linear"][i % 2]
        ...     study.add_trial(optuna.trial.create_trial(
        ...         params={"family": family, "x": i / 12}, distributions=dists,
        ...         value=i / 12 + (family == "linear")))
        >>> fig = param_importance(study)
        >>> fig.axes[0].get_title()
        'Hyperparameter importance (PED-ANOVA)'
        >>> param_importance(optuna.create_study()) is None
        True
    """
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # Optuna's experimental and too-few-trials warnings: not the user's concern
        try:
            evaluator = optuna.importance.PedAnovaImportanceEvaluator()
            importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except Exception as error:  # noqa: BLE001 - Optuna raises several kinds for degenerate studies
            logger.debug("Parameter importances unavailable: %s", error)
            return None
    importances = {k: float(v) for k, v in importances.items() if np.isfinite(v)}
    if not importances:
        return None
    equal = any("will be equal" in str(w.message) for w in caught)

    ranked = sorted(importances.items(), key=lambda kv: kv[1], reverse=True)
    nonzero = [kv for kv in ranked if kv[1] > 0]
    items = (nonzero or ranked)[: max(int(top), 1)]
    hidden = len(ranked) - len(items)
    names = [name for name, _ in items][::-1]  # most important at the top
    values = np.array([value for _, value in items][::-1])

    fig = _new_figure(7.5, 1.2 + 0.32 * len(names))
    ax = fig.add_subplot()
    families = {name: name.split("__", 1)[0] for name in names if "__" in name}
    palette = _family_colours(list(families.values()))
    colours = [palette[families[name]] if name in families else "0.35" for name in names]
    bars = ax.barh(np.arange(len(names)), values, color=colours, height=0.7)
    ax.set_yticks(np.arange(len(names)), names, fontsize="small")
    ax.set_xlim(0, max(1e-9, float(values.max())) * 1.18)
    texts = [f"{v:.2f}" if v >= 0.01 or v == 0 else f"{v:.1g}" for v in values]
    ax.bar_label(bars, labels=texts, padding=3, fontsize="x-small")
    ax.set_title("Hyperparameter importance (PED-ANOVA)")
    ax.set_xlabel(f"importance (normalised to sum 1, {len(complete)} complete trials)")
    ax.grid(True, axis="x", alpha=0.3)
    notes = []
    if equal:
        notes.append("too few trials: importances are equal")
    if hidden:
        zero = len(ranked) - len(nonzero) if nonzero else 0
        notes.append(f"{hidden} more not shown" + (f" ({zero} with importance 0)" if zero else ""))
    if notes:
        ax.text(0.99, 0.02, "\n".join(notes), transform=ax.transAxes, ha="right", va="bottom", fontsize="small",
                color=_GREY)
    return fig


def score_by_family(leaderboard: pd.DataFrame, metric: str, greater_is_better: bool) -> Figure:
    """Distribution of the CV score of completed trials per family.

    A horizontal box per family with every trial as a point on it; the best
    family (by its best trial) is at the top, and each label carries the number
    of completed trials, e.g. ``lightgbm (n=7)``.

    Args:
        leaderboard: The search leaderboard.
        metric: Name of the search metric (``{metric}_mean`` is plotted).
        greater_is_better: Direction of the metric (orders the families).

    Returns:
        The figure.

    Example:
        >>> import pandas as pd
        >>> lb = pd.DataFrame({"trial": [0, 1, 2], "family": ["knn", "linear", "knn"],
        ...                    "state": ["complete"] * 3, "roc_auc_mean": [0.8, 0.9, 0.85]})
        >>> ax = score_by_family(lb, "roc_auc", greater_is_better=True).axes[0]
        >>> ax.get_title(), ax.get_xlabel()
        ('Score by family', 'roc_auc (CV mean)')
        >>> [t.get_text() for t in ax.get_yticklabels()]
        ['knn (n=2)', 'linear (n=1)']
    """
    column = _score_column(leaderboard, metric)
    complete = _complete_rows(leaderboard, column)
    groups = {str(f): rows["_score"].to_numpy() for f, rows in complete.groupby(complete["family"].astype(str))}
    order = sorted(groups, key=lambda f: (groups[f].max() if greater_is_better else -groups[f].min()))
    # Worst first, so the best family ends up at the top of a horizontal plot.

    fig = _new_figure(7.5, 1.4 + 0.55 * max(len(order), 1))
    ax = fig.add_subplot()
    ax.set_title("Score by family")
    ax.set_xlabel(f"{metric} (CV mean)")
    if not order:
        _no_data(ax, "no completed trials")
        return fig
    colours = _family_colours(order)
    positions = np.arange(1, len(order) + 1)
    boxes = ax.boxplot([groups[f] for f in order], positions=positions, orientation="horizontal", widths=0.6,
                       showfliers=False, patch_artist=True, medianprops={"color": "0.15"})
    for patch, family in zip(boxes["boxes"], order, strict=True):
        patch.set_facecolor(colours[family])
        patch.set_alpha(0.35)
    rng = np.random.default_rng(0)
    for pos, family in zip(positions, order, strict=True):
        values = groups[family]
        jitter = rng.uniform(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(values, pos + jitter, s=16, color=colours[family], edgecolors="white", linewidths=0.4, zorder=3)
    ax.set_yticks(positions, [f"{f} (n={len(groups[f])})" for f in order])
    ax.set_ylim(0.4, len(order) + 0.6)
    ax.grid(True, axis="x", alpha=0.3)
    ax.text(1.0, 1.0, f"{'higher' if greater_is_better else 'lower'} is better", transform=ax.transAxes,
            ha="right", va="bottom", fontsize="small", color=_GREY)
    return fig


# ----------------------------------------------------------------------------- classification plots


def confusion_matrix_plot(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> Figure:
    """Confusion matrix of the most probable class: counts in the cells, colour by row share.

    Up to 25 classes, cells carry their count (text artists with gid
    ``"count"``); up to 8 classes, also their share of the row, i.e. of the
    true class (gid ``"share"``).

    Args:
        y_true: Encoded labels ``0..K-1``.
        proba: Probabilities, shape ``(n, K)``; rows containing NaN (not
            predicted by any fold) are skipped.
        classes: Class names in encoded order (axis tick labels).

    Returns:
        The figure (rows are the true class, columns the predicted class).

    Example:
        >>> import numpy as np
        >>> proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [np.nan, np.nan]])
        >>> ax = confusion_matrix_plot(np.array([0, 1, 1, 0]), proba, ["no", "yes"]).axes[0]
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('predicted', 'true')
        >>> [t.get_text() for t in ax.texts if t.get_gid() == "count"]  # row by row
        ['1', '0', '1', '1']
    """
    from matplotlib.colors import Normalize

    y, p = _classification_rows(y_true, proba)
    names = [_label(c) for c in classes]
    k = len(names)
    if p.shape[1] != k:
        raise ValueError(f"proba has {p.shape[1]} columns but there are {k} classes.")
    predicted = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (y, predicted), 1)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros((k, k)), where=totals > 0)

    size = min(max(4.5, 0.55 * k + 2.5), 16.0)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", norm=Normalize(0.0, 1.0), interpolation="nearest", aspect="equal")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class (row)")
    ticks = np.arange(k)
    long_names = k > 6 or max((len(n) for n in names), default=0) > 8
    ax.set_xticks(ticks, names, rotation=45 if long_names else 0, ha="right" if long_names else "center",
                  rotation_mode="anchor")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = float(np.trace(counts) / counts.sum()) if counts.sum() else math.nan
    ax.set_title(f"Confusion matrix (n={int(counts.sum())}, accuracy {accuracy:.3f})")
    if k <= _ANNOTATE_MAX_CLASSES:
        fontsize = "medium" if k <= 8 else "small" if k <= 15 else "x-small"
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{counts[i, j]:d}", ha="center", va="bottom" if k <= 8 else "center",
                        fontsize=fontsize, color="white" if share[i, j] > 0.55 else "0.1", gid="count")
                if k <= 8:  # the row share the colour encodes, under the count
                    ax.annotate(f"{share[i, j]:.0%}", (j, i), xytext=(0, -2), textcoords="offset points",
                                ha="center", va="top", fontsize="x-small",
                                color="white" if share[i, j] > 0.55 else "0.35", gid="share")
    return fig


def _curve_classes(y: np.ndarray, k: int) -> list[int]:
    """Classes that get a one-vs-rest curve: binary -> [1]; else up to 10, most rows first."""
    if k == 2:
        return [1]
    support = np.bincount(y, minlength=k)
    order = sorted(range(k), key=lambda c: (-support[c], c))
    return order[:_MAX_CURVES]


def roc_pr_curves(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> Figure:
    """ROC and precision-recall curves side by side.

    Binary: one curve for the positive class ``classes[1]``. Multiclass: one
    one-vs-rest curve per class (the 10 classes with most rows when there are
    more). Legends hold the AUC and the average precision, and sit under the
    panels so they never hide a curve.

    Args:
        y_true: Encoded labels ``0..K-1``.
        proba: Probabilities, shape ``(n, K)``; rows containing NaN are skipped.
        classes: Class names in encoded order.

    Returns:
        The figure (two axes: ROC, then precision-recall).

    Example:
        >>> import numpy as np
        >>> proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
        >>> fig = roc_pr_curves(np.array([0, 1, 0, 1]), proba, ["no", "yes"])
        >>> [ax.get_title() for ax in fig.axes]
        ['ROC curve', 'Precision-recall curve']
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['yes (AUC = 1.000)', 'chance']
    """
    import matplotlib
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    y, p = _classification_rows(y_true, proba)
    names = [_label(c) for c in classes]
    k = len(names)
    if p.shape[1] != k:
        raise ValueError(f"proba has {p.shape[1]} columns but there are {k} classes.")
    chosen = _curve_classes(y, k)
    palette = matplotlib.colormaps["tab10"].colors

    fig = _new_figure(11.0, 5.4 if len(chosen) <= 3 else 6.2)
    roc_ax, pr_ax = fig.subplots(1, 2)
    skipped = []
    for slot, c in enumerate(chosen):
        target = (y == c).astype(int)
        positives = int(target.sum())
        if positives == 0 or positives == len(target):
            skipped.append(names[c])
            continue
        colour = palette[slot % len(palette)]
        fpr, tpr, _ = roc_curve(target, p[:, c])
        roc_ax.plot(fpr, tpr, color=colour, linewidth=1.6, label=f"{names[c]} (AUC = {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(target, p[:, c])
        ap = average_precision_score(target, p[:, c])
        pr_ax.plot(recall, precision, color=colour, linewidth=1.6, drawstyle="steps-post",
                   label=f"{names[c]} (AP = {ap:.3f})" if len(chosen) <= 3 else
                   f"{names[c]} (AP = {ap:.3f}, prevalence {positives / len(target):.2f})")
        prevalence = positives / len(target)
        if len(chosen) == 1:
            label = f"prevalence = {prevalence:.2f}"
        elif len(chosen) <= 3:
            label = f"{names[c]} prevalence = {prevalence:.2f}"
        else:  # many classes: prevalence lines stay, unlabelled, to keep the legend short
            label = None
        pr_ax.axhline(prevalence, color=colour, linestyle=":", linewidth=1.0, alpha=0.8 if label else 0.5,
                      label=label)
    roc_ax.plot([0, 1], [0, 1], color=_GREY, linestyle="--", linewidth=1.0, label="chance")

    roc_ax.set_title("ROC curve")
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate")
    pr_ax.set_title("Precision-recall curve")
    pr_ax.set_xlabel("recall")
    pr_ax.set_ylabel("precision")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)  # no equal aspect: with legends below it fights constrained layout
        ax.grid(True, alpha=0.3)
    ncols = 1 if len(chosen) <= 3 else 2
    _below_legend(roc_ax, ncols=ncols)
    _below_legend(pr_ax, ncols=ncols)
    notes = []
    if k > 2:
        notes.append(f"one-vs-rest, the {len(chosen)} of {k} classes with most rows" if len(chosen) < k else
                     "one-vs-rest per class")
        if len(chosen) > 3:
            notes.append("dotted lines: class prevalence")
    if skipped:
        notes.append(f"no curve for {', '.join(skipped)} (one class only)")
    if notes:
        _add_note(fig, "; ".join(notes))
    return fig


# ----------------------------------------------------------------------------- regression plots


def _regression_summary(y: np.ndarray, p: np.ndarray) -> str:
    residual = y - p
    rmse = float(np.sqrt(np.mean(residual**2)))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else math.nan
    return f"n={len(y)}, RMSE={rmse:.4g}, R²={r2:.3f}"


def predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    """Predicted against actual values, with the identity line ``predicted = actual``.

    Args:
        y_true: Actual values.
        y_pred: Predictions; NaN rows (not predicted by any fold) are skipped.

    Returns:
        The figure (square axes, the same range on both).

    Example:
        >>> import numpy as np
        >>> ax = predicted_vs_actual(np.array([1.0, 2.0, 3.0]), np.array([1.2, np.nan, 2.7])).axes[0]
        >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
        ('Predicted vs actual', 'actual', 'predicted')
    """
    y, p = _regression_rows(y_true, y_pred)
    fig = _new_figure(5.8, 5.8)
    ax = fig.add_subplot()
    ax.set_title("Predicted vs actual")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    if not len(y):
        _no_data(ax, "no predictions")
        return fig
    rows = _sample(len(y))
    alpha = float(np.clip(60.0 / np.sqrt(len(rows)), 0.15, 0.8))
    label = _regression_summary(y, p) + (f" ({len(rows)} drawn)" if len(rows) < len(y) else "")
    ax.scatter(y[rows], p[rows], s=12, alpha=alpha, color="#4c72b0", edgecolors="none", label=label)
    lo, hi = _finite_limits(np.concatenate([y, p]))
    ax.plot([lo, hi], [lo, hi], color="0.25", linestyle="--", linewidth=1.0, label="predicted = actual")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")  # the corner a useful model leaves empty
    return fig


def residuals_plot(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    """Residuals against predictions (with a zero line), and their histogram beside them.

    Args:
        y_true: Actual values.
        y_pred: Predictions; NaN rows are skipped.

    Returns:
        The figure (two axes sharing the residual axis: scatter, then histogram).

    Example:
        >>> import numpy as np
        >>> fig = residuals_plot(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.1, 1.8, 3.3, 3.9]))
        >>> [ax.get_title() for ax in fig.axes]
        ['Residuals vs predicted', 'Residual distribution']
        >>> fig.axes[0].get_ylabel()
        'residual (actual − predicted)'
    """
    y, p = _regression_rows(y_true, y_pred)
    fig = _new_figure(10.0, 4.8)
    scatter_ax, hist_ax = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    scatter_ax.set_title("Residuals vs predicted")
    scatter_ax.set_xlabel("predicted")
    scatter_ax.set_ylabel("residual (actual − predicted)")
    hist_ax.set_title("Residual distribution")
    hist_ax.set_xlabel("rows")
    if not len(y):
        _no_data(scatter_ax, "no predictions")
        return fig
    residual = y - p
    rows = _sample(len(y))
    alpha = float(np.clip(60.0 / np.sqrt(len(rows)), 0.15, 0.8))
    scatter_ax.scatter(p[rows], residual[rows], s=12, alpha=alpha, color="#4c72b0", edgecolors="none",
                       label=_regression_summary(y, p))
    scatter_ax.axhline(0.0, color="0.25", linestyle="--", linewidth=1.0, label="zero residual")
    scatter_ax.set_xlim(*_finite_limits(p))
    scatter_ax.set_ylim(*_finite_limits(np.append(residual, 0.0)))
    scatter_ax.grid(True, alpha=0.3)
    bins = int(np.clip(np.sqrt(len(residual)), 5, 60))
    hist_ax.hist(residual, bins=bins, range=_finite_limits(residual), orientation="horizontal",
                 color="#4c72b0", alpha=0.7)
    hist_ax.axhline(0.0, color="0.25", linestyle="--", linewidth=1.0)
    hist_ax.grid(True, axis="x", alpha=0.3)
    hist_ax.tick_params(labelleft=False)
    _below_legend(scatter_ax, ncols=2)
    return fig


# ----------------------------------------------------------------------------- driver


def render_search_plots(
    leaderboard: pd.DataFrame | None,
    study: Any,
    metric_name: str,
    greater_is_better: bool,
    task: str,
    y_true: np.ndarray | None,
    oof: np.ndarray | None,
    classes: Sequence[Any] | None,
    out_dir: str | pathlib.Path,
) -> list[pathlib.Path]:
    """Write every applicable plot of a search as PNG into ``out_dir``.

    Files: ``optimization_history.png``, ``param_importance.png`` and
    ``score_by_family.png`` from the search, then ``confusion_matrix.png`` and
    ``roc_pr_curves.png`` (classification) or ``predicted_vs_actual.png`` and
    ``residuals.png`` (regression) from the best trial's out-of-fold
    predictions. A plot whose input is empty or ``None`` is skipped (no file).
    A plot that fails is logged as a warning on the ``automl`` logger and
    skipped; this function does not raise for plotting problems.

    Args:
        leaderboard: The search leaderboard, or ``None``.
        study: The Optuna study, or ``None``.
        metric_name: Name of the search metric.
        greater_is_better: Direction of the search metric.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: Encoded labels (classification) or values (regression), or ``None``.
        oof: Out-of-fold predictions of the best trial: ``(n, K)`` probabilities
            or ``(n,)`` values, or ``None``.
        classes: Class names in encoded order (classification), else ``None``.
        out_dir: Folder to write into (created if missing).

    Returns:
        The paths written, in the order above.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> y = np.array([1.0, 2.0, 3.0, 4.0])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     paths = render_search_plots(None, None, "rmse", False, "regression", y, y + 0.1, None, tmp)
        ...     [p.name for p in paths]
        ['predicted_vs_actual.png', 'residuals.png']
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, Any]] = []
    if leaderboard is not None and "trial" in leaderboard.columns:
        leaderboard = leaderboard[leaderboard["trial"].notna()]  # the trials (not the ensemble's row)

    has_complete = (
        leaderboard is not None
        and len(leaderboard) > 0
        and "state" in leaderboard.columns
        and bool((leaderboard["state"] == "complete").any())
    )
    if has_complete:
        jobs.append(("optimization_history.png", lambda: optimization_history(leaderboard, metric_name,
                                                                                greater_is_better)))
    if study is not None:
        jobs.append(("param_importance.png", lambda: param_importance(study)))
    if has_complete:
        jobs.append(("score_by_family.png", lambda: score_by_family(leaderboard, metric_name, greater_is_better)))

    has_oof = y_true is not None and oof is not None and len(y_true) > 0 and np.size(oof) > 0
    if has_oof and task in ("binary", "multiclass"):
        if classes is None or len(classes) == 0:
            classes = list(range(np.shape(oof)[1] if np.ndim(oof) == 2 else 2))
        jobs.append(("confusion_matrix.png", lambda: confusion_matrix_plot(y_true, oof, classes)))
        jobs.append(("roc_pr_curves.png", lambda: roc_pr_curves(y_true, oof, classes)))
    elif has_oof and task == "regression":
        jobs.append(("predicted_vs_actual.png", lambda: predicted_vs_actual(y_true, oof)))
        jobs.append(("residuals.png", lambda: residuals_plot(y_true, oof)))

    oof_names = {"confusion_matrix.png", "roc_pr_curves.png", "predicted_vs_actual.png", "residuals.png"}
    written: list[pathlib.Path] = []
    for name, build in jobs:
        path = out / name
        try:
            fig = build()
            if fig is None:
                continue
            if name in oof_names:
                _add_note(fig, "out-of-fold predictions of the best trial")
            fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
        except Exception as error:  # noqa: BLE001 - one bad plot must not stop the others or the run
            logger.warning("Could not draw %s: %s: %s", name, type(error).__name__, error)
            continue
        written.append(path)
    return written
