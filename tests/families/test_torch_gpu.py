"""GPU behaviour of the nets. Skipped without CUDA (CI has no GPU); run on a CUDA machine with
``python -m pytest -m gpu tests/families/test_torch_gpu.py``."""

from __future__ import annotations

import numpy as np
import pytest

import automl

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _frame(n=2000, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(target=(X[:, 0] * X[:, 1] > 0).astype(int))


def test_auto_device_trains_on_cuda_and_the_saved_model_loads_on_the_cpu(tmp_path):
    from automl.families.torch_common import resolve_device

    assert resolve_device("auto").type == "cuda"
    model = automl.fit(_frame(), target="target", families=["torch_mlp"], n_trials=1, cv=2, tracking=False,
                       search_space={"torch_mlp": {"max_epochs": 5}})
    assert model.model_.estimator_.device_.startswith("cuda")
    assert next(model.model_.estimator_.module_.parameters()).is_cuda
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    assert not next(loaded.model_.estimator_.module_.parameters()).is_cuda  # weights pickled on the CPU
    frame = _frame(50, seed=1)
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), atol=1e-2)


def test_forward_runs_under_bf16_autocast_on_cuda():
    from automl.families.torch_common import predict_outputs

    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 1)

        def forward(self, x):
            out = self.linear(x)
            seen.append(out.dtype)
            return out

    module = Spy().cuda()
    predict_outputs(module, [torch.randn(8, 4, device="cuda")])
    assert seen == [torch.bfloat16]


def test_cuda_device_setting_on_the_cnn():
    from sklearn.datasets import load_digits

    digits = load_digits()
    model = automl.fit(digits.images[:400], target=digits.target[:400], families=["cnn"], n_trials=1, cv=2,
                       device="cuda", tracking=False, search_space={"cnn": {"max_epochs": 3}})
    assert model.model_.estimator_.device_ == "cuda"


def test_memory_is_released_between_trials_in_the_process_that_trains(tmp_path, monkeypatch):
    """Measured in the trial worker itself: the CUDA memory allocated as each fold's fit starts does not grow
    from trial to trial (a leak would add a model's weights and optimiser state each time)."""
    from automl.families.registry import register_family, unregister_family
    from tests.gpu_probe_family import PROBE_FILE

    probe = tmp_path / "allocated.txt"
    monkeypatch.setenv(PROBE_FILE, str(probe))
    register_family("gpu_probe_mlp", "tests.gpu_probe_family:FAMILY", replace=True)
    try:
        automl.fit(_frame(), target="target", families=["gpu_probe_mlp"], n_trials=4, cv=2, tracking=False,
                   pack_nets=1, search_space={"gpu_probe_mlp": {"max_epochs": 3, "width": 512}})
    finally:
        unregister_family("gpu_probe_mlp")
    rows = [line.split() for line in probe.read_text().splitlines()]
    pids = {pid for pid, _ in rows}
    allocated = [int(value) for _, value in rows]
    assert len(rows) >= 8 and str(__import__("os").getpid()) not in pids  # the worker trained, not this process
    assert max(allocated) - allocated[0] < 2**20, allocated


def _packed_and_alone(autocast):
    from automl.families.packed_training import PackMember, train_packed
    from automl.families.torch_common import TrainConfig, train

    device = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 16, generator=g)
    y = (X[:, 0] * X[:, 1] > 0).float()

    def make():
        return torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))

    def loss(out, target):
        return torch.nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), target)

    configs = [TrainConfig(learning_rate=lr, weight_decay=wd, batch_size=128, max_epochs=5, patience=0)
               for lr, wd in ((1e-3, 0.0), (3e-3, 1e-2), (1e-2, 0.0))]
    valid = ((X[:400],), y[:400])
    packed = train_packed([PackMember(make, c) for c in configs], loss, (X[400:],), y[400:], valid, device, seed=0,
                          autocast=autocast)
    alone = []
    for config in configs:
        torch.manual_seed(0)
        alone.append(train(make, loss, (X[400:],), y[400:], valid, config, device, seed=0, autocast=autocast))
    return packed, alone


def test_packed_members_match_the_same_configurations_trained_alone_on_the_gpu_in_float32():
    packed, alone = _packed_and_alone(autocast=False)
    for outcome, (module, result) in zip(packed, alone):
        np.testing.assert_allclose(outcome.result.valid_loss, result.valid_loss, atol=1e-5)
        for a, b in zip(outcome.module.state_dict().values(), module.state_dict().values()):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_a_real_cuda_out_of_memory_halves_the_batch_alone_and_packed():
    """A real allocation failure: the process may use 512 MiB of the GPU, and the batch asked for needs more."""
    from automl.families.packed_training import PackMember, train_packed
    from automl.families.torch_common import TrainConfig, train

    device = torch.device("cuda")
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, 512 * 2**20 / total))  # 512 MiB
    try:
        # 64 MiB of rows; one float32 activation of a batch of 8192 rows is 256 MiB, so the first
        # attempts cannot fit in 512 MiB and a halved batch does (bf16 autocast off: sizes as written).
        X, y = torch.randn(2**16, 256), torch.rand(2**16)
        config = TrainConfig(batch_size=2**13, max_epochs=1, patience=0)

        def make():
            return torch.nn.Sequential(torch.nn.Linear(256, 8192), torch.nn.ReLU(), torch.nn.Linear(8192, 1))

        def loss(out, target):
            return torch.nn.functional.mse_loss(out.squeeze(-1), target)

        _, result = train(make, loss, (X,), y, None, config, device, autocast=False)
        assert result.batch_size < 2**13
        packed = train_packed([PackMember(make, config)] * 2, loss, (X,), y, None, device, autocast=False)
        assert packed[0].error is None and packed[0].result.batch_size < result.batch_size * 2
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()


def test_the_pack_memory_estimate_is_near_what_one_member_takes_on_the_gpu():
    """The estimate that sizes packs, against the peak memory a member training alone really allocates."""
    from automl.families.packed_training import PackMember, member_bytes
    from automl.families.torch_common import TrainConfig, train

    device = torch.device("cuda")
    X, y = torch.randn(2**14, 64), torch.rand(2**14)
    config = TrainConfig(batch_size=2048, max_epochs=1, patience=0)

    def make():
        return torch.nn.Sequential(torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                   torch.nn.ReLU(), torch.nn.Linear(1024, 1))

    def loss(out, target):
        return torch.nn.functional.mse_loss(out.squeeze(-1), target)

    X_dev, y_dev = X.to(device), y.to(device)  # the rows are the pack's, not a member's
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    train(make, loss, (X_dev,), y_dev, None, config, device, autocast=False)
    torch.cuda.synchronize()
    measured = torch.cuda.max_memory_allocated() - base
    estimate = member_bytes(PackMember(make, config), (X,), config.batch_size)
    assert measured / 2 <= estimate <= measured * 4, (estimate, measured)
