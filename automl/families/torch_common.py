"""What the torch families share: device choice, a resident-tensor training loop, early stopping.

The whole training matrix is moved to the device once; every epoch draws a
permutation and slices batches from the resident tensors by index, so the hot
loop never goes through a per-sample ``DataLoader``. On CUDA the forward pass
runs under bf16 autocast, and an out-of-memory error halves the batch size and
retries (up to :data:`MAX_OOM_RETRIES` times) before the trial fails with that
reason. On the CPU torch gets the worker's share of threads and training is
deterministic for a seed. After each epoch the validation loss decides early
stopping (the best epoch's weights are restored) and the validation scores go
to :func:`automl.families.epochs.report_epoch`, so the search can prune.

torch is imported inside the functions: importing this module is light.

Example:
    >>> import torch
    >>> X = torch.linspace(-1, 1, 64).reshape(-1, 1); y = 2 * X
    >>> config = TrainConfig(learning_rate=0.1, batch_size=16, max_epochs=60, patience=0, optimizer="sgd",
    ...                      momentum=0.0)
    >>> module, result = train(lambda: torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, (X,), y, None,
    ...                        config, torch.device("cpu"), seed=0)
    >>> round(module.weight.item(), 2), result.epochs_run
    (2.0, 60)
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl._device import DEVICE_PATTERN, device_problems, free_accelerator_memory
from automl._threads import SharedLimit

__all__ = [
    "DEVICE_PATTERN",
    "MAX_OOM_RETRIES",
    "TrainConfig",
    "TrainResult",
    "device_problems",
    "free_accelerator_memory",
    "halving_on_oom",
    "predict_outputs",
    "resolve_device",
    "torch_runtime",
    "torch_threads",
    "train",
]

logger = logging.getLogger("automl")

#: Halvings of the batch size tried after a CUDA out-of-memory error.
MAX_OOM_RETRIES = 3
#: The batch size is capped so that an epoch has at least this many steps (small data).
MIN_STEPS_PER_EPOCH = 8
#: Rows per forward pass when predicting.
PREDICT_BATCH = 8192
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle")
#: The names of ``_torch_modules.ACTIVATIONS`` and ``NORMALIZATIONS``, here without importing torch.
ACTIVATION_NAMES = ("relu", "gelu", "silu", "tanh")
NORMALIZATION_NAMES = ("none", "batch", "layer")
#: Every value the nets' trainer takes for its categorical parameters (a user may pin any of them).
NET_CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "target_scaling": ("standard", "none"),
}


def resolve_device(device: str = "auto") -> Any:
    """The ``torch.device`` for a setting: ``auto`` picks CUDA, then MPS, then the CPU.

    Raises:
        ValueError: the named accelerator is not available on this machine.

    Example:
        >>> resolve_device("cpu").type
        'cpu'
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available on this machine; use device='auto' or 'cpu'")
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r} but MPS is not available on this machine; use device='auto' or 'cpu'")
    return chosen


@contextlib.contextmanager
def torch_runtime(seed: int, n_threads: int) -> Iterator[None]:
    """Seed torch (restoring the caller's CPU random state after) and cap its CPU threads: for training."""
    import torch

    with torch_threads(n_threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def torch_threads(n_threads: int) -> Any:
    """Cap torch's CPU threads inside the block, the caller's count restored after, also when several threads
    predict at once (:class:`automl._threads.SharedLimit`): for predicting, which draws no random numbers (a seed
    there reset the caller's torch random state when two threads' saves and restores interleaved)."""
    import torch

    def apply() -> Any:
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, int(n_threads)))
        return lambda: torch.set_num_threads(previous)

    return _TORCH_THREADS.held(apply)


_TORCH_THREADS = SharedLimit()


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimiser, schedule, batches, epochs and early stopping.

    Attributes:
        learning_rate: Peak learning rate.
        batch_size: Rows per step (capped at 1/:data:`MIN_STEPS_PER_EPOCH` of the training rows).
        max_epochs: Most passes over the training rows.
        patience: Epochs without a better validation loss before stopping; 0 trains every epoch.
        optimizer: ``adamw``, ``adam`` or ``sgd`` (with ``momentum``, Nesterov when momentum > 0).
        weight_decay: Decoupled (AdamW) or L2 (Adam, SGD) weight decay.
        momentum: SGD momentum.
        schedule: ``constant``, ``cosine`` (to zero over ``max_epochs``) or ``onecycle``.
        gradient_clipping: Largest gradient norm per step (0: no clipping).
    """

    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 10
    optimizer: str = "adamw"
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "constant"
    gradient_clipping: float = 0.0


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        best_epoch: 0-based epoch whose weights were kept (the last one without validation).
        epochs_run: Epochs trained.
        batch_size: Batch size used (smaller than asked after out-of-memory retries).
        train_loss: Mean training loss per epoch.
        valid_loss: Validation loss per epoch (empty without validation rows).
        time_capped: Training ended because its time for the fold was spent.
    """

    best_epoch: int
    epochs_run: int
    batch_size: int
    train_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    time_capped: bool = False


