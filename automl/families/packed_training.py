"""Several networks of one shape trained as one stacked model: each member its own learning rate,
weight decay, gradient clipping, epochs, early stopping and pruning.

The members' parameters are stacked along a new first dimension (``torch.func.stack_module_state``)
and one forward and backward pass serves them all (``torch.func.vmap`` over ``functional_call`` of a
template module), so a step costs about as many kernel launches as one member's. The members see the
same batches (one batch order, from the pack's seed) and each is initialised as it would be alone
(``torch.manual_seed(seed)`` before its ``make_module``), so a member ends where the same
configuration trained alone by :func:`~automl.families.torch_common.train` ends, up to float rounding
(dropout masks aside: they are drawn per member). Members that stop (patience, their epochs, their
pruning or time, a diverged loss, a report that raises) leave the stack at once: the remaining
members go on, and the finished ones cost nothing more.

Why the optimiser step is written here: ``torch.optim`` takes one learning rate per parameter group,
and a group cannot be a slice of a stacked tensor, so per-member learning rates and decays are applied
by the vectorised Adam(W) update below (the same arithmetic as ``torch.optim.AdamW``'s, checked
against it in the tests). Only the ``adamw`` and ``adam`` optimisers with a ``constant`` or ``cosine``
schedule are packed (:func:`packable`); other configurations train alone.

torch is imported inside the functions: importing this module is light.

Example:
    >>> import torch
    >>> X = torch.linspace(-1, 1, 64).reshape(-1, 1); y = 2 * X.squeeze(-1)
    >>> members = [PackMember(lambda: torch.nn.Linear(1, 1), TrainConfig(learning_rate=lr, batch_size=16,
    ...            max_epochs=200, patience=0)) for lr in (0.05, 0.001)]
    >>> loss = lambda out, target: torch.nn.functional.mse_loss(out.squeeze(-1), target)
    >>> done = train_packed(members, loss, (X,), y, None, torch.device("cpu"), seed=0)
    >>> [round(d.module.weight.item(), 1) for d in done]  # the fast learner reached 2, the slow one did not
    [2.0, 1.2]
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from automl.exceptions import InvalidParameterError
from automl.families.torch_common import (
    MIN_STEPS_PER_EPOCH,
    PREDICT_BATCH,
    TrainConfig,
    TrainResult,
    diverged_message,
    halving_on_oom,
)

__all__ = ["PACKED_OPTIMIZERS", "PACKED_SCHEDULES", "PACK_MEMORY_SHARE", "MemberOutcome", "PackMember", "member_bytes",
           "packable", "train_packed"]

logger = logging.getLogger("automl")

#: The optimisers and schedules the packed step implements.
PACKED_OPTIMIZERS = ("adamw", "adam")
PACKED_SCHEDULES = ("constant", "cosine")
#: torch.optim.Adam(W)'s defaults, which the trainer's configurations use.
_BETAS = (0.9, 0.999)
_EPS = 1e-8
#: On CUDA a pack may take this share of the device's free memory (free when the pack starts, so processes
#: sharing the device are counted) by :func:`member_bytes`; more members train as consecutive sub-packs.
PACK_MEMORY_SHARE = 0.6
#: Rows of the forward pass :func:`member_bytes` measures the saved activations on (scaled to the batch).
_PROBE_ROWS = 32


@dataclass
class PackMember:
    """One configuration of a pack.

    Attributes:
        make_module: Builds the member's fresh module (called under ``torch.manual_seed(init_seed)``).
        config: Its training configuration (see :func:`packable` for what must match across the pack).
        on_epoch: ``on_epoch(epoch, valid_outputs) -> stop`` after each epoch with validation rows, as in
            :func:`~automl.families.torch_common.train`; an exception ends this member only.
        init_seed: Seed of the member's initialisation (None: the pack's seed, as when trained alone).
    """

    make_module: Callable[[], Any]
    config: TrainConfig
    on_epoch: Callable[[int, Any], Any] | None = None
    init_seed: int | None = None


@dataclass
class MemberOutcome:
    """What became of a member: its trained module and result, or the exception that ended it.

    Attributes:
        module: The trained module (best validation epoch restored), None when ``error`` is set.
        result: Its :class:`~automl.families.torch_common.TrainResult`.
        error: What ended the member early (a report that raised, a diverged loss), else None.
    """

    module: Any = None
    result: TrainResult | None = None
    error: BaseException | None = None


def packable(configs: Sequence[TrainConfig]) -> list[str]:
    """Why these configurations cannot share a pack (empty: they can).

    They must share the optimiser (``adamw`` or ``adam``), the schedule (``constant`` or ``cosine``) and
    the batch size; with ``cosine`` also ``max_epochs`` (the schedule's length). Learning rate, weight
    decay, gradient clipping, patience and (under ``constant``) epochs may differ.

    Example:
        >>> packable([TrainConfig(learning_rate=1e-3), TrainConfig(learning_rate=1e-2, weight_decay=1e-4)])
        []
        >>> packable([TrainConfig(batch_size=64), TrainConfig(batch_size=128)])
        ['the members must share batch_size, got [64, 128]']
    """
    problems = []
    for name, allowed in (("optimizer", PACKED_OPTIMIZERS), ("schedule", PACKED_SCHEDULES)):
        values = sorted({getattr(c, name) for c in configs})
        bad = [v for v in values if v not in allowed]
        if bad:
            problems.append(f"{name} {bad[0]!r} is not packed (packed: {allowed}); train it alone")
    shared = ["optimizer", "schedule", "batch_size"]
    if any(c.schedule == "cosine" for c in configs):
        shared.append("max_epochs")
    for name in shared:
        values = sorted({getattr(c, name) for c in configs})
        if len(values) > 1:
            problems.append(f"the members must share {name}, got {values}")
    return problems


def train_packed(
    members: Sequence[PackMember],
    loss_fn: Callable[[Any, Any], Any],
    inputs: Sequence[Any],
    target: Any,
    valid: tuple[Sequence[Any], Any] | None,
    device: Any,
    *,
    seed: int = 0,
    autocast: bool | None = None,
    memory_bytes: float | None = None,
) -> list[MemberOutcome]:
    """Train the members as one stacked model on resident tensors; on CUDA out-of-memory, halve the batch.

    A pack larger than the memory it may use (by :func:`member_bytes`) trains as consecutive sub-packs.

    Args:
        members: The configurations (:func:`packable` must find no problem).
        loss_fn: ``loss_fn(outputs, target_batch)`` of one member, a scalar tensor (vectorised with ``vmap``).
        inputs: Training input tensors (same first dimension); moved to ``device`` once.
        target: Training target tensor.
        valid: ``(inputs, target)`` of the validation rows for early stopping, or None.
        device: ``torch.device`` to train on.
        seed: Seed of the batch order (and of the members' initialisation unless they have their own).
        autocast: bf16 autocast of the forward pass (None: on CUDA, as :func:`~automl.families.torch_common.train`).
        memory_bytes: Device bytes the pack may take (None: on CUDA :data:`PACK_MEMORY_SHARE` of the free
            memory, elsewhere no limit; 0: no limit).

    Returns:
        One :class:`MemberOutcome` per member, in order.

    Raises:
        InvalidParameterError: the configurations cannot share a pack (a ``ValueError``).
        RuntimeError: still out of memory after :data:`~automl.families.torch_common.MAX_OOM_RETRIES` halvings.
    """
    if not members:
        return []
    problems = packable([m.config for m in members])
    if problems:
        raise InvalidParameterError(["these configurations cannot be packed: " + "; ".join(problems)])
    limit = _memory_limit(device) if memory_bytes is None else (memory_bytes or None)
    if limit is not None and len(members) > 1:
        per_member = member_bytes(members[0], inputs, members[0].config.batch_size)
        size = max(1, int(limit // max(per_member, 1)))
        if size < len(members):  # sub-packs in turn: each the same as within the whole pack (same seed, same batches)
            logger.info("a pack of %d nets needs about %.0f MiB each; training them %d at a time",
                        len(members), per_member / 2**20, size)
            return [outcome for start in range(0, len(members), size)
                    for outcome in train_packed(members[start : start + size], loss_fn, inputs, target, valid, device,
                                                seed=seed, autocast=autocast, memory_bytes=0)]
    inputs = [t.to(device) for t in inputs]
    target = target.to(device)
    if valid is not None:
        valid = ([t.to(device) for t in valid[0]], valid[1].to(device))
    asked = int(members[0].config.batch_size)
    batch_size = max(1, min(asked, math.ceil(int(target.shape[0]) / MIN_STEPS_PER_EPOCH)))
    use_autocast = device.type == "cuda" and autocast is not False
    return halving_on_oom(
        lambda size: _Pack(members, loss_fn, device, seed, size, use_autocast).run(inputs, target, valid),
        batch_size, asked, f" (a pack of {len(members)})",
        "use smaller packs, a smaller batch_size or a smaller network")


def member_bytes(member: PackMember, inputs: Sequence[Any], batch_size: int) -> int:
    """Estimated device bytes one member of a pack takes to train on batches of ``batch_size`` rows.

    Four copies of its parameters (weights, gradients and Adam's two moments) and twice the activations
    autograd keeps for the backward pass (the activations and their gradients). The activations are
    measured, not modelled: the bytes of the tensors saved for backward (parameters aside) in a forward
    pass of the member on the CPU over the first rows of ``inputs``, scaled to the batch.

    Example:
        >>> import torch
        >>> member = PackMember(lambda: torch.nn.Sequential(torch.nn.Linear(10, 256), torch.nn.ReLU(),
        ...                                                 torch.nn.Linear(256, 1)), TrainConfig())
        >>> X = torch.zeros(100, 10)
        >>> member_bytes(member, (X,), 512) > member_bytes(member, (X,), 64) > 4 * 4 * (10 * 256 + 256 + 257)
        True
    """
    import torch

    torch.manual_seed(0)
    module = member.make_module().to("cpu").train()
    weights = {p.data_ptr() for p in module.parameters()}
    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    rows = max(1, min(_PROBE_ROWS, int(inputs[0].shape[0])))
    saved = 0

    def pack(tensor: Any) -> Any:
        nonlocal saved
        if tensor.data_ptr() not in weights:
            saved += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(*[t[:rows].to("cpu") for t in inputs])
    return int(4 * param_bytes + 2 * saved * max(1, int(batch_size)) / rows)


def _memory_limit(device: Any) -> float | None:
    """Bytes a pack may take on ``device``: :data:`PACK_MEMORY_SHARE` of CUDA's free memory; elsewhere None."""
    if getattr(device, "type", str(device)) != "cuda":
        return None
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return PACK_MEMORY_SHARE * free


@dataclass
class _Member:
    """A member's progress while it trains."""

    index: int
    config: TrainConfig
    on_epoch: Callable[[int, Any], Any] | None
    module: Any
    result: TrainResult
    best_loss: float = math.inf
    best_state: dict[str, Any] | None = None
    stale: int = 0
    error: BaseException | None = None
    done: bool = field(default=False)


class _Pack:
    """The stacked parameters, their Adam(W) state, and the members still training."""

    def __init__(self, members: Sequence[PackMember], loss_fn: Callable[[Any, Any], Any], device: Any, seed: int,
                 batch_size: int, autocast: bool) -> None:
        import torch
        from torch.func import stack_module_state

        modules = []
        for member in members:
            torch.manual_seed(int(seed if member.init_seed is None else member.init_seed))
            modules.append(member.make_module().to(device))
        self.members = [
            _Member(i, m.config, m.on_epoch, modules[i], TrainResult(best_epoch=-1, epochs_run=0, batch_size=batch_size))
            for i, m in enumerate(members)
        ]
        params, buffers = stack_module_state(modules)
        self.params = {k: v.detach().requires_grad_() for k, v in params.items()}
        self.buffers = {k: v.detach() for k, v in buffers.items()}
        self.exp_avg = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.template = copy.deepcopy(modules[0]).to("meta")
        self.loss_fn = loss_fn
        self.device = device
        self.seed = int(seed)
        self.batch_size = batch_size
        self.autocast = autocast
        self.active = list(self.members)
        self.config = members[0].config  # what the pack shares (optimiser, schedule, batch size)
        self._columns()

    # -- the stacked forward --------------------------------------------------------------------
    def _forward(self, batch: Sequence[Any], training: bool) -> Any:
        import torch
        from torch.func import functional_call, vmap

        self.template.train(training)
        n_inputs = len(batch)

        def one(params: dict[str, Any], buffers: dict[str, Any], *args: Any) -> Any:
            return functional_call(self.template, (params, buffers), args)

        stacked = vmap(one, in_dims=(0, 0) + (None,) * n_inputs, randomness="different")
        context = torch.autocast("cuda", dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()
        with context:
            return stacked(self.params, self.buffers, *batch)

    def _predict(self, inputs: Sequence[Any]) -> Any:
        import torch

        n = int(inputs[0].shape[0])
        with torch.no_grad():
            chunks = [self._forward([t[s : s + PREDICT_BATCH] for t in inputs], training=False).float()
                      for s in range(0, max(n, 1), PREDICT_BATCH)]
        return torch.cat(chunks, dim=1)

    # -- the vectorised Adam(W) step -------------------------------------------------------------
    def _columns(self) -> None:
        """Each active member's learning rate and decay, shaped to broadcast over each stacked parameter."""
        import torch

        def column(values: list[float], like: Any) -> Any:
            return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, *([1] * (like.ndim - 1)))

        rates = [m.config.learning_rate for m in self.active]
        decays = [m.config.weight_decay for m in self.active]
        self._lr = {k: column(rates, v) for k, v in self.params.items()}
        self._decay = {k: column(decays, v) for k, v in self.params.items()}

    def _clip(self) -> None:
        import torch

        limits = [m.config.gradient_clipping for m in self.active]
        if not any(limit > 0 for limit in limits):
            return
        grads = [p.grad for p in self.params.values() if p.grad is not None]
        squares = torch.stack([g.float().pow(2).flatten(1).sum(1) for g in grads]).sum(0)
        norms = squares.sqrt()
        limit = torch.tensor([x if x > 0 else math.inf for x in limits], device=norms.device)
        coef = torch.clamp(limit / (norms + 1e-6), max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype).view(-1, *([1] * (g.ndim - 1))))

    def _step(self, step: int, lr_factor: float) -> None:
        import torch

        beta1, beta2 = _BETAS
        bias1, bias2 = 1 - beta1**step, 1 - beta2**step
        decoupled = self.config.optimizer == "adamw"
        with torch.no_grad():
            for name, param in self.params.items():
                grad = param.grad
                if grad is None:
                    continue
                lr, decay = self._lr[name] * lr_factor, self._decay[name]
                if decoupled:
                    param.mul_(1 - lr * decay)
                else:
                    grad = grad + decay * param
                self.exp_avg[name].lerp_(grad, 1 - beta1)
                self.exp_avg_sq[name].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                denom = (self.exp_avg_sq[name].sqrt() / math.sqrt(bias2)).add_(_EPS)
                param.sub_(lr / bias1 * self.exp_avg[name] / denom)
                param.grad = None

    def _lr_factor(self, step: int, total_steps: int) -> float:
        if self.config.schedule == "cosine":  # CosineAnnealingLR's closed form, to zero at the last step
            return (1 + math.cos(math.pi * min(step, total_steps) / max(1, total_steps))) / 2
        return 1.0

    # -- members leaving the stack ---------------------------------------------------------------
    def _member_state(self, position: int) -> dict[str, Any]:
        state = {k: v[position].detach().clone() for k, v in self.params.items()}
        state.update({k: v[position].detach().clone() for k, v in self.buffers.items()})
        return state

    def _drop_finished(self) -> None:
        keep = [i for i, m in enumerate(self.active) if not m.done]
        if len(keep) == len(self.active):
            return
        import torch

        for position, member in enumerate(self.active):
            if member.done and member.error is None and member.best_state is None:
                member.best_state = self._member_state(position)  # no validation: its last epoch
        index = torch.tensor(keep, device=self.device, dtype=torch.long)
        self.params = {k: v.detach()[index].requires_grad_() for k, v in self.params.items()}
        self.buffers = {k: v[index] for k, v in self.buffers.items()}
        self.exp_avg = {k: v[index] for k, v in self.exp_avg.items()}
        self.exp_avg_sq = {k: v[index] for k, v in self.exp_avg_sq.items()}
        self.active = [self.active[i] for i in keep]
        self._columns()

    # -- the loop ------------------------------------------------------------------------------
    def run(self, inputs: Sequence[Any], target: Any, valid: tuple[Sequence[Any], Any] | None) -> list[MemberOutcome]:
        import torch
        from torch.func import vmap

        n = int(target.shape[0])
        starts = [s for s in range(0, n, self.batch_size) if n - s >= 2 or s == 0]  # as train(): no 1-row tail
        total_steps = len(starts) * int(self.config.max_epochs)
        generator = torch.Generator().manual_seed(self.seed)
        member_loss = vmap(self.loss_fn, in_dims=(0, None))
        step = 0
        for epoch in range(max(int(m.config.max_epochs) for m in self.members)):
            if not self.active:
                break
            order = torch.randperm(n, generator=generator).to(self.device, non_blocking=True)
            total = torch.zeros(len(self.active), device=self.device)
            for start in starts:
                index = order[start : start + self.batch_size]
                outputs = self._forward([t[index] for t in inputs], training=True)
                losses = member_loss(outputs.float(), target[index])
                losses.sum().backward()
                self._clip()
                step += 1
                self._step(step, self._lr_factor(step - 1, total_steps))
                total += losses.detach() * len(index)
            self._end_epoch(epoch, (total / n).tolist(), valid)
            self._drop_finished()
        self._drop_finished_all()
        return [self._outcome(m) for m in self.members]

    def _end_epoch(self, epoch: int, train_losses: list[float], valid: tuple[Sequence[Any], Any] | None) -> None:
        outputs = self._predict(valid[0]) if valid is not None else None
        for position, member in enumerate(self.active):
            result = member.result
            result.train_loss.append(train_losses[position])
            result.epochs_run = epoch + 1
            if not math.isfinite(train_losses[position]):
                member.error = FloatingPointError(
                    diverged_message(train_losses[position], epoch, member.config.learning_rate))
                member.done = True
                continue
            if outputs is None or valid is None:
                result.best_epoch = epoch
                member.done = epoch + 1 >= member.config.max_epochs
                continue
            self._judge(member, position, epoch, outputs[position], valid[1])

    def _judge(self, member: _Member, position: int, epoch: int, outputs: Any, truth: Any) -> None:
        result = member.result
        valid_loss = float(self.loss_fn(outputs, truth))
        result.valid_loss.append(valid_loss)
        if valid_loss < member.best_loss:
            member.best_loss, member.stale, result.best_epoch = valid_loss, 0, epoch
            member.best_state = self._member_state(position)
        else:
            member.stale += 1
        try:
            if member.on_epoch is not None and member.on_epoch(epoch, outputs):
                result.time_capped = member.done = True
        except Exception as exc:  # noqa: BLE001 - a member's report that raises (pruned) ends that member only
            member.error, member.done = exc, True
        patience = member.config.patience
        if (patience and member.stale >= patience) or epoch + 1 >= member.config.max_epochs:
            member.done = True

    def _drop_finished_all(self) -> None:
        for member in self.active:
            member.done = True
        self._drop_finished()

    def _outcome(self, member: _Member) -> MemberOutcome:
        if member.error is not None:
            return MemberOutcome(error=member.error, result=member.result)
        module = member.module
        if member.best_state is not None:
            module.load_state_dict(member.best_state)
        module.eval()
        return MemberOutcome(module=module, result=member.result)
