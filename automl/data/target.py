"""Target transforms for regression: a model learns ``f(y)`` and its predictions are mapped back.

A skewed non-negative target (prices, counts) is often learnt better on a compressed scale: on the
training split of the public suite, 5-fold CV of one LightGBM configuration gave RMSE 27,427 → 26,300
(house prices, ``log``), 547.1 → 536.1 (diamonds, ``log``) and 38.94 → 37.94 (bike sharing, ``sqrt``;
``log`` was *worse* there, 40.08), and no change on abalone. No one transform wins everywhere, so the
transform is a searched parameter (:data:`TARGET_PARAM_NAME`, one more dimension of every family's
space: :func:`automl.families.pipeline.target_spaces`), chosen like any other on the cross-validated score in the target's own units: the evaluator
and the metrics only ever see predictions mapped back.

``log`` is ``log1p`` (defined at 0) and ``sqrt`` the square root; both need a target with no negative
value. Predictions are clipped on the model's scale to the training targets' range widened by its
width on each side, so an extrapolating model cannot overflow ``expm1`` or square a negative number.

``poisson`` is a loss, not a transform: the model learns the target as it is with a Poisson loss and a log link
(its prediction is ``exp`` of its raw score), from the family's own Poisson objective
(:attr:`~automl.families.base.ModelFamily.poisson_params`: LightGBM's and HistGradientBoosting's; the other
families learn the target as it is). It predicts the mean, where a model of ``log1p(y)`` predicts a geometric mean,
biased low in the target's units. It needs a target with no negative value and one above 0. It is a choice to pin
(counts, claims, amounts), not one ``auto`` searches (:data:`SEARCHED_TRANSFORMS`): under 3-fold CV of LightGBM's
defaults on the 52 off-suite regression tables of ``benchmarks/`` whose target has no negative value it beat the
target as it is on 32, tied on 3 and lost on 17 (+1.5 % mean RMSE), but searched as one more scale (its scale trial,
then carried to LightGBM's and HistGradientBoosting's portfolios) the fits lost end to end at 60 s
(benchmarks/README.md, forty-third session). Not declared for XGBoost (``count:poisson`` failed on 15 of the 52
tables, its base score estimated as infinite on large targets, and lost 27 of the other 37) nor CatBoost
(``Poisson`` lost 43 of 50, −9.5 % median: it cannot start from the target's mean).

Example:
    >>> import numpy as np
    >>> y = np.array([0.0, 3.0, 99.0])
    >>> t = TargetTransform("log").fit(y)
    >>> np.allclose(t.inverse(t.forward(y)), y)
    True
    >>> target_choices("auto", "regression", y), target_choices("poisson", "regression", y)
    (('none', 'sqrt', 'log'), ('poisson',))
    >>> target_choices("auto", "regression", np.array([-1.0, 2.0]))
    ('none',)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LOSS_TRANSFORMS", "SEARCHED_TRANSFORMS", "TARGET_PARAM_NAME", "TARGET_SETTINGS", "TARGET_TRANSFORMS",
           "TargetTransform", "split_target_param", "target_choices", "target_problems"]

#: Every transform a setting may name (``none`` first: the default). ``poisson`` is the target as it is under a
#: Poisson loss (:data:`LOSS_TRANSFORMS`).
TARGET_TRANSFORMS = ("none", "sqrt", "log", "poisson")
#: Those ``auto`` searches, in the order the search lists them and the scale trials run them (``poisson`` is pinned
#: only: see above).
SEARCHED_TRANSFORMS = ("none", "sqrt", "log")
#: The transforms that are the family's own loss on the target as it is (its ``poisson_params``), not a map of ``y``:
#: offered only to the families that have that loss.
LOSS_TRANSFORMS = ("poisson",)
#: The values of the ``target_transform`` setting: a transform, or ``auto`` (searched among those the target allows).
TARGET_SETTINGS = ("auto", *TARGET_TRANSFORMS)
#: The trial parameter that carries the transform (next to the family's own parameters).
TARGET_PARAM_NAME = "target_transform"


def _allowed(y: np.ndarray) -> tuple[str, ...]:
    """The transforms ``y`` allows: all of them when no value is negative (a Poisson loss also needs one above 0),
    else ``none`` alone."""
    if not len(y) or float(np.nanmin(y)) < 0:
        return ("none",)
    if float(np.nanmax(y)) > 0:
        return TARGET_TRANSFORMS
    return tuple(t for t in TARGET_TRANSFORMS if t not in LOSS_TRANSFORMS)


def target_problems(setting: str, task: str, y: np.ndarray) -> list[str]:
    """Why ``target_transform=setting`` cannot be used with this task and target (empty: it can).

    Example:
        >>> target_problems("log", "regression", np.array([-2.0, 5.0]))
        ["target_transform='log' needs a target with no negative value (log1p and sqrt are not defined below 0, nor is a Poisson loss), but its smallest value is -2.0; use 'none' or 'auto' (which searches only the transforms the target allows)"]
    """
    if setting in ("auto", "none"):
        return []
    if task != "regression":
        return [f"target_transform={setting!r} applies to regression only, and the task is {task!r}; leave it "
                "at 'auto' (or 'none')"]
    if setting in _allowed(y):
        return []
    if len(y) and float(np.nanmin(y)) >= 0:  # all zeros: the Poisson loss's log of the mean is not defined
        return [f"target_transform={setting!r} needs a target with a value above 0 (a Poisson loss models the "
                "log of its mean), and every value is 0; use 'none' or 'auto'"]
    return [f"target_transform={setting!r} needs a target with no negative value (log1p and sqrt are not defined "
            f"below 0, nor is a Poisson loss), but its smallest value is {float(np.nanmin(y))!r}; use 'none' or "
            "'auto' (which searches only the transforms the target allows)"]


def target_choices(setting: str, task: str, y: np.ndarray) -> tuple[str, ...]:
    """The transforms a search tries: ``setting`` alone, or for ``auto`` those of :data:`SEARCHED_TRANSFORMS` the
    target allows (none for classification)."""
    if task != "regression":
        return ()
    if setting == "auto":
        return tuple(t for t in _allowed(y) if t in SEARCHED_TRANSFORMS)
    return (setting,)


def split_target_param(params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``(the other parameters, the transform)`` of a trial's parameters.

    Example:
        >>> split_target_param({"alpha": 1.0, "target_transform": "log"})
        ({'alpha': 1.0}, 'log')
    """
    rest = {k: v for k, v in params.items() if k != TARGET_PARAM_NAME}
    return rest, str(params.get(TARGET_PARAM_NAME, "none"))


