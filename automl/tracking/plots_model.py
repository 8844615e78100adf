"""Plots of the best trial's out-of-fold predictions: confusion matrix, ROC and PR curves, predicted
against actual values and residuals (rows no fold predicted are left out).

Example:
    >>> import numpy as np
    >>> fig = residuals_plot(np.array([1.0, 2.0, 3.0]), np.array([1.1, 1.9, 3.2]))
    >>> len(fig.axes) >= 1
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from automl.tracking.plot_style import (
    _ANNOTATE_MAX_CLASSES, _GREY, _MAX_CURVES, _add_note, _below_legend, _classification_rows, _colours,
    _finite_limits, _label, _new_figure, _no_data, _regression_rows, _sample,
)

__all__ = ["confusion_matrix_plot", "predicted_vs_actual", "residuals_plot", "roc_pr_curves"]


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


def _curve_classes(y: np.ndarray, k: int, positive: int = 1) -> list[int]:
    """Classes that get a one-vs-rest curve: binary -> [positive]; else up to 10, most rows first."""
    if k == 2:
        return [positive]
    support = np.bincount(y, minlength=k)
    order = sorted(range(k), key=lambda c: (-support[c], c))
    return order[:_MAX_CURVES]


def _one_vs_rest(roc_ax: Axes, pr_ax: Axes, target: np.ndarray, scores: np.ndarray, name: str, colour: Any,
                 n_curves: int) -> None:
    """One class's ROC and precision-recall curves (and its prevalence line) on the two panels."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(target, scores)
    roc_ax.plot(fpr, tpr, color=colour, linewidth=1.6, label=f"{name} (AUC = {auc(fpr, tpr):.3f})")
    precision, recall, _ = precision_recall_curve(target, scores)
    ap = average_precision_score(target, scores)
    prevalence = float(target.mean())
    pr_ax.plot(recall, precision, color=colour, linewidth=1.6, drawstyle="steps-post",
               label=f"{name} (AP = {ap:.3f})" if n_curves <= 3 else f"{name} (AP = {ap:.3f}, prevalence {prevalence:.2f})")
    if n_curves == 1:
        label: str | None = f"prevalence = {prevalence:.2f}"
    elif n_curves <= 3:
        label = f"{name} prevalence = {prevalence:.2f}"
    else:  # many classes: prevalence lines stay, unlabelled, to keep the legend short
        label = None
    pr_ax.axhline(prevalence, color=colour, linestyle=":", linewidth=1.0, alpha=0.8 if label else 0.5, label=label)


def roc_pr_curves(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any], positive: Any = None) -> Figure:
    """ROC and precision-recall curves side by side.

    Binary: one curve for the positive class (``positive``, the model's ``pos_label_``; ``classes[1]``
    when it is None or not a class). Multiclass: one
    one-vs-rest curve per class (the 10 classes with most rows when there are
    more). Legends hold the AUC and the average precision, and sit under the
    panels so they never hide a curve.

    Args:
        y_true: Encoded labels ``0..K-1``.
        proba: Probabilities, shape ``(n, K)``; rows containing NaN are skipped.
        classes: Class names in encoded order.
        positive: The positive class of a binary target.

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
        >>> fig = roc_pr_curves(np.array([0, 1, 0, 1]), proba, ["no", "yes"], positive="no")
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['no (AUC = 1.000)', 'chance']
    """
    y, p = _classification_rows(y_true, proba)
    names = [_label(c) for c in classes]
    k = len(names)
    if p.shape[1] != k:
        raise ValueError(f"proba has {p.shape[1]} columns but there are {k} classes.")
    chosen = _curve_classes(y, k, list(classes).index(positive) if positive in list(classes) else 1)
    palette = _colours("tab10")

    fig = _new_figure(11.0, 5.4 if len(chosen) <= 3 else 6.2)
    roc_ax, pr_ax = fig.subplots(1, 2)
    skipped = []
    for slot, c in enumerate(chosen):
        target = (y == c).astype(int)
        positives = int(target.sum())
        if positives == 0 or positives == len(target):
            skipped.append(names[c])
            continue
        _one_vs_rest(roc_ax, pr_ax, target, p[:, c], names[c], palette[slot % len(palette)], len(chosen))
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

