"""The torch module of the ``tabm`` family (imports torch, tabm and rtdl_num_embeddings: load it only to build a net).

:class:`TabMNetwork` wraps the authors' :class:`tabm.TabM` (Gorishniy et al., 2025, "TabM: Advancing
Tabular Deep Learning with Parameter-Efficient Ensembling") with the numeric-feature embeddings of
their ``rtdl_num_embeddings`` package (Gorishniy et al., 2022, "On Embeddings for Numerical Features
in Tabular Deep Learning"). We use the maintained implementations and write only the part the
packages leave to the caller: how the k heads' outputs become one prediction.

In training mode the module returns every head's output, ``(batch, k, n_outputs)``, so each head is
trained on its own loss (the paper's recipe). In evaluation mode it returns one output per row whose
usual link gives the heads' mean prediction: for one logit ``logit(mean(sigmoid))``, for several
``log(mean(softmax))``, for regression the heads' mean. The trainer's validation loss, early stopping
and the per-epoch reports then all see the ensemble, as in the paper.

Example:
    >>> import torch
    >>> net = TabMNetwork(3, [2], "none", None, 8, "tabm-mini", 4, 1, 16, 0.0, 1, "binary")
    >>> x_num, x_cat = torch.zeros(5, 3), torch.zeros(5, 1, dtype=torch.long)
    >>> net.train()(x_num, x_cat).shape, net.eval()(x_num, x_cat).shape
    (torch.Size([5, 4, 1]), torch.Size([5, 1]))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["TabMNetwork", "flatten_heads"]


def _numeric_embeddings(kind: str, n_numeric: int, bins: Sequence[np.ndarray] | None, d_embedding: int) -> nn.Module | None:
    import rtdl_num_embeddings as rne

    if kind == "none" or n_numeric == 0:
        return None
    if kind == "periodic":
        # PeriodicEmbeddings(lite=False) is the "PLR" variant the TabM paper pairs with TabM.
        return rne.PeriodicEmbeddings(n_numeric, d_embedding, lite=False)
    if kind == "piecewise":
        edges = [torch.as_tensor(np.asarray(b, dtype="float32")) for b in (bins or [])]
        with warnings.catch_warnings():  # a two-valued column has one bin: the package warns, nothing breaks
            warnings.simplefilter("ignore", UserWarning)
            return rne.PiecewiseLinearEmbeddings(edges, d_embedding, activation=False, version="B")
    raise ValueError(f"numeric_embedding must be 'piecewise', 'periodic' or 'none', got {kind!r}")


class TabMNetwork(nn.Module):
    """TabM over numeric columns and categorical codes, averaging its k heads when evaluated.

    Args:
        n_numeric: Numeric input columns.
        cardinalities: Codes per categorical column (code 0 = missing or unseen); one-hot inside TabM.
        numeric_embedding: ``piecewise`` (needs ``bins``), ``periodic`` or ``none``.
        bins: Bin edges per numeric column (from ``rtdl_num_embeddings.compute_bins``), for ``piecewise``.
        d_embedding: Width of each numeric column's embedding.
        arch_type: ``tabm``, ``tabm-mini`` or ``tabm-packed``.
        k: Heads (implicit ensemble members).
        n_blocks: Hidden blocks.
        d_block: Hidden width.
        dropout: Dropout rate.
        n_outputs: Outputs per head (1 for binary and regression).
        task: ``binary``, ``multiclass`` or ``regression`` (how the heads are averaged).
    """

    def __init__(
        self, n_numeric: int, cardinalities: Sequence[int], numeric_embedding: str, bins: Sequence[np.ndarray] | None,
        d_embedding: int, arch_type: str, k: int, n_blocks: int, d_block: int, dropout: float, n_outputs: int,
        task: str,
    ) -> None:
        from tabm import TabM

        super().__init__()
        self.n_numeric = int(n_numeric)
        self.task = task
        self.net = TabM.make(
            n_num_features=self.n_numeric, cat_cardinalities=list(cardinalities) or None, d_out=int(n_outputs),
            num_embeddings=_numeric_embeddings(numeric_embedding, self.n_numeric, bins, int(d_embedding)),
            arch_type=arch_type, k=int(k), n_blocks=int(n_blocks), d_block=int(d_block), dropout=float(dropout),
        )

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor | None = None) -> torch.Tensor:
        # TabM.forward's own steps, joining the features with ``torch.cat`` where it calls
        # ``torch.column_stack``, which has no ``vmap`` rule: packed training (packed_training.py)
        # runs this forward under ``vmap``. The tests check it against ``self.net(x_num, x_cat)``.
        net = self.net
        parts = []
        if self.n_numeric:
            parts.append(x_num if net.num_module is None else net.num_module(x_num))
        if x_cat is not None and net.cat_module is not None:
            parts.append(net.cat_module(x_cat))
        out = net.backbone(net.ensemble_view(torch.cat([p.flatten(1, -1) for p in parts], dim=1)))
        if net.output is not None:
            out = net.output(out)
        return out if self.training else self._mean_of_heads(out.float())

    def _mean_of_heads(self, out: torch.Tensor) -> torch.Tensor:
        log_k = math.log(out.shape[1])
        if self.task == "regression":
            return out.mean(dim=1)
        if out.shape[-1] == 1:  # logit of the heads' mean probability, in log space (stable)
            positive = torch.logsumexp(F.logsigmoid(out), dim=1) - log_k
            negative = torch.logsumexp(F.logsigmoid(-out), dim=1) - log_k
            return positive - negative
        return torch.logsumexp(F.log_softmax(out, dim=-1), dim=1) - log_k


def flatten_heads(out: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Training outputs ``(batch, k, d)`` and targets ``(batch,)`` as ``(batch * k, d)`` and ``(batch * k,)``
    (each head scored on every row); an evaluated ``(batch, d)`` output passes unchanged."""
    if out.ndim != 3:
        return out, target
    return out.reshape(-1, out.shape[-1]), target.repeat_interleave(out.shape[1])
