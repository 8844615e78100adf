"""Packed training: each member of a pack ends where the same configuration trained alone ends.

Every comparison trains the configuration alone with :func:`automl.families.torch_common.train` (torch's
own AdamW/Adam and schedulers) and the same configurations packed with
:func:`automl.families.packed_training.train_packed`, then compares weights, outputs and the per-epoch
record. Dropout is 0 (masks are drawn per member, so they cannot match); everything else is as in a search.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from automl.families.packed_training import PackMember, packable, train_packed  # noqa: E402
from automl.families.torch_common import TrainConfig, train  # noqa: E402

F = torch.nn.functional
CPU = torch.device("cpu")
TOLERANCE = 1e-5


def _data(n: int = 240, d: int = 6, seed: int = 0, task: str = "regression"):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    signal = X[:, 0] - 2 * X[:, 1] * X[:, 2] + 0.3 * torch.randn(n, generator=g)
    if task == "binary":
        return X, (signal > 0).float()
    if task == "multiclass":
        return X, torch.bucketize(signal, torch.tensor([-1.0, 0.5]))
    return X, signal


def _mse(out, y):
    return F.mse_loss(out.squeeze(-1), y)


def _mlp(d: int = 6, width: int = 16, norm: str = "none"):
    def make():
        # Before batch norm the bias has no gradient but rounding noise, which Adam's normalised step turns
        # into lr-sized moves that differ between any two float orderings: a well-posed net has none there.
        layers = [torch.nn.Linear(d, width, bias=norm != "batch")]
        if norm == "batch":
            layers.append(torch.nn.BatchNorm1d(width))
        if norm == "layer":
            layers.append(torch.nn.LayerNorm(width))
        return torch.nn.Sequential(*layers, torch.nn.ReLU(), torch.nn.Linear(width, 1))
    return make


def _alone(make, loss, X, y, valid, config, seed=3, on_epoch=None):
    torch.manual_seed(seed)
    return train(make, loss, (X,), y, valid, config, CPU, seed=seed, on_epoch=on_epoch)


def _assert_same(module_a, module_b, tolerance=TOLERANCE):
    a, b = module_a.state_dict(), module_b.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=tolerance, rtol=1e-4), key


def _assert_same_record(result_a, result_b):
    assert result_a.epochs_run == result_b.epochs_run
    assert result_a.best_epoch == result_b.best_epoch
    assert result_a.time_capped == result_b.time_capped
    np.testing.assert_allclose(result_a.train_loss, result_b.train_loss, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result_a.valid_loss, result_b.valid_loss, rtol=1e-4, atol=1e-6)


def _split(X, y, n_valid=60):
    return X[n_valid:], y[n_valid:], (X[:n_valid],), y[:n_valid]


@pytest.mark.parametrize("optimizer", ["adamw", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_members_match_the_same_configurations_trained_alone(optimizer, schedule):
    X, y = _data()
    X_fit, y_fit, X_valid, y_valid = _split(X, y)
    configs = [TrainConfig(learning_rate=lr, weight_decay=wd, batch_size=32, max_epochs=12, patience=0,
                           optimizer=optimizer, schedule=schedule)
               for lr, wd in ((3e-3, 0.0), (1e-2, 1e-2), (3e-4, 0.1))]
    make = _mlp()
    packed = train_packed([PackMember(make, c) for c in configs], _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU,
                          seed=3)
    for config, outcome in zip(configs, packed):
        module, result = _alone(make, _mse, X_fit, y_fit, (X_valid, y_valid), config)
        assert outcome.error is None
        _assert_same(module, outcome.module)
        _assert_same_record(result, outcome.result)


def test_members_differ_from_one_another():
    """The members really did train with their own rates (a pack that shared one would pass the test above
    only if every configuration were the same)."""
    X, y = _data()
    configs = [TrainConfig(learning_rate=lr, batch_size=32, max_epochs=5, patience=0) for lr in (1e-4, 1e-1)]
    slow, fast = train_packed([PackMember(_mlp(), c) for c in configs], _mse, (X,), y, None, CPU, seed=0)
    assert fast.result.train_loss[-1] < 0.8 * slow.result.train_loss[-1]


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalisation_layers_pack(norm):
    X, y = _data()
    X_fit, y_fit, X_valid, y_valid = _split(X, y)
    configs = [TrainConfig(learning_rate=lr, batch_size=32, max_epochs=6, patience=0) for lr in (1e-3, 1e-2)]
    make = _mlp(norm=norm)
    packed = train_packed([PackMember(make, c) for c in configs], _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU,
                          seed=3)
    for config, outcome in zip(configs, packed):
        module, result = _alone(make, _mse, X_fit, y_fit, (X_valid, y_valid), config)
        _assert_same(module, outcome.module)  # batch norm's running statistics included
        _assert_same_record(result, outcome.result)


def test_gradient_clipping_is_per_member():
    X, y = _data()
    configs = [TrainConfig(learning_rate=5e-2, batch_size=32, max_epochs=4, patience=0, gradient_clipping=clip)
               for clip in (0.0, 0.05, 1.0)]
    make = _mlp()
    packed = train_packed([PackMember(make, c) for c in configs], _mse, (X,), y, None, CPU, seed=3)
    finals = []
    for config, outcome in zip(configs, packed):
        module, _ = _alone(make, _mse, X, y, None, config)
        _assert_same(module, outcome.module)
        finals.append(outcome.module[0].weight.detach().clone())
    assert not torch.allclose(finals[0], finals[1])  # the tight clip changed that member only


def test_each_member_early_stops_on_its_own_patience_and_epochs():
    X, y = _data()
    X_fit, y_fit, X_valid, y_valid = _split(X, y)
    configs = [TrainConfig(learning_rate=0.3, batch_size=32, max_epochs=40, patience=2),  # overshoots: stops early
               TrainConfig(learning_rate=3e-3, batch_size=32, max_epochs=40, patience=5),
               TrainConfig(learning_rate=3e-3, batch_size=32, max_epochs=7, patience=0)]
    make = _mlp()
    packed = train_packed([PackMember(make, c) for c in configs], _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU,
                          seed=3)
    epochs = []
    for config, outcome in zip(configs, packed):
        module, result = _alone(make, _mse, X_fit, y_fit, (X_valid, y_valid), config)
        _assert_same(module, outcome.module)  # the best epoch's weights restored
        _assert_same_record(result, outcome.result)
        epochs.append(outcome.result.epochs_run)
    assert epochs[2] == 7 and len(set(epochs)) == 3


def test_a_report_that_raises_ends_that_member_only():
    class Pruned(Exception):
        pass

    X, y = _data()
    X_fit, y_fit, X_valid, y_valid = _split(X, y)
    seen: dict[int, list[int]] = {0: [], 1: [], 2: []}

    def reporter(i, prune_at=None, cap_at=None):
        def on_epoch(epoch, outputs):
            assert outputs.shape == (len(y_valid), 1)  # this member's own validation outputs
            seen[i].append(epoch)
            if epoch == prune_at:
                raise Pruned(f"member {i} pruned")
            return epoch == cap_at
        return on_epoch

    config = TrainConfig(learning_rate=3e-3, batch_size=32, max_epochs=8, patience=0)
    make = _mlp()
    members = [PackMember(make, config, reporter(0, prune_at=2)), PackMember(make, config, reporter(1, cap_at=4)),
               PackMember(make, config, reporter(2))]
    pruned, capped, full = train_packed(members, _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU, seed=3)
    assert isinstance(pruned.error, Pruned) and pruned.module is None and pruned.result.epochs_run == 3
    assert capped.result.time_capped and capped.result.epochs_run == 5
    assert seen == {0: [0, 1, 2], 1: [0, 1, 2, 3, 4], 2: list(range(8))}
    module, result = _alone(make, _mse, X_fit, y_fit, (X_valid, y_valid), config)
    _assert_same(module, full.module)  # the others trained on as if alone
    _assert_same_record(result, full.result)


def test_a_member_that_diverges_fails_with_the_reason_and_the_others_go_on():
    X, y = _data()
    configs = [TrainConfig(learning_rate=1e-3, batch_size=32, max_epochs=3, patience=0),
               TrainConfig(learning_rate=1e-3, batch_size=32, max_epochs=3, patience=0)]
    poisoned = torch.nn.Linear(6, 1)

    def make_bad():
        module = torch.nn.Linear(6, 1)
        with torch.no_grad():
            module.weight.fill_(float("inf"))
        return module

    good, bad = train_packed([PackMember(lambda: torch.nn.Linear(6, 1), configs[0]), PackMember(make_bad, configs[1])],
                             _mse, (X,), y, None, CPU, seed=1)
    assert isinstance(bad.error, FloatingPointError) and "training diverged" in str(bad.error)
    assert bad.result.epochs_run == 1 and good.error is None and good.result.epochs_run == 3
    assert poisoned is not None


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tabm_members_match_alone(task):
    pytest.importorskip("tabm")
    from automl.families._tabm_modules import TabMNetwork, flatten_heads

    X, y = _data(task=task, d=4)
    n_out = 3 if task == "multiclass" else 1
    codes = (X[:, :2] > 0).long() + 1
    X_num = X[:, 2:].contiguous()
    bins = [torch.quantile(X_num[:, j], torch.linspace(0, 1, 9)) for j in range(X_num.shape[1])]
    each = {"binary": lambda o, t: F.binary_cross_entropy_with_logits(o.squeeze(-1), t),
            "multiclass": lambda o, t: F.cross_entropy(o, t), "regression": _mse}[task]

    def loss(out, target):
        return each(*flatten_heads(out, target))

    def make():
        return TabMNetwork(2, [3, 3], "piecewise", bins, 8, "tabm", 4, 2, 32, 0.0, n_out, task)

    # The vmap-friendly forward is TabM's own forward.
    module = make().train()
    torch.testing.assert_close(module(X_num, codes), module.net(X_num, codes))
    valid = ((X_num[:60], codes[:60]), y[:60])
    configs = [TrainConfig(learning_rate=lr, weight_decay=3e-4, batch_size=32, max_epochs=4, patience=0,
                           gradient_clipping=1.0) for lr in (2e-3, 1e-2)]
    packed = train_packed([PackMember(make, c) for c in configs], loss, (X_num[60:], codes[60:]), y[60:], valid, CPU,
                          seed=3)
    for config, outcome in zip(configs, packed):
        torch.manual_seed(3)
        alone, result = train(make, loss, (X_num[60:], codes[60:]), y[60:], valid, config, CPU, seed=3)
        _assert_same(alone, outcome.module)
        _assert_same_record(result, outcome.result)


def test_members_may_have_their_own_initialisation():
    X, y = _data()
    config = TrainConfig(learning_rate=1e-3, batch_size=32, max_epochs=2, patience=0)
    a, b = train_packed([PackMember(_mlp(), config, init_seed=1), PackMember(_mlp(), config, init_seed=2)],
                        _mse, (X,), y, None, CPU, seed=0)
    assert not torch.allclose(a.module[0].weight, b.module[0].weight)


def test_out_of_memory_halves_the_pack_batch(caplog):
    """The back-off path, driven by a module that runs out of memory above 8 rows (as CUDA would)."""

    class Hungry(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(6, 1)

        def forward(self, x):
            if self.training and x.shape[0] > 8:
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
            return self.linear(x)

    X, y = _data(n=256)
    config = TrainConfig(learning_rate=1e-2, batch_size=32, max_epochs=2, patience=0)
    packed = train_packed([PackMember(Hungry, config)] * 2, _mse, (X,), y, None, CPU, seed=0)
    assert [o.result.batch_size for o in packed] == [8, 8]
    assert "out of GPU memory at batch size 32 (a pack of 2); retrying with 16" in caplog.text
    torch.manual_seed(0)  # each retry starts the pack afresh: as the configuration trained alone at batch 8
    alone, result = train(Hungry, _mse, (X,), y, None, replace(config, batch_size=8), CPU, seed=0)
    assert result.batch_size == 8
    _assert_same(alone, packed[0].module)

    class Starving(Hungry):
        def forward(self, x):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    with pytest.raises(RuntimeError, match=r"out of GPU memory at batch size 1 after 3 halvings of 8 \(a pack of 1\)"):
        train_packed([PackMember(Starving, TrainConfig(batch_size=8))], _mse, (X,), y, None, CPU)


def test_configurations_that_cannot_share_a_pack_are_refused():
    configs = [TrainConfig(optimizer="sgd"), TrainConfig(batch_size=64), TrainConfig(schedule="cosine", max_epochs=5)]
    problems = packable(configs)
    assert any("optimizer 'sgd' is not packed" in p for p in problems)
    assert any("share batch_size, got [64, 256]" in p for p in problems)
    assert any("share max_epochs" in p for p in problems)  # cosine: the schedule's length is shared
    assert packable([TrainConfig(max_epochs=5), TrainConfig(max_epochs=9, patience=3, learning_rate=0.1)]) == []
    X, y = _data(n=32)
    with pytest.raises(ValueError, match="cannot be packed: .*share batch_size"):
        train_packed([PackMember(_mlp(), c) for c in configs[1:]], _mse, (X,), y, None, CPU)
    assert train_packed([], _mse, (X,), y, None, CPU) == []


def test_a_pack_larger_than_its_memory_trains_as_sub_packs_ending_as_one_pack():
    from automl.families.packed_training import member_bytes

    X, y = _data()
    X_fit, y_fit, X_valid, y_valid = _split(X, y)
    configs = [TrainConfig(learning_rate=lr, batch_size=32, max_epochs=4, patience=0)
               for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)]
    order: list[int] = []

    def members():
        return [PackMember(_mlp(), c, on_epoch=lambda epoch, out, i=i: order.append(i)) for i, c in enumerate(configs)]

    whole = train_packed(members(), _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU, seed=3, memory_bytes=0)
    assert order[:5] == [0, 1, 2, 3, 4]  # one pack: every member's first epoch comes first
    order.clear()
    per_member = member_bytes(members()[0], (X_fit,), 32)
    split = train_packed(members(), _mse, (X_fit,), y_fit, (X_valid, y_valid), CPU, seed=3,
                         memory_bytes=2.5 * per_member)
    assert order == [0, 1] * 4 + [2, 3] * 4 + [4] * 4  # sub-packs of two, one after another
    for a, b in zip(whole, split):
        _assert_same(a.module, b.module)
        _assert_same_record(a.result, b.result)


def test_the_memory_estimate_counts_the_parameters_and_a_batch_of_activations():
    from automl.families.packed_training import member_bytes

    X = torch.zeros(500, 10)
    width = 256

    def make():
        return torch.nn.Sequential(torch.nn.Linear(10, width), torch.nn.ReLU(), torch.nn.Linear(width, 1))

    member = PackMember(make, TrainConfig())
    params = 4 * (10 * width + width + width + 1)
    for batch in (64, 512):
        estimate = member_bytes(member, (X,), batch)
        activations = estimate - 4 * params
        assert 2 * batch * width * 4 <= activations <= 2 * 4 * batch * (10 + 2 * width + 1) * 4, (batch, estimate)
