"""``tabm``: TabM, an MLP that trains an implicit ensemble of k heads, with numeric-feature embeddings.

Built on the papers' own packages (``tabm`` and ``rtdl_num_embeddings``, see
:mod:`automl.families._tabm_modules`): TabM's parameter-efficient ensembling (k MLPs sharing most
weights, trained together, their mean predicted) and piecewise-linear or periodic embeddings of the
numeric columns. Numeric columns are mapped to a normal distribution by quantiles (the papers'
preprocessing), gaps filled with the median and flagged by a missing-indicator column; categorical
columns and the indicators are one-hot encoded inside TabM (code 0 for missing and unseen levels).
Columns constant over the training rows are dropped. Training (see
:mod:`automl.families.torch_common`) is the papers' recipe: AdamW at a constant learning rate, gradient
norms clipped at 1, early stopping on the ensemble's validation loss with patience 16, each epoch
reported to the search's pruner.

Defaults follow the TabM paper's recommended configuration (``tabm-mini`` with piecewise-linear
embeddings, AdamW, lr 2e-3, weight decay 3e-4), with a narrower net (``d_block`` 256, k 16) so one
trial fits a short budget on one CPU core; the search reaches the paper's widths (up to 1024, k 32).

torch, tabm and rtdl_num_embeddings are imported only when a net is fitted; without them the family
reports itself unavailable (``pip install "automl[tabm]"``).

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> params = {**FAMILY.space().defaults(), "max_epochs": 3}
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
from automl.families.torch_common import NET_CHOICES
from automl.families.torch_estimator import (
    TorchEstimator,
    build_net,
    fitted_hints,
    learning_curves,
    refit_params,
)

__all__ = ["FAMILY", "TabMNet", "TABM_CHOICES"]

#: Every value the estimator takes for its categorical parameters (the search samples some of them).
TABM_CHOICES: dict[str, tuple[str, ...]] = {
    "arch_type": ("tabm", "tabm-mini", "tabm-packed"), "numeric_embedding": ("piecewise", "periodic", "none"),
}
#: Rows the quantile map and the bin edges are learned from at most (a random subset beyond).
MAX_PREPROCESSING_ROWS = 100_000


class TabMNet(TorchEstimator):
    """TabM on a numeric matrix whose ``categorical_indices`` hold category codes.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Classes of the whole problem (for per-epoch reports; 0 for regression).
        arch_type: ``tabm`` (BatchEnsemble in every layer), ``tabm-mini`` (one adapter per head
            before a shared MLP) or ``tabm-packed`` (k independent MLPs).
        k: Heads of the implicit ensemble.
        n_blocks: Hidden blocks (depth).
        d_block: Hidden width.
        dropout: Dropout rate.
        numeric_embedding: ``piecewise`` (piecewise-linear, quantile bins), ``periodic`` or ``none``.
        n_bins: Quantile bins per numeric column (``piecewise``).
        d_embedding: Width of each numeric column's embedding.
        learning_rate: Learning rate (AdamW, constant).
        batch_size: Rows per step.
        max_epochs: Most epochs.
        patience: Epochs without a better validation loss before stopping (0: train all epochs).
        optimizer: ``adamw``, ``adam`` or ``sgd``.
        weight_decay: Weight decay.
        momentum: SGD momentum.
        schedule: ``constant``, ``cosine`` or ``onecycle``.
        gradient_clipping: Largest gradient norm per step (0: no clipping).
        validation_fraction: Share of rows held out for early stopping (0: none).
        target_scaling: ``standard`` (regression targets standardised while training) or ``none``.
        categorical_indices: Columns of ``X`` holding category codes (NaN = missing).
        category_counts: Levels of each of those columns.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        seed: Random seed (initial weights, batch order, dropout, split).
        n_jobs: CPU threads for torch.
    """

    def __init__(
        self, task: str = "binary", n_classes: int = 0, arch_type: str = "tabm-mini", k: int = 16, n_blocks: int = 2,
        d_block: int = 256, dropout: float = 0.1, numeric_embedding: str = "piecewise", n_bins: int = 48,
        d_embedding: int = 16, learning_rate: float = 2e-3, batch_size: int = 256, max_epochs: int = 100,
        patience: int = 16, optimizer: str = "adamw", weight_decay: float = 3e-4, momentum: float = 0.9,
        schedule: str = "constant", gradient_clipping: float = 1.0, validation_fraction: float = 0.1,
        target_scaling: str = "standard", categorical_indices: Sequence[int] = (),
        category_counts: Sequence[int] = (), device: str = "auto", seed: int = 0, n_jobs: int = 1,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.arch_type = arch_type
        self.k = k
        self.n_blocks = n_blocks
        self.d_block = d_block
        self.dropout = dropout
        self.numeric_embedding = numeric_embedding
        self.n_bins = n_bins
        self.d_embedding = d_embedding
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.schedule = schedule
        self.gradient_clipping = gradient_clipping
        self.validation_fraction = validation_fraction
        self.target_scaling = target_scaling
        self.categorical_indices = categorical_indices
        self.category_counts = category_counts
        self.device = device
        self.seed = seed
        self.n_jobs = n_jobs

    def _check_params(self) -> list[str]:
        problems = self._choice_problems(list(TABM_CHOICES.items()))
        if int(self.k) < 1 or int(self.n_blocks) < 1 or int(self.d_block) < 1 or int(self.d_embedding) < 1:
            problems.append(f"k, n_blocks, d_block and d_embedding must be >= 1, got {self.k!r}, {self.n_blocks!r}, "
                            f"{self.d_block!r}, {self.d_embedding!r}")
        if int(self.n_bins) < 2:
            problems.append(f"n_bins must be >= 2, got {self.n_bins!r}")
        if not 0 <= float(self.dropout) < 1 or float(self.gradient_clipping) < 0:
            problems.append(f"dropout must be in [0, 1) and gradient_clipping >= 0, got {self.dropout!r}, "
                            f"{self.gradient_clipping!r}")
        if len(self.categorical_indices) != len(self.category_counts):
            problems.append("categorical_indices and category_counts must have the same length")
        return problems

    def _learn_inputs(self, X: np.ndarray) -> None:
        from sklearn.preprocessing import QuantileTransformer

        categorical = {int(i) for i in self.categorical_indices}
        rng = np.random.default_rng(int(self.seed))
        sample = X if len(X) <= MAX_PREPROCESSING_ROWS else X[rng.choice(len(X), MAX_PREPROCESSING_ROWS, replace=False)]
        varied = [j for j in range(X.shape[1]) if j not in categorical and _varies(sample[:, j])]
        self.numeric_columns_ = varied
        self.indicator_columns_ = [j for j in varied if np.isnan(X[:, j]).any()]
        numeric = sample[:, varied]
        self.quantiles_ = None
        if varied:
            with empty_columns_quiet():
                self.quantiles_ = QuantileTransformer(
                    n_quantiles=max(2, min(1000, len(sample))), output_distribution="normal", subsample=None,
                    random_state=int(self.seed),
                ).fit(numeric)
            numeric = self.quantiles_.transform(numeric)
        self.medians_ = column_medians(numeric) if varied else np.empty(0)
        self.cardinalities_ = [int(c) + 1 for c in self.category_counts] + [2] * len(self.indicator_columns_)
        self.bins_ = None
        if varied and self.numeric_embedding == "piecewise":
            self.bins_ = _quantile_bins(np.where(np.isnan(numeric), self.medians_, numeric), int(self.n_bins))

    def _inputs(self, X: np.ndarray) -> list[np.ndarray]:
        numeric = X[:, self.numeric_columns_]
        if self.quantiles_ is not None:
            numeric = self.quantiles_.transform(numeric)
        out = [np.where(np.isnan(numeric), self.medians_, numeric).astype("float32")]
        if not self.numeric_columns_ and not self.cardinalities_:  # nothing varies: the net learns a bias
            out = [np.zeros((len(X), 1), dtype="float32")]
        codes = []
        if len(self.categorical_indices):
            codes.append(self._category_codes(X))
        if self.indicator_columns_:
            codes.append(np.isnan(X[:, self.indicator_columns_]))
        if codes:
            out.append(np.hstack(codes).astype("int64"))
        return out

    def _make_module(self, n_outputs: int) -> Any:
        from automl.families._tabm_modules import TabMNetwork

        n_numeric = len(self.numeric_columns_)
        embedding = self.numeric_embedding if self.bins_ is not None or self.numeric_embedding != "piecewise" else "none"
        if n_numeric == 0 and not self.cardinalities_:  # nothing varies: one zero column (see _inputs)
            n_numeric, embedding = 1, "none"
        return TabMNetwork(
            n_numeric, self.cardinalities_, embedding, self.bins_, int(self.d_embedding), self.arch_type, int(self.k),
            int(self.n_blocks), int(self.d_block), float(self.dropout), n_outputs, self.task,
        )

    def _loss(self, n_outputs: int) -> Any:
        from automl.families._tabm_modules import flatten_heads

        each = super()._loss(n_outputs)
        return lambda out, y: each(*flatten_heads(out, y))


def _varies(column: np.ndarray) -> bool:
    present = column[~np.isnan(column)]
    return len(present) > 1 and bool(present.min() < present.max())


def _quantile_bins(numeric: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Bin edges per column at ``n_bins`` quantiles (the piecewise-linear encoding's quantile bins).

    Written here rather than read from ``rtdl_num_embeddings.compute_bins``, which refuses a column with
    one distinct value and more bins than rows; both can happen in a small fold, after the median fill.
    """
    edges = []
    for column in numeric.T.astype("float64"):
        found = np.unique(np.quantile(column, np.linspace(0.0, 1.0, max(2, n_bins) + 1)))
        if len(found) < 2:
            found = np.array([found[0] - 0.5, found[0] + 0.5])
        edges.append(found)
    return edges


def build(params: Mapping[str, Any], ctx: BuildContext) -> TabMNet:
    """Build the estimator from the ``tabm`` space's parameters and the fold's context."""
    return build_net(
        TabMNet, "tabm", params, task=ctx.task, n_classes=ctx.n_classes,
        categorical_indices=tuple(ctx.categorical_indices), category_counts=tuple(ctx.category_counts),
        seed=ctx.seed, n_jobs=ctx.n_jobs, device=ctx.device,
    )


FAMILY = ModelFamily(
    pin_choices={**NET_CHOICES, **TABM_CHOICES},
    name="tabm",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="native",
    build=build,
    description="TabM (k-head parameter-efficient ensemble MLP) with piecewise-linear or periodic numeric embeddings",
    requires=("torch", "tabm", "rtdl_num_embeddings"),
    sample_weight=False,
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    packable=True,
    # Searched when named (families=[..., "tabm"]): in the default mix at 60 s on one core it lost more tables
    # than it won against the mix without it (benchmarks/README.md, "tabm").
    searched_by_default=False,
)
