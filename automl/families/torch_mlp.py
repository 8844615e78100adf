"""``torch_mlp``: a tuned MLP or residual MLP in PyTorch for tables.

Numeric columns are imputed (median, plus a missing-indicator column where the
training rows had gaps) and scaled (``standard``, ``quantile`` to a normal
distribution, or ``none``); categorical columns become learned embeddings or
one-hot codes (code 0 for missing and unseen levels). ``architecture`` picks a
plain MLP or ResNet-style residual blocks. Training (see
:mod:`automl.families.torch_common`) early-stops on a stratified split of the
training fold and reports each epoch to the search's pruner.

torch is imported only when a net is fitted; without it the family reports
itself unavailable (``pip install "automl[torch]"``).

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> params = {**FAMILY.space().defaults(), "max_epochs": 5}
    >>> net = FAMILY.build(params, BuildContext("binary", 2, 200, 3)).fit(X, y)
    >>> net.predict_proba(X[:2]).shape
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from automl.data.preprocessing import column_medians, empty_columns_quiet
from automl.families.base import BuildContext, ModelFamily
from automl.families.torch_common import ACTIVATION_NAMES, NET_CHOICES, NORMALIZATION_NAMES
from automl.families.torch_estimator import (
    TorchEstimator,
    build_net,
    fitted_hints,
    learning_curves,
    refit_params,
)

__all__ = ["FAMILY", "TabularNet"]

SCALINGS = ("standard", "quantile", "none")
_MLP_OWN = ("architecture", "shape", "activation", "normalization", "numeric_scaling", "categorical_encoding")
#: Every value the estimator takes for its categorical parameters (the search samples some of them;
#: a user may pin any): checked by the estimator and, before the search, by the pin check.
MLP_CHOICES: dict[str, tuple[str, ...]] = {
    "architecture": ("mlp", "resnet"), "shape": ("constant", "funnel"), "activation": ACTIVATION_NAMES,
    "normalization": NORMALIZATION_NAMES, "numeric_scaling": SCALINGS, "categorical_encoding": ("embedding", "onehot"),
}


class TabularNet(TorchEstimator):
    """An MLP or residual MLP on a numeric matrix whose ``categorical_indices`` hold category codes.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Classes of the whole problem (for per-epoch reports; 0 for regression).
        architecture: ``mlp`` or ``resnet``.
        n_layers: Hidden layers or residual blocks (0: a linear model).
        width: Hidden width.
        shape: ``constant`` or ``funnel`` (halving widths; ``mlp`` only).
        dropout: Dropout rate.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.
        normalization: ``none``, ``batch`` or ``layer``.
        numeric_scaling: ``standard``, ``quantile`` or ``none``.
        categorical_encoding: ``embedding`` or ``onehot``.
        embedding_dim: Largest embedding width.
        learning_rate: Peak learning rate.
        batch_size: Rows per step.
        max_epochs: Most epochs.
        patience: Epochs without improvement before stopping (0: train all epochs).
        optimizer: ``adamw``, ``adam`` or ``sgd``.
        weight_decay: Weight decay.
        momentum: SGD momentum.
        schedule: ``constant``, ``cosine`` or ``onecycle``.
        validation_fraction: Share of rows held out for early stopping (0: none).
        target_scaling: ``standard`` (regression targets standardised while training) or ``none``.
        categorical_indices: Columns of ``X`` holding category codes (NaN = missing).
        category_counts: Levels of each of those columns.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        seed: Random seed (initial weights, batch order, dropout, split).
        n_jobs: CPU threads for torch.
    """

    def __init__(
        self, task: str = "binary", n_classes: int = 0, architecture: str = "mlp", n_layers: int = 3,
        width: int = 128, shape: str = "constant", dropout: float = 0.1, activation: str = "relu",
        normalization: str = "none", numeric_scaling: str = "quantile", categorical_encoding: str = "embedding",
        embedding_dim: int = 8, learning_rate: float = 1e-3, batch_size: int = 256, max_epochs: int = 100,
        patience: int = 10, optimizer: str = "adamw", weight_decay: float = 1e-5, momentum: float = 0.9,
        schedule: str = "constant", validation_fraction: float = 0.1, target_scaling: str = "standard",
        categorical_indices: Sequence[int] = (), category_counts: Sequence[int] = (), device: str = "auto",
        seed: int = 0, n_jobs: int = 1,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.architecture = architecture
        self.n_layers = n_layers
        self.width = width
        self.shape = shape
        self.dropout = dropout
        self.activation = activation
        self.normalization = normalization
        self.numeric_scaling = numeric_scaling
        self.categorical_encoding = categorical_encoding
        self.embedding_dim = embedding_dim
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.schedule = schedule
        self.validation_fraction = validation_fraction
        self.target_scaling = target_scaling
        self.categorical_indices = categorical_indices
        self.category_counts = category_counts
        self.device = device
        self.seed = seed
        self.n_jobs = n_jobs

    def _check_params(self) -> list[str]:
        problems = self._choice_problems([(name, MLP_CHOICES[name]) for name in _MLP_OWN])
        if int(self.n_layers) < 0 or int(self.width) < 1:
            problems.append(f"n_layers must be >= 0 and width >= 1, got {self.n_layers!r}, {self.width!r}")
        if len(self.categorical_indices) != len(self.category_counts):
            problems.append("categorical_indices and category_counts must have the same length")
        return problems

    def _learn_inputs(self, X: np.ndarray) -> None:
        categorical = [int(i) for i in self.categorical_indices]
        self.numeric_columns_ = [j for j in range(X.shape[1]) if j not in set(categorical)]
        numeric = X[:, self.numeric_columns_]
        missing = np.isnan(numeric)
        self.indicator_columns_ = np.flatnonzero(missing.any(axis=0))
        self.quantiles_ = None
        if self.numeric_scaling == "quantile" and numeric.shape[1]:
            from sklearn.preprocessing import QuantileTransformer

            with empty_columns_quiet():
                self.quantiles_ = QuantileTransformer(
                    n_quantiles=max(2, min(1000, len(X))), output_distribution="normal", subsample=100_000,
                    random_state=int(self.seed),
                ).fit(numeric)
            numeric = self.quantiles_.transform(numeric)
        self.medians_ = column_medians(numeric)
        filled = np.where(np.isnan(numeric), self.medians_, numeric)
        scaled = self.numeric_scaling == "standard" and len(filled)
        self.means_ = filled.mean(axis=0) if scaled else np.zeros(filled.shape[1])
        scales = filled.std(axis=0) if scaled else np.ones(filled.shape[1])
        self.scales_ = np.where(scales > 0, scales, 1.0)
        self.cardinalities_ = [int(c) + 1 for c in self.category_counts]

    def _inputs(self, X: np.ndarray) -> list[np.ndarray]:
        numeric = X[:, self.numeric_columns_]
        missing = np.isnan(numeric)
        if self.quantiles_ is not None:
            numeric = self.quantiles_.transform(numeric)
        filled = np.where(np.isnan(numeric), self.medians_, numeric)
        blocks = [(filled - self.means_) / self.scales_, missing[:, self.indicator_columns_].astype("float64")]
        out = [np.hstack(blocks).astype("float32")]
        if len(self.categorical_indices):
            out.append(self._category_codes(X))
        return out

    def _make_module(self, n_outputs: int) -> Any:
        from automl.families._torch_modules import TabularMLP

        n_numeric = len(self.numeric_columns_) + len(self.indicator_columns_)
        return TabularMLP(
            n_numeric, self.cardinalities_, self.categorical_encoding, int(self.embedding_dim),
            self.architecture, int(self.n_layers), int(self.width), self.shape, float(self.dropout),
            self.activation, self.normalization, n_outputs,
        )


def build(params: Mapping[str, Any], ctx: BuildContext) -> TabularNet:
    """Build the estimator from the ``torch_mlp`` space's parameters and the fold's context."""
    return build_net(
        TabularNet, "torch_mlp", params, task=ctx.task, n_classes=ctx.n_classes,
        categorical_indices=tuple(ctx.categorical_indices), category_counts=tuple(ctx.category_counts),
        seed=ctx.seed, n_jobs=ctx.n_jobs, device=ctx.device,
    )

FAMILY = ModelFamily(
    pin_choices={**NET_CHOICES, **MLP_CHOICES},
    name="torch_mlp",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="PyTorch MLP or residual MLP with embeddings, early stopping and per-epoch pruning",
    requires=("torch",),
    sample_weight=False,
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    packable=True,
)
