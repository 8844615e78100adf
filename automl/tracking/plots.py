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
import pathlib
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from matplotlib.figure import Figure

from automl.tracking.plot_style import (
    _GREY, DPI, _add_note, _complete_rows, _family_colours, _new_figure, _no_data, _outside_legend,
    _score_column,
)
from automl.tracking.plots_model import confusion_matrix_plot, predicted_vs_actual, residuals_plot, roc_pr_curves

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


#: A parameter used by fewer complete trials than this gets a hatched bar and a note: too few to rank it.
MIN_IMPORTANCE_TRIALS = 10


def _usage(trials: Sequence[Any]) -> dict[str, tuple[int, int]]:
    """``name -> (complete trials that used it, distinct values it took)``; a conditional parameter
    appears only in the trials where it was active (suggested)."""
    values: dict[str, list[Any]] = {}
    for trial in trials:
        for name, value in trial.params.items():
            values.setdefault(name, []).append(value)
    return {name: (len(seen), len({repr(v) for v in seen})) for name, seen in values.items()}


def param_importance(study: Any, top: int = 15) -> Figure | None:
    """Horizontal bars of Optuna's hyperparameter importances.

    Uses :func:`optuna.importance.get_param_importances` with the PED-ANOVA
    evaluator, which scores conditional parameters such as ``lightgbm__num_leaves``
    as well as ``family``: it splits the trials into the regime where the parameter
    was suggested and the one where it was not, and measures the parameter only in
    the first (a parameter a configuration does not use is never suggested, see
    ``when:`` in the search spaces). The evaluator's name is in the title; a
    family's parameters share the family's colour; each bar says how many complete
    trials used the parameter. A parameter that took a single value is left out (it
    has no importance to measure), and one used by fewer than
    :data:`MIN_IMPORTANCE_TRIALS` complete trials is hatched and listed below the
    others, with a note under the axis saying so.

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
    usage = _usage(complete)
    single = [k for k in importances if usage.get(k, (0, 0))[1] < 2]
    importances = {k: float(v) for k, v in importances.items() if np.isfinite(v) and k not in single}
    if not importances:
        return None
    # parameters too few trials used go below the others, whatever their importance
    ranked = sorted(importances.items(), key=lambda kv: (usage[kv[0]][0] >= MIN_IMPORTANCE_TRIALS, kv[1]), reverse=True)
    nonzero = [kv for kv in ranked if kv[1] > 0]
    items = (nonzero or ranked)[: max(int(top), 1)][::-1]  # most important at the top
    fig = _importance_bars(items, usage)
    ax = fig.axes[0]
    notes = [f"importance (normalised to sum 1, {len(complete)} complete trials)"]
    if any("will be equal" in str(w.message) for w in caught):
        notes.append("too few trials: importances are equal")
    few = [name for name, _ in items if usage[name][0] < MIN_IMPORTANCE_TRIALS]
    if few:
        notes.append(f"hatched, listed last: used by fewer than {MIN_IMPORTANCE_TRIALS} complete trials, too few to rank")
    if single:
        notes.append(f"{len(single)} with a single value so far not shown")
    hidden = len(ranked) - len(items)
    if hidden:
        zero = len(ranked) - len(nonzero) if nonzero else 0
        notes.append(f"{hidden} more not shown" + (f" ({zero} with importance 0)" if zero else ""))
    ax.set_xlabel("\n".join(notes))  # the notes under the axis: constrained layout makes room
    return fig


def _importance_bars(items: Sequence[tuple[str, float]], usage: dict[str, tuple[int, int]]) -> Figure:
    """The bars of :func:`param_importance`: a family's colour, hatched and pale when few trials used it."""
    names = [name for name, _ in items]
    values = np.array([value for _, value in items])
    fig = _new_figure(7.5, 1.2 + 0.32 * len(names) + 0.15 * 3)
    ax = fig.add_subplot()
    families = {name: name.split("__", 1)[0] for name in names if "__" in name}
    palette = _family_colours(list(families.values()))
    colours = [palette[families[name]] if name in families else "0.35" for name in names]
    bars = ax.barh(np.arange(len(names)), values, color=colours, height=0.7)
    for bar, name in zip(bars, names):
        if usage[name][0] < MIN_IMPORTANCE_TRIALS:
            bar.set_hatch("///")
            bar.set_alpha(0.45)
    ax.set_yticks(np.arange(len(names)), names, fontsize="small")
    ax.set_xlim(0, max(1e-9, float(values.max())) * 1.35)
    texts = [(f"{v:.2f}" if v >= 0.01 or v == 0 else f"{v:.1g}") + f" (n={usage[name][0]})"
             for name, v in zip(names, values)]
    ax.bar_label(bars, labels=texts, padding=3, fontsize="x-small")
    ax.set_title("Hyperparameter importance (PED-ANOVA)")
    ax.grid(True, axis="x", alpha=0.3)
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
    errors: list[str] | None = None,
    positive: Any = None,
) -> list[pathlib.Path]:
    """Write every applicable plot of a search as PNG into ``out_dir``.

    Files: ``optimization_history.png``, ``param_importance.png`` and
    ``score_by_family.png`` from the search, then ``confusion_matrix.png`` and
    ``roc_pr_curves.png`` (classification) or ``predicted_vs_actual.png`` and
    ``residuals.png`` (regression) from the best trial's out-of-fold
    predictions. A plot whose input is empty or ``None`` is skipped (no file).
    A plot that fails is skipped and, when ``errors`` is given, named there
    (``"name.png: Error: message"``; the caller reports them), else logged as a
    warning on the ``automl`` logger; this function does not raise for plotting problems.

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
        errors: Collects one line per plot that failed (then nothing is logged as a warning).
        positive: The positive class of a binary target (its ROC and precision-recall curves).

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
    jobs = _search_jobs(leaderboard, study, metric_name, greater_is_better)
    if y_true is not None and oof is not None and len(y_true) > 0 and np.size(oof) > 0:
        jobs += _prediction_jobs(task, y_true, oof, classes, positive)
    written: list[pathlib.Path] = []
    for name, build in jobs:
        path = out / name
        try:
            fig = build()
            if fig is None:
                continue
            if name in _PREDICTION_PLOTS:
                _add_note(fig, "out-of-fold predictions of the best trial")
            fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
        except Exception as error:  # noqa: BLE001 - one bad plot must not stop the others or the run
            if errors is None:
                logger.warning("Could not draw %s: %s: %s", name, type(error).__name__, error)
            else:
                errors.append(f"{name}: {type(error).__name__}: {error}")
            continue
        written.append(path)
    return written


#: The plots drawn from the best trial's out-of-fold predictions (they get a note saying so).
_PREDICTION_PLOTS = {"confusion_matrix.png", "roc_pr_curves.png", "predicted_vs_actual.png", "residuals.png"}
Job = tuple[str, Callable[[], Any]]


def _search_jobs(leaderboard: pd.DataFrame | None, study: Any, metric_name: str, greater_is_better: bool) -> list[Job]:
    """The plots of the search itself: its history and scores by family (from the trials' rows), importances."""
    jobs: list[Job] = []
    board = None
    if leaderboard is not None and "trial" in leaderboard.columns:
        board = leaderboard[leaderboard["trial"].notna()]  # the trials (not the ensemble's row)
    if board is not None and len(board) and "state" in board.columns and bool((board["state"] == "complete").any()):
        trials = board
        jobs.append(("optimization_history.png", lambda: optimization_history(trials, metric_name, greater_is_better)))
    if study is not None:
        jobs.append(("param_importance.png", lambda: param_importance(study)))
    if jobs and jobs[0][0] == "optimization_history.png":
        jobs.append(("score_by_family.png", lambda: score_by_family(trials, metric_name, greater_is_better)))
    return jobs


def _prediction_jobs(task: str, y_true: np.ndarray, oof: np.ndarray, classes: Sequence[Any] | None,
                     positive: Any = None) -> list[Job]:
    """The plots of the best trial's out-of-fold predictions, for ``task``."""
    if task in ("binary", "multiclass"):
        labels = list(classes) if classes is not None and len(classes) else list(
            range(np.shape(oof)[1] if np.ndim(oof) == 2 else 2))
        return [("confusion_matrix.png", lambda: confusion_matrix_plot(y_true, oof, labels)),
                ("roc_pr_curves.png", lambda: roc_pr_curves(y_true, oof, labels, positive))]
    if task == "regression":
        return [("predicted_vs_actual.png", lambda: predicted_vs_actual(y_true, oof)),
                ("residuals.png", lambda: residuals_plot(y_true, oof))]
    return []