def _optimizer(config: TrainConfig, parameters: Any) -> Any:
    import torch

    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.learning_rate, momentum=config.momentum,
            nesterov=config.momentum > 0, weight_decay=config.weight_decay,
        )
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {config.optimizer!r}")


def _schedule(config: TrainConfig, optimizer: Any, total_steps: int) -> Any:
    import torch

    if config.schedule == "constant":
        return None
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.learning_rate, total_steps=max(2, total_steps)
        )
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {config.schedule!r}")


def _autocast(device: Any, enabled: bool | None) -> Any:
    """bf16 autocast on CUDA (``enabled`` None), or as ``enabled`` says; a null context otherwise."""
    import torch

    if device.type == "cuda" and enabled is not False:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def predict_outputs(module: Any, inputs: Sequence[Any], batch_size: int = PREDICT_BATCH,
                    autocast: bool | None = None) -> Any:
    """Forward ``inputs`` (tensors on the module's device) in chunks, without gradients; float32 outputs
    (``autocast``: bf16 on CUDA when None or True)."""
    import torch

    device = inputs[0].device
    context = _autocast(device, autocast)
    module.eval()
    n = inputs[0].shape[0]
    chunks = []
    with torch.no_grad(), context:
        for start in range(0, n, batch_size):
            chunks.append(module(*(t[start : start + batch_size] for t in inputs)).float())
    if not chunks:
        with torch.no_grad():
            return module(*inputs).float()
    return torch.cat(chunks)


