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


def test_gpu_memory_is_released_between_trials():
    automl.fit(_frame(), target="target", families=["torch_mlp"], n_trials=3, cv=2, tracking=False,
               search_space={"torch_mlp": {"max_epochs": 3}})
    torch.cuda.synchronize()
    assert torch.cuda.memory_reserved() < 64 * 2**20


def test_cuda_device_setting_on_the_cnn():
    from sklearn.datasets import load_digits

    digits = load_digits()
    model = automl.fit(digits.images[:400], target=digits.target[:400], families=["cnn"], n_trials=1, cv=2,
                       device="cuda", tracking=False, search_space={"cnn": {"max_epochs": 3}})
    assert model.model_.estimator_.device_ == "cuda"
