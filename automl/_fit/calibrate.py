"""Stage 3, after the final model is made: its class probabilities temperature-scaled, when that scores better.

The final model (the best trial, the blend or the stack) has out-of-fold predictions: those of the trials it is
made of, blended. :func:`calibrate_final` scores the final model temperature-scaled on the same folds as every
trial, each fold's temperature fitted on the rows its blend's weights are chosen on (cross-fitted, so no fold is
scored by a temperature that saw it: :func:`~automl.ensemble.cross_fitted_scores`), and keeps it when that beats
the final model's own cross-fitted score (``calibrate="auto"``, for the metrics of
:data:`~automl.calibration.AUTO_METRICS`) or always (``calibrate=True``). The temperature ``predict`` uses is then
fitted on all out-of-fold rows. Cheap (no model is trained), and a failure leaves the model as it was: a failing
stage never ends the fit.

Example:
    >>> from types import SimpleNamespace as NS
    >>> settings = NS(calibrate="auto")
    >>> wanted(NS(settings=settings, task="multiclass", metric=NS(name="log_loss")))
    True
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl._spawn import raise_if_stopped
from automl.calibration import TemperatureScaled, fit_temperature, tries_temperature
from automl.ensemble import DEFAULT_ROUNDS, OutOfTime, blend, cross_fitted_scores, finite_rows, oof_by_repeat
from automl.evaluation.stats import finite_mean_std

__all__ = ["BlendParts", "calibrate_final", "wanted"]

logger = logging.getLogger("automl")


@dataclass
class BlendParts:
    """What the final model blends, as out-of-fold predictions: per part, all rows ``(n, K)`` (averaged over
    repeats) and per repeat ``(R, n, K)``, and the final model's weight of each part."""

    flat: list[np.ndarray]
    by_repeat: list[np.ndarray]
    weights: list[float]


def wanted(problem: Any) -> bool:
    """Whether the fit tries a temperature (:func:`~automl.calibration.tries_temperature`)."""
    return tries_temperature(problem.settings.calibrate, problem.metric.name, problem.task)


def calibrate_final(final: Any, parts: BlendParts, fold_scores: dict[str, list[float]], problem: Any,
                    deadline: float | None) -> None:
    """Temperature-scale ``final.model`` when it scores better (or ``calibrate=True``), setting ``final.calibration``
    either way (``final.score`` and ``final.source`` too when kept); ``fold_scores`` are the final model's own.

    Raises:
        KeyboardInterrupt: the fit was stopped (Ctrl-C, SIGTERM) meanwhile.
    """
    metric, evaluator, y = problem.metric, problem.evaluator, problem.y
    rounds = DEFAULT_ROUNDS if len(parts.by_repeat) > 1 else 1
    try:
        scaled = cross_fitted_scores(parts.by_repeat, y, evaluator, rounds, deadline, temperature=True)
        temperature = _fit_on_all_rows(parts, y, evaluator, deadline)
    except OutOfTime:
        logger.info("no temperature for the final model: its cross-validation ran past the refit deadline")
        return
    except Exception as exc:  # noqa: BLE001 - a failing calibration never ends the fit: the model stays
        raise_if_stopped(exc)
        logger.warning("the final model's temperature could not be fitted (%s: %s); it stays as it is",
                       type(exc).__name__, exc)
        return
    before = finite_mean_std(fold_scores.get(metric.name, []))[0]
    after = finite_mean_std(scaled[metric.name])[0]
    applied = temperature != 1.0 and (problem.settings.calibrate is True or bool(metric.is_better(after, before)))
    final.calibration = {"temperature": temperature, "applied": applied, "fold_scores": scaled,
                         "uncalibrated_fold_scores": fold_scores, "of": final.source}
    logger.info("temperature %.4g: %s=%.5g on CV, %.5g without: %s", temperature, metric.name, after, before,
                "kept" if applied else "left out")
    if applied:
        final.model = TemperatureScaled(final.model, temperature)
        final.score = after
        final.source = f"{final.source}, temperature-scaled (T={temperature:.3g})"


def _fit_on_all_rows(parts: BlendParts, y: np.ndarray, evaluator: Any, deadline: float | None) -> float:
    """The temperature of the final model's out-of-fold probabilities on every row that has them."""
    rows = finite_rows(parts.flat, len(y))
    proba = blend([np.asarray(f, dtype="float64")[rows] for f in parts.flat], parts.weights)
    return fit_temperature(proba, y[rows], None if evaluator.weights is None else evaluator.weights[rows], deadline)


def single_parts(oof: Any, number: int) -> BlendParts | None:
    """The parts of a single trial's model: its own out-of-fold predictions (None: not kept)."""
    if number not in oof:
        return None
    return BlendParts([oof[number]], [oof_by_repeat(oof, number)], [1.0])


def blend_parts(oof: Any, trials: Sequence[int], weights: Sequence[float], extra: Any = None) -> BlendParts:
    """The parts of a blend of ``trials`` (and of a second level whose evaluation result is ``extra``)."""
    flat = [oof[t] for t in trials]
    by_repeat = [oof_by_repeat(oof, t) for t in trials]
    if extra is not None:
        flat.append(extra.oof)
        by_repeat.append(extra.by_repeat())
    return BlendParts(flat, by_repeat, [float(w) for w in weights])
