"""The scikit-learn side shared by the torch families: labels, validation split, losses, scores.

A subclass says how rows become input tensors (:meth:`TorchEstimator._learn_inputs`,
:meth:`TorchEstimator._inputs`) and which module to build
(:meth:`TorchEstimator._make_module`); this base class does the rest: class
encoding (one logit for two classes, softmax otherwise), target scaling for
regression, the stratified validation split for early stopping, the call to
:func:`~automl.families.torch_common.train`, per-epoch reports to the search,
refit hints (the best epoch), learning curves, and pickling with the weights
on the CPU.

torch is imported inside methods: importing this module is light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from automl.families.epochs import report_epoch, reporting_active
from automl.families.torch_common import TrainConfig, TrainResult, as_numpy, module_to_cpu, predict_outputs

__all__ = ["Prepared", "TorchEstimator", "build_net", "MIN_ROWS_FOR_VALIDATION", "TRAIN_PARAMS", "refit_params", "fitted_hints", "learning_curves",
           "train_config"]

#: Fewer training rows than this: no validation split, every epoch is trained.
MIN_ROWS_FOR_VALIDATION = 50
#: Validation rows held out at least (up to a third of the rows), so early stopping is not noise.
MIN_VALIDATION_ROWS = 30
#: The parameters of :class:`~automl.families.torch_common.TrainConfig`.
TRAIN_PARAMS = ("learning_rate", "batch_size", "max_epochs", "patience", "optimizer", "weight_decay",
                "momentum", "schedule", "gradient_clipping")


def train_config(params: Mapping[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` of a net with these parameters (a training parameter it lacks, as
    ``torch_mlp`` lacks ``gradient_clipping``, takes the config's default).

    Example:
        >>> train_config({"learning_rate": 0.01, "width": 64}).learning_rate
        0.01
    """
    return TrainConfig(**{name: params[name] for name in TRAIN_PARAMS if name in params})


@dataclass
class Prepared:
    """What :meth:`TorchEstimator._prepare` hands to the trainer.

    Attributes:
        n_outputs: Outputs of the module (1 for binary and regression).
        inputs: Training input tensors.
        target: Training target tensor (encoded labels, or the scaled target).
        valid: ``(inputs, target)`` of the validation rows, or None.
        truth: The validation rows' labels or values as given (for per-epoch reports), or None.
    """

    n_outputs: int
    inputs: list[Any]
    target: Any
    valid: tuple[list[Any], Any] | None
    truth: np.ndarray | None