def halving_on_oom(run: Callable[[int], Any], batch_size: int, asked: int, what: str = "",
                   advice: str = "use a smaller batch_size or a smaller network") -> Any:
    """``run(batch_size)``; after an out-of-memory error, the accelerator's cache emptied and ``run`` again at
    half the batch, at most :data:`MAX_OOM_RETRIES` times (``asked``: the batch size configured; ``what``:
    words after the batch size in the messages, such as ``" (a pack of 4)"``).

    Raises:
        RuntimeError: still out of memory after the last halving, or at batch size 1.

    Example:
        >>> halving_on_oom(lambda size: size, 256, 256)
        256
    """
    for attempt in range(MAX_OOM_RETRIES + 1):
        try:
            return run(batch_size)
        except Exception as exc:
            if not is_oom(exc):
                raise
            free_accelerator_memory()
            if attempt == MAX_OOM_RETRIES or batch_size == 1:
                raise RuntimeError(f"out of GPU memory at batch size {batch_size} after {attempt} halvings of "
                                   f"{asked}{what}; {advice}") from None
            logger.warning("out of GPU memory at batch size %d%s; retrying with %d", batch_size, what, batch_size // 2)
            batch_size //= 2
    raise AssertionError("unreachable")  # pragma: no cover


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's out-of-memory error (the trainers then halve the batch)."""
    import torch

    return isinstance(exc, torch.OutOfMemoryError)


def diverged_message(train_loss: float, epoch: int, learning_rate: float) -> str:
    """The reason a net whose training loss stopped being finite at ``epoch`` (0-based) fails.

    Example:
        >>> diverged_message(float("nan"), 2, 0.5)
        'training diverged: the training loss is nan at epoch 3; lower the learning rate (it was 0.5) or add normalisation'
    """
    return (f"training diverged: the training loss is {train_loss} at epoch {epoch + 1}; "
            f"lower the learning rate (it was {learning_rate:.3g}) or add normalisation")


def train(
    make_module: Callable[[], Any],
    loss_fn: Callable[[Any, Any], Any],
    inputs: Sequence[Any],
    target: Any,
    valid: tuple[Sequence[Any], Any] | None,
    config: TrainConfig,
    device: Any,
    *,
    seed: int = 0,
    augment: Callable[[Sequence[Any], Any], Sequence[Any]] | None = None,
    on_epoch: Callable[[int, Any], Any] | None = None,
    autocast: bool | None = None,
) -> tuple[Any, TrainResult]:
    """Train a fresh module on resident tensors, halving the batch on CUDA out-of-memory.

    Args:
        make_module: Builds a fresh, randomly initialised module (called again on a retry).
        loss_fn: ``loss_fn(outputs, target_batch)``, a scalar tensor.
        inputs: Training input tensors (same first dimension); moved to ``device`` once.
        target: Training target tensor.
        valid: ``(inputs, target)`` of the validation rows for early stopping, or None.
        config: The :class:`TrainConfig`.
        device: ``torch.device`` to train on.
        seed: Seed of the batch order (and of ``augment``'s draws).
        augment: ``augment(batch_inputs, generator) -> batch_inputs``, applied to training batches.
        on_epoch: ``on_epoch(epoch, valid_outputs) -> stop`` after each epoch with validation
            rows; a true return ends the training there (best epoch kept, ``time_capped`` set);
            an exception propagates.
        autocast: bf16 autocast of the forward passes on CUDA (None or True; False: float32).

    Returns:
        The trained module (best validation epoch restored) and a :class:`TrainResult`.

    Raises:
        RuntimeError: still out of memory after :data:`MAX_OOM_RETRIES` halvings.
        FloatingPointError: the training loss became NaN or infinite.
    """
    inputs = [t.to(device) for t in inputs]
    target = target.to(device)
    if valid is not None:
        valid = ([t.to(device) for t in valid[0]], valid[1].to(device))
    batch_size = max(1, min(int(config.batch_size), math.ceil(int(target.shape[0]) / MIN_STEPS_PER_EPOCH)))
    return halving_on_oom(
        lambda size: _train_once(make_module, loss_fn, inputs, target, valid, config, device, size, seed, augment,
                                 on_epoch, autocast),
        batch_size, int(config.batch_size))


def _train_once(
    make_module: Callable[[], Any], loss_fn: Callable[[Any, Any], Any], inputs: Sequence[Any], target: Any,
    valid: tuple[Sequence[Any], Any] | None, config: TrainConfig, device: Any, batch_size: int, seed: int,
    augment: Callable[[Sequence[Any], Any], Sequence[Any]] | None, on_epoch: Callable[[int, Any], Any] | None,
    use_autocast: bool | None = None,
) -> tuple[Any, TrainResult]:
    import torch

    module = make_module().to(device)
    optimizer = _optimizer(config, module.parameters())
    n = int(target.shape[0])
    starts = [s for s in range(0, n, batch_size) if n - s >= 2 or s == 0]  # no 1-row tail (batch norm)
    scheduler = _schedule(config, optimizer, len(starts) * config.max_epochs)
    generator = torch.Generator().manual_seed(int(seed))
    autocast = _autocast(device, use_autocast)
    result = TrainResult(best_epoch=-1, epochs_run=0, batch_size=batch_size)
    best_loss, best_state, stale = math.inf, None, 0
    for epoch in range(int(config.max_epochs)):
        module.train()
        order = torch.randperm(n, generator=generator).to(device, non_blocking=True)
        total = torch.zeros((), device=device)
        for start in starts:
            index = order[start : start + batch_size]
            batch: Sequence[Any] = [t[index] for t in inputs]
            if augment is not None:
                batch = augment(batch, generator)
            with autocast:
                outputs = module(*batch)
            loss = loss_fn(outputs.float(), target[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.gradient_clipping > 0:
                torch.nn.utils.clip_grad_norm_(module.parameters(), config.gradient_clipping)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.detach() * len(index)
        train_loss = float(total) / n  # one device sync per epoch
        result.train_loss.append(train_loss)
        result.epochs_run = epoch + 1
        if not math.isfinite(train_loss):
            raise FloatingPointError(diverged_message(train_loss, epoch, config.learning_rate))
        if valid is None:
            result.best_epoch = epoch
            continue
        outputs = predict_outputs(module, valid[0], autocast=use_autocast)
        valid_loss = float(loss_fn(outputs, valid[1]))
        result.valid_loss.append(valid_loss)
        if valid_loss < best_loss:
            best_loss, stale, result.best_epoch = valid_loss, 0, epoch
            best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        else:
            stale += 1
        if on_epoch is not None and on_epoch(epoch, outputs):
            result.time_capped = True
            break
        if config.patience and stale >= config.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return module, result


def module_to_cpu(module: Any) -> Any:
    """A CPU copy of ``module`` (for pickling a model trained on an accelerator)."""
    return copy.deepcopy(module).cpu()


def as_numpy(tensor: Any) -> np.ndarray:
    """A float64 NumPy copy of a tensor on any device."""
    return tensor.detach().float().cpu().numpy().astype("float64")
