"""The torch modules of the net families (this module imports torch: load it only to build a net).

- :class:`TabularMLP`: numeric inputs plus categorical embeddings (or one-hot),
  then either a plain MLP (constant or funnel widths) or a residual MLP with
  ResNet-style blocks ``x + Dropout(Linear(Dropout(Act(Linear(Norm(x))))))``
  (Gorishniy et al., 2021, "Revisiting Deep Learning Models for Tabular Data").
- :class:`ConvNet`: ``n_blocks`` of Conv-[BatchNorm]-Act-Pool with filters doubling
  per block, then a dense head.

Example:
    >>> import torch
    >>> net = TabularMLP(3, [4], "embedding", 2, "resnet", 2, 16, "constant", 0.0, "relu", "layer", 1)
    >>> net(torch.zeros(5, 3), torch.zeros(5, 1, dtype=torch.long)).shape
    torch.Size([5, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ACTIVATIONS", "NORMALIZATIONS", "ConvNet", "TabularMLP"]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "tanh": nn.Tanh}
NORMALIZATIONS = ("none", "batch", "layer")


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    return nn.Identity()


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float, activation: str, normalization: str) -> None:
        super().__init__()
        self.norm = _norm(normalization, width)
        self.linear1 = nn.Linear(width, 2 * width)
        self.activation = ACTIVATIONS[activation]()
        self.dropout1 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(2 * width, width)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout1(self.activation(self.linear1(self.norm(x))))
        return x + self.dropout2(self.linear2(h))


class TabularMLP(nn.Module):
    """MLP or residual MLP over numeric columns and categorical codes.

    Args:
        n_numeric: Width of the numeric input.
        cardinalities: Codes per categorical column (code 0 = missing or unseen).
        categorical_encoding: ``embedding`` or ``onehot``.
        embedding_dim: Largest embedding width (a column with few levels gets fewer).
        architecture: ``mlp`` or ``resnet``.
        n_layers: Hidden layers (``mlp``) or residual blocks (``resnet``); 0 is a linear model.
        width: Hidden width (the first layer's, for a funnel).
        shape: ``constant`` or ``funnel`` (each layer half the previous, at least 8) for ``mlp``.
        dropout: Dropout after each hidden layer.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.
        normalization: ``none``, ``batch`` or ``layer``.
        n_outputs: Output width.
    """

    def __init__(
        self, n_numeric: int, cardinalities: Sequence[int], categorical_encoding: str, embedding_dim: int,
        architecture: str, n_layers: int, width: int, shape: str, dropout: float, activation: str,
        normalization: str, n_outputs: int,
    ) -> None:
        super().__init__()
        self.cardinalities = [int(c) for c in cardinalities]
        self.onehot = categorical_encoding == "onehot"
        if self.onehot:
            self.embeddings = nn.ModuleList()
            d_in = n_numeric + sum(self.cardinalities)
        else:
            dims = [max(1, min(int(embedding_dim), (c + 1) // 2)) for c in self.cardinalities]
            self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(self.cardinalities, dims))
            d_in = n_numeric + sum(dims)
        layers: list[nn.Module] = []
        if architecture == "resnet" and n_layers > 0:
            layers.append(nn.Linear(d_in, width))
            layers += [_ResidualBlock(width, dropout, activation, normalization) for _ in range(n_layers)]
            layers += [_norm(normalization, width), ACTIVATIONS[activation]()]
            last = width
        else:
            last = d_in
            for i in range(n_layers):
                size = width if shape == "constant" else max(8, width // 2**i)
                layers += [nn.Linear(last, size), _norm(normalization, size), ACTIVATIONS[activation](),
                           nn.Dropout(dropout)]
                last = size
        layers.append(nn.Linear(last, n_outputs))
        self.body = nn.Sequential(*layers)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor | None = None) -> torch.Tensor:
        parts = [numeric]
        if categorical is not None:
            for i, cardinality in enumerate(self.cardinalities):
                codes = categorical[:, i]
                if self.onehot:
                    parts.append(F.one_hot(codes, cardinality).to(numeric.dtype))
                else:
                    parts.append(self.embeddings[i](codes))
        return self.body(torch.cat(parts, dim=1))


class ConvNet(nn.Module):
    """Conv blocks (filters doubling per block, 2×2 pooling while the map is at least 2×2), then a dense head.

    Args:
        in_channels: Image channels.
        height: Image height.
        width: Image width.
        n_blocks: Conv blocks.
        filters: Filters of the first block.
        kernel_size: Odd kernel size (same padding).
        pooling: ``max`` or ``avg``.
        head_width: Width of the dense layer before the output (0: none).
        dropout: Dropout before each dense layer.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.
        batch_norm: Batch normalisation after each convolution.
        n_outputs: Output width.
    """

    def __init__(
        self, in_channels: int, height: int, width: int, n_blocks: int, filters: int, kernel_size: int,
        pooling: str, head_width: int, dropout: float, activation: str, batch_norm: bool, n_outputs: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, h, w = in_channels, height, width
        for block in range(n_blocks):
            out = int(filters) * 2**block
            layers.append(nn.Conv2d(channels, out, kernel_size, padding=kernel_size // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(ACTIVATIONS[activation]())
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
                h, w = h // 2, w // 2
            channels = out
        layers.append(nn.Flatten())
        flat = channels * h * w
        if head_width > 0:
            layers += [nn.Dropout(dropout), nn.Linear(flat, head_width), ACTIVATIONS[activation]()]
            flat = head_width
        layers += [nn.Dropout(dropout), nn.Linear(flat, n_outputs)]
        self.body = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)
