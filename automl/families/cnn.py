"""``cnn``: a tuned convolutional net in PyTorch for images.

Images reach a model as pixel columns (channels last, row-major) with
``BuildContext.image_shape`` set: ``automl.fit`` flattens an array shaped
``(N, H, W)`` or ``(N, H, W, C)``, or takes a frame of pixel columns with
``image_shape=``. Pixels are standardised per channel on the training rows
(missing pixels become 0). Searched: conv blocks, filters, kernel size, pooling,
dense head width, dropout, learning rate, batch size, optimiser, schedule and
augmentation (random horizontal flips and shifts of up to a tenth of the side).

Example:
    >>> import numpy as np
    >>> from automl.families.base import BuildContext
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 16)); y = (X[:, :8].mean(axis=1) > 0).astype(int)
    >>> ctx = BuildContext("binary", 2, 120, 16, image_shape=(4, 4, 1))
    >>> net = FAMILY.build({**FAMILY.space().defaults(), "max_epochs": 3}, ctx).fit(X, y)
    >>> net.predict_proba(X[:3]).shape
    (3, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from automl.families.base import BuildContext, ModelFamily
from automl.families.torch_common import ACTIVATION_NAMES, NET_CHOICES
from automl.families.torch_estimator import (
    TorchEstimator,
    build_net,
    fitted_hints,
    learning_curves,
    refit_params,
)

__all__ = ["FAMILY", "ConvNetClassifier", "AUGMENTATIONS"]

AUGMENTATIONS = ("none", "shift", "flip", "flip_shift")
#: Every value the estimator takes for its own categorical parameters (a user may pin any of them).
CNN_CHOICES: dict[str, tuple[str, ...]] = {
    "pooling": ("max", "avg"), "activation": ACTIVATION_NAMES, "augmentation": AUGMENTATIONS,
}


class ConvNetClassifier(TorchEstimator):
    """A CNN on pixel columns of ``image_shape`` images (it also regresses, despite the name).

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: Classes of the whole problem (0 for regression).
        image_shape: ``(height, width, channels)`` of the images.
        n_blocks: Conv blocks (each: conv, optional batch norm, activation, 2×2 pooling).
        filters: Filters of the first block, doubled in each next block.
        kernel_size: Odd kernel size.
        pooling: ``max`` or ``avg``.
        head_width: Dense layer width before the output (0: none).
        dropout: Dropout before the dense layers.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.
        batch_norm: Batch normalisation after each convolution.
        augmentation: ``none``, ``shift``, ``flip`` or ``flip_shift``.
        learning_rate: Peak learning rate.
        batch_size: Images per step.
        max_epochs: Most epochs.
        patience: Epochs without improvement before stopping (0: train all epochs).
        optimizer: ``adamw``, ``adam`` or ``sgd``.
        weight_decay: Weight decay.
        momentum: SGD momentum.
        schedule: ``constant``, ``cosine`` or ``onecycle``.
        validation_fraction: Share of rows held out for early stopping (0: none).
        target_scaling: ``standard`` or ``none`` (regression).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        seed: Random seed.
        n_jobs: CPU threads for torch.
    """

    def __init__(
        self, task: str = "multiclass", n_classes: int = 0, image_shape: Sequence[int] | None = None,
        n_blocks: int = 2, filters: int = 32, kernel_size: int = 3, pooling: str = "max", head_width: int = 128,
        dropout: float = 0.2, activation: str = "relu", batch_norm: bool = True, augmentation: str = "none",
        learning_rate: float = 2e-3, batch_size: int = 64, max_epochs: int = 60, patience: int = 8,
        optimizer: str = "adamw", weight_decay: float = 1e-5, momentum: float = 0.9, schedule: str = "constant",
        validation_fraction: float = 0.1, target_scaling: str = "standard", device: str = "auto", seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.task = task
        self.n_classes = n_classes
        self.image_shape = image_shape
        self.n_blocks = n_blocks
        self.filters = filters
        self.kernel_size = kernel_size
        self.pooling = pooling
        self.head_width = head_width
        self.dropout = dropout
        self.activation = activation
        self.batch_norm = batch_norm
        self.augmentation = augmentation
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
        self.device = device
        self.seed = seed
        self.n_jobs = n_jobs

    def _check_params(self) -> list[str]:
        problems = []
        shape = self.image_shape
        if shape is None or len(shape) != 3 or any(int(s) < 1 for s in shape):
            problems.append(
                f"image_shape must be (height, width, channels), got {shape!r}; pass images as an array "
                "shaped (N, H, W) or (N, H, W, C), or pixel columns with image_shape="
            )
        problems += self._choice_problems(list(CNN_CHOICES.items()))
        if int(self.kernel_size) < 1 or int(self.kernel_size) % 2 == 0:
            problems.append(f"kernel_size must be an odd positive number, got {self.kernel_size!r}")
        if int(self.n_blocks) < 1 or int(self.filters) < 1 or int(self.head_width) < 0:
            problems.append("n_blocks and filters must be >= 1 and head_width >= 0")
        return problems

    def _shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``; a CNN needs an image shape."""
        if self.image_shape is None:
            raise ValueError("the cnn family needs image_shape= (or image arrays shaped (N, H, W[, C]))")
        height, width, *rest = (int(s) for s in self.image_shape)
        return height, width, rest[0] if rest else 1

    def _learn_inputs(self, X: np.ndarray) -> None:
        height, width, channels = self._shape()
        if X.shape[1] != height * width * channels:
            raise ValueError(
                f"X has {X.shape[1]} columns but image_shape={(height, width, channels)} needs "
                f"{height * width * channels} pixel columns"
            )
        pixels = np.nan_to_num(X).reshape(len(X), height * width, channels)
        self.channel_means_ = pixels.mean(axis=(0, 1)) if len(X) else np.zeros(channels)
        std = pixels.std(axis=(0, 1)) if len(X) else np.ones(channels)
        self.channel_scales_ = np.where(std > 0, std, 1.0)

    def _inputs(self, X: np.ndarray) -> list[np.ndarray]:
        height, width, channels = self._shape()
        images = (np.nan_to_num(X).reshape(len(X), height, width, channels) - self.channel_means_) / self.channel_scales_
        return [np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype="float32")]

    def _make_module(self, n_outputs: int) -> Any:
        from automl.families._torch_modules import ConvNet

        height, width, channels = self._shape()
        return ConvNet(
            channels, height, width, int(self.n_blocks), int(self.filters), int(self.kernel_size), self.pooling,
            int(self.head_width), float(self.dropout), self.activation, bool(self.batch_norm), n_outputs,
        )

    def _augment(self) -> Any:
        if self.augmentation == "none":
            return None
        flip = "flip" in self.augmentation
        shift = max(1, round(0.1 * min(self._shape()[:2]))) if "shift" in self.augmentation else 0
        return _Augment(flip, shift)