class TorchEstimator(BaseEstimator):
    """Base class of the torch estimators; see :class:`~automl.families.torch_mlp.TabularNet`.

    Subclasses list every parameter in their own ``__init__`` (scikit-learn's
    ``get_params`` reads it) and include at least: ``task``, ``n_classes``,
    the :data:`TRAIN_PARAMS` they tune, ``validation_fraction``, ``target_scaling``,
    ``device``, ``seed`` and ``n_jobs``.
    """

    # -- what subclasses provide -------------------------------------------------------------
    def _learn_inputs(self, X: np.ndarray) -> None:
        """Learn the input preprocessing from the training rows."""

    def _inputs(self, X: np.ndarray) -> list[np.ndarray]:  # pragma: no cover - abstract
        """Arrays fed to the module (float32 or int64), first dimension = rows."""
        raise NotImplementedError

    def _make_module(self, n_outputs: int) -> Any:  # pragma: no cover - abstract
        """A fresh module mapping the inputs to ``n_outputs`` values per row."""
        raise NotImplementedError

    def _augment(self) -> Any:
        """``augment(batch, generator)`` for training batches, or None."""
        return None

    def _check_params(self) -> list[str]:
        """Problems with the subclass's own parameters."""
        return []

    def _category_codes(self, X: np.ndarray) -> np.ndarray:
        """The ``categorical_indices`` columns as int64 codes ``1..count``; 0 for missing and unseen levels."""
        raw = X[:, [int(i) for i in self.categorical_indices]]
        limits = np.asarray(self.category_counts, dtype="float64")
        valid = ~np.isnan(raw) & (raw >= 0) & (raw < limits)
        return np.where(valid, np.nan_to_num(raw) + 1, 0).astype("int64")

    def _choice_problems(self, checks: list[tuple[str, tuple[Any, ...]]]) -> list[str]:
        """A problem for each ``(parameter, allowed values)`` whose value is not allowed."""
        return [f"{name} must be one of {choices}, got {getattr(self, name)!r}"
                for name, choices in checks if getattr(self, name) not in choices]

    # -- fit --------------------------------------------------------------------------------
    def _config(self) -> TrainConfig:
        return train_config(self.get_params())

    def _validate(self) -> None:
        from automl.families.torch_common import NET_CHOICES

        problems = list(self._check_params())
        problems += self._choice_problems(list(NET_CHOICES.items()))
        if not 0 <= float(self.validation_fraction) < 1:
            problems.append(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        if int(self.max_epochs) < 1 or int(self.batch_size) < 1:
            problems.append(f"max_epochs and batch_size must be >= 1, got {self.max_epochs!r}, {self.batch_size!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def fit(self, X: Any, y: Any) -> TorchEstimator:
        """Train on ``(X, y)``, early-stopping on a stratified split of ``validation_fraction``."""
        import torch

        from automl.families.torch_common import torch_runtime, train

        with torch_runtime(self.seed, self.n_jobs):
            prepared = self._prepare(X, y)
            if prepared is None:
                return self
            on_epoch = None
            if prepared.valid is not None and reporting_active():
                def on_epoch(epoch: int, outputs: Any) -> bool:
                    return report_epoch(epoch, prepared.truth, self._full_scores(self._scores(outputs)))

            self.module_, self.train_result_ = train(
                lambda: self._make_module(prepared.n_outputs), self._loss(prepared.n_outputs), prepared.inputs,
                prepared.target, prepared.valid, self._config(), torch.device(self.device_), seed=int(self.seed),
                augment=self._augment(), on_epoch=on_epoch,
            )
        return self

    def _prepare(self, X: Any, y: Any) -> Prepared | None:
        """Validate, encode the target, learn the inputs and split off the validation rows (inside
        ``torch_runtime``); None when there is nothing to learn (one class: ``module_`` is then None)."""
        import torch

        from automl.families.torch_common import resolve_device

        self._validate()
        X = np.asarray(X, dtype="float64")
        y = np.asarray(y)
        classification = self.task != "regression"
        if classification:
            self.classes_, codes = np.unique(y, return_inverse=True)
            n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
            target = codes
        else:
            target = y.astype("float64")
            scaled = self.target_scaling == "standard"
            self.y_mean_ = float(target.mean()) if scaled else 0.0
            self.y_scale_ = float(target.std()) if scaled and target.std() > 0 else 1.0
            target = (target - self.y_mean_) / self.y_scale_
            n_outputs = 1
        self.device_ = str(resolve_device(self.device))
        self._learn_inputs(X)
        fit_rows, valid_rows = self._split(target, classification)
        arrays = self._inputs(X)
        if classification and len(self.classes_) == 1:  # nothing to learn: one class
            self.module_, self.train_result_ = None, TrainResult(-1, 0, int(self.batch_size))
            return None
        as_tensor = lambda a, rows: torch.from_numpy(np.ascontiguousarray(a[rows]))  # noqa: E731
        y_tensor = torch.from_numpy(target.astype("int64" if n_outputs > 1 else "float32"))
        valid = None
        if valid_rows is not None:
            valid = ([as_tensor(a, valid_rows) for a in arrays], y_tensor[valid_rows])
        return Prepared(n_outputs, [as_tensor(a, fit_rows) for a in arrays], y_tensor[fit_rows], valid,
                        y[valid_rows] if valid_rows is not None else None)

    def _split(self, target: np.ndarray, classification: bool) -> tuple[np.ndarray, np.ndarray | None]:
        n = len(target)
        rows = np.arange(n)
        fraction = float(self.validation_fraction)
        if fraction <= 0 or n < MIN_ROWS_FOR_VALIDATION:
            return rows, None
        n_valid = max(int(round(fraction * n)), min(MIN_VALIDATION_ROWS, n // 3))
        counts = np.bincount(target) if classification else np.zeros(0)
        stratifiable = classification and counts.min() >= 2 and min(n_valid, n - n_valid) >= len(counts)
        stratify = target if stratifiable else None
        fit_rows, valid_rows = train_test_split(rows, test_size=n_valid, random_state=int(self.seed), stratify=stratify)
        return np.sort(fit_rows), np.sort(valid_rows)

    def _loss(self, n_outputs: int) -> Any:
        import torch.nn.functional as F

        if self.task == "regression":
            return lambda out, y: F.mse_loss(out.squeeze(-1), y)
        if n_outputs == 1:
            return lambda out, y: F.binary_cross_entropy_with_logits(out.squeeze(-1), y)
        return lambda out, y: F.cross_entropy(out, y)

    # -- predict ----------------------------------------------------------------------------
    def _scores(self, outputs: Any) -> np.ndarray:
        """Probabilities over ``classes_`` or values on the target's scale, from raw outputs."""
        import torch

        if self.task == "regression":
            return as_numpy(outputs.squeeze(-1)) * self.y_scale_ + self.y_mean_
        if outputs.shape[-1] == 1:
            p = as_numpy(torch.sigmoid(outputs.squeeze(-1)))
            return np.column_stack([1.0 - p, p])
        return as_numpy(torch.softmax(outputs, dim=-1))

    def _full_scores(self, proba: np.ndarray) -> np.ndarray:
        """Place columns of ``classes_`` among ``n_classes`` (for reports; labels are 0..K-1)."""
        if self.task == "regression" or not self.n_classes or len(self.classes_) == self.n_classes:
            return proba
        full = np.zeros((len(proba), int(self.n_classes)))
        full[:, self.classes_.astype(int)] = proba
        return full

    def _check_fitted(self) -> None:
        if not hasattr(self, "train_result_"):
            from automl.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def _outputs(self, X: Any) -> Any:
        import torch

        from automl.families.torch_common import torch_threads

        self._check_fitted()
        X = np.asarray(X, dtype="float64")
        module: Any = self.module_
        device = next(module.parameters()).device
        with torch_threads(self.n_jobs):
            tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(device) for a in self._inputs(X)]
            return predict_outputs(self.module_, tensors)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        self._check_fitted()
        if self.module_ is None:
            return np.ones((len(X), 1))
        return self._scores(self._outputs(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values (regression) or labels (classification)."""
        if self.task == "regression":
            return self._scores(self._outputs(X))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.get("module_") is not None:
            state["module_"] = module_to_cpu(state["module_"])
        return state


def build_net(cls: type[TorchEstimator], family: str, params: Mapping[str, Any], **from_context: Any) -> Any:
    """``cls(**from_context, **params)``, refusing parameters the net does not have or that
    come from the fold's context (task, classes, shape, seed, threads, device)."""
    known = set(cls().get_params()) - set(from_context)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown {family} parameters {unknown}; known: {sorted(known)}")
    return cls(**from_context, **params)


def fitted_hints(estimator: TorchEstimator) -> dict[str, Any]:
    """Epochs to train on all rows: the best validation epoch of this fold (1-based)."""
    result = estimator.train_result_
    return {"epochs": int(result.best_epoch + 1)} if result.valid_loss else {}


def refit_params(params: Mapping[str, Any], hints: list[dict[str, Any]]) -> dict[str, Any]:
    """Refit for the folds' mean best epoch (+10 % for the larger data), without a validation split."""
    epochs = [h["epochs"] for h in hints if h.get("epochs")]
    if not epochs:
        return dict(params)
    return {**params, "max_epochs": max(1, int(round(np.mean(epochs) * 1.1))), "patience": 0,
            "validation_fraction": 0.0}


def learning_curves(estimator: TorchEstimator) -> dict[str, list[float]]:
    """Training and validation loss per epoch."""
    result = estimator.train_result_
    curves = {"train_loss": list(result.train_loss)}
    if result.valid_loss:
        curves["valid_loss"] = list(result.valid_loss)
    return curves