#: A target learnt as it is (``none``) whose spread is below this fraction of its centre is learnt minus its
#: median: the boosters and the nets hold the target in float32 (7 digits), where 1e9 + 1e-3 * x is one value.
NARROW_SPREAD = 1e-4


class TargetTransform:
    """One fitted transform: :meth:`forward` for the training target, :meth:`inverse` for predictions.

    A target learnt as it is but with a spread far narrower than its centre (``1e9 + 1e-3 * x``) is learnt minus
    its median (``offset_``), so that float32 models see its differences: LightGBM predicted one value for every
    row (R² 0) and CatBoost refused "All train targets are equal".

    Args:
        name: One of :data:`TARGET_TRANSFORMS`.

    Example:
        >>> y = 1e9 + np.array([0.001, 0.002, 0.003])
        >>> t = TargetTransform().fit(y)
        >>> t.offset_, np.round(t.forward(y), 6).tolist(), bool(np.allclose(t.inverse(t.forward(y)), y, rtol=0))
        (1000000000.002, [-0.001, 0.0, 0.001], True)
    """

    def __init__(self, name: str = "none") -> None:
        if name not in TARGET_TRANSFORMS:
            from automl.exceptions import InvalidParameterError

            raise InvalidParameterError(f"target transform must be one of {list(TARGET_TRANSFORMS)}, got {name!r}")
        self.name = name
        self.bounds_: tuple[float, float] = (-np.inf, np.inf)
        self.offset_ = 0.0

    def _apply(self, y: np.ndarray) -> np.ndarray:
        """``y`` on the model's scale (``poisson``: as it is; its log link is the model's own)."""
        y = np.asarray(y, dtype="float64")
        if self.name == "log":
            return np.log1p(np.maximum(y, 0.0))
        if self.name == "sqrt":
            return np.sqrt(np.maximum(y, 0.0))
        return y

    def fit(self, y: np.ndarray) -> TargetTransform:
        """Learn the clipping range from the training target."""
        z = self._apply(y)
        if self.name != "none" and len(z):
            low, high = float(np.min(z)), float(np.max(z))
            self.bounds_ = (max(0.0, low - (high - low)), high + (high - low))
        finite = z[np.isfinite(z)]
        if self.name == "none" and len(finite):
            centre = float(np.median(finite))
            if float(np.ptp(finite)) < abs(centre) * NARROW_SPREAD:
                self.offset_ = centre
        return self

    @property
    def identity(self) -> bool:
        """Whether the model learns the target exactly as it is (no transform, no offset)."""
        return self.name == "none" and not getattr(self, "offset_", 0.0)

    def forward(self, y: np.ndarray) -> np.ndarray:
        """The target on the model's scale."""
        return self._apply(y) - getattr(self, "offset_", 0.0)  # (models saved before the offset have none)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Predictions on the model's scale mapped back to the target's units."""
        z = np.asarray(z, dtype="float64")
        if self.name == "none":
            return z + getattr(self, "offset_", 0.0)
        z = np.clip(z, *self.bounds_)
        if self.name == "poisson":
            return z
        return np.expm1(z) if self.name == "log" else np.square(z)