class _Augment:
    """Random horizontal flips (per image) and one random shift per batch, zero-filled."""

    def __init__(self, flip: bool, shift: int) -> None:
        self.flip = flip
        self.shift = shift

    def __call__(self, batch: Sequence[Any], generator: Any) -> list[Any]:
        import torch
        from torch.nn import functional as F

        images = batch[0]
        if self.flip:
            mask = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
            images = torch.where(mask[:, None, None, None], images.flip(-1), images)
        if self.shift:
            s = self.shift
            dy, dx = (int(v) for v in torch.randint(-s, s + 1, (2,), generator=generator))
            padded = F.pad(images, (s, s, s, s))
            h, w = images.shape[-2:]
            images = padded[..., s + dy : s + dy + h, s + dx : s + dx + w]
        return [images, *batch[1:]]


def build(params: Mapping[str, Any], ctx: BuildContext) -> ConvNetClassifier:
    """Build the estimator from the ``cnn`` space's parameters and the fold's image shape."""
    return build_net(
        ConvNetClassifier, "cnn", params, task=ctx.task, n_classes=ctx.n_classes, image_shape=ctx.image_shape,
        seed=ctx.seed, n_jobs=ctx.n_jobs, device=ctx.device,
    )

FAMILY = ModelFamily(
    pin_choices={**NET_CHOICES, **CNN_CHOICES},
    name="cnn",
    tasks=frozenset({"binary", "multiclass", "regression"}),
    encoding="ordinal",
    build=build,
    description="PyTorch CNN for images: conv blocks, pooling, dense head, optional flips and shifts",
    requires=("torch",),
    sample_weight=False,
    refit_params=refit_params,
    fitted_hints=fitted_hints,
    learning_curves=learning_curves,
    inputs=frozenset({"image"}),
)
