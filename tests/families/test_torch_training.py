"""The torch trainer and estimators: early stopping, OOM halving, divergence, threads, devices, pruning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.exceptions import FamilyUnavailableError, InvalidParameterError
from automl.families import BuildContext, get_family, resolve_families

torch = pytest.importorskip("torch")

from automl.families.torch_common import TrainConfig, resolve_device, train  # noqa: E402
from automl.families.torch_mlp import TabularNet  # noqa: E402


def _binary(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


class _OOMAboveBatch(torch.nn.Module):
    """Raises CUDA's out-of-memory error for batches larger than ``limit`` (simulated on the CPU)."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        if self.training and x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.linear(x)


def _line(n=64):
    X = torch.linspace(-1, 1, n).reshape(-1, 1)
    return X, 2 * X.squeeze(-1)


def _mse(out, y):
    return torch.nn.functional.mse_loss(out.squeeze(-1), y)


def test_out_of_memory_halves_the_batch_and_retries():
    X, y = _line(256)
    config = TrainConfig(batch_size=32, max_epochs=2, patience=0)
    _, result = train(lambda: _OOMAboveBatch(8), _mse, (X,), y, None, config, torch.device("cpu"))
    assert result.batch_size == 8 and result.epochs_run == 2


def test_out_of_memory_after_three_halvings_fails_with_the_reason():
    X, y = _line(256)
    config = TrainConfig(batch_size=32, max_epochs=2, patience=0)
    with pytest.raises(RuntimeError, match="out of GPU memory at batch size 4 after 3 halvings of 32"):
        train(lambda: _OOMAboveBatch(2), _mse, (X,), y, None, config, torch.device("cpu"))


def test_diverging_training_fails_with_a_hint():
    X, y = _line(64)
    config = TrainConfig(learning_rate=1e6, batch_size=8, max_epochs=20, patience=0, optimizer="sgd", momentum=0.0)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(lambda: torch.nn.Linear(1, 1), _mse, (X * 1e3,), y * 1e3, None, config, torch.device("cpu"))


def test_early_stopping_restores_the_best_epoch():
    X, y = _binary(400)
    net = TabularNet(task="binary", max_epochs=60, patience=5, learning_rate=0.03, seed=0).fit(X, y)
    result = net.train_result_
    assert result.epochs_run < 60
    assert result.best_epoch == int(np.argmin(result.valid_loss))
    assert result.epochs_run == result.best_epoch + 1 + 5


def test_cpu_training_is_deterministic_for_a_seed_and_varies_with_it():
    X, y = _binary()
    a = TabularNet(task="binary", max_epochs=5, seed=3).fit(X, y).predict_proba(X)
    b = TabularNet(task="binary", max_epochs=5, seed=3).fit(X, y).predict_proba(X)
    c = TabularNet(task="binary", max_epochs=5, seed=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_torch_threads_are_capped_while_training_and_restored_after():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.linear(x)

    from automl.families.torch_common import torch_runtime

    before = torch.get_num_threads()
    X, y = _line(32)
    with torch_runtime(0, 1):
        train(Spy, _mse, (X,), y, None, TrainConfig(max_epochs=1, patience=0), torch.device("cpu"))
    assert set(seen) == {1}
    assert torch.get_num_threads() == before


def test_seeding_does_not_change_the_callers_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    X, y = _binary(100)
    TabularNet(task="binary", max_epochs=2, seed=0).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_device_auto_picks_the_cpu_without_accelerators_and_named_missing_ones_fail():
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in {"cpu", "mps"}
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 0, None])
def test_bad_device_setting_is_rejected_before_anything_runs(device):
    X, y = _binary(60)
    with pytest.raises(InvalidParameterError, match="device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"):
        automl.AutoMLClassifier(device=device, n_trials=1, tracking=False).fit(X, y)


def test_bad_net_parameters_fail_the_trial_with_the_rule():
    X, y = _binary(60)
    with pytest.raises(ValueError, match=r"activation must be one of .* got 'swish'"):
        TabularNet(task="binary", activation="swish").fit(X, y)


def test_embeddings_treat_missing_and_unseen_codes_as_code_zero():
    X = np.array([[0.5, 0.0], [1.0, 1.0], [0.2, np.nan], [0.1, 7.0]])
    net = TabularNet(task="binary", categorical_indices=(1,), category_counts=(2,))
    net._learn_inputs(X)
    numeric, codes = net._inputs(X)
    assert codes.ravel().tolist() == [1, 2, 0, 0]
    assert numeric.shape == (4, 1) and numeric.dtype == np.float32


@pytest.mark.parametrize("architecture,categorical", [("resnet", "embedding"), ("mlp", "onehot")])
def test_architectures_and_encodings_fit_a_mixed_frame(architecture, categorical, binary_df):
    model = automl.fit(
        binary_df, target="label", families=["torch_mlp"], n_trials=1, cv=2, n_jobs=1, tracking=False,
        search_space={"torch_mlp": {"architecture": architecture, "categorical_encoding": categorical,
                                    "max_epochs": 3, "normalization": "batch"}},
    )
    blocks = [type(m).__name__ for m in model.model_.estimator_.module_.modules()]
    assert ("_ResidualBlock" in blocks) == (architecture == "resnet")
    assert ("Embedding" in blocks) == (categorical == "embedding")


def test_nets_are_pruned_between_epochs_with_the_reason_on_the_trial(binary_df):
    import optuna

    class PruneNetsAtEpochFour(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.last_step is not None and trial.last_step >= 3

    model = automl.fit(
        binary_df, target="label", families=["linear", "torch_mlp"], n_trials=3, cv=2, n_jobs=1,
        tracking=False, pruner=PruneNetsAtEpochFour(), search_space={"torch_mlp": {"patience": 0}},
    )
    nets = [t for t in model.study_.trials if t.params["family"] == "torch_mlp"]
    assert nets
    for trial in nets:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert "pruned at epoch 4 of fold 1" in trial.user_attrs["automl:reason"]
        assert sorted(trial.intermediate_values) == [0, 1, 2, 3]  # the epochs, at step = epoch (folds are not reported)


def test_net_learning_curves_and_refit_epochs_come_from_the_folds(regression_df):
    model = automl.fit(regression_df, target="label", families=["torch_mlp"], n_trials=1, cv=2, n_jobs=1,
                       tracking=False, search_space={"torch_mlp": {"max_epochs": 12, "patience": 3}})
    trial = model.study_.trials[0]
    hints = trial.user_attrs["automl:refit_hints"]
    assert len(hints) == 2 and all(h["epochs"] >= 1 for h in hints)
    assert model.refit_params_["max_epochs"] == max(1, round(np.mean([h["epochs"] for h in hints]) * 1.1))
    assert model.refit_params_["validation_fraction"] == 0.0
    assert {"train_loss", "valid_loss"} <= set(trial.user_attrs["automl:curves"])


def test_without_torch_the_net_families_are_unavailable_with_an_install_hint(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert "torch_mlp" not in automl.available_families("binary")
    with pytest.raises(FamilyUnavailableError, match=r'automl\[torch\]'):
        resolve_families(["torch_mlp"], "binary")


def test_module_build_rejects_unknown_parameters():
    family = get_family("torch_mlp")
    with pytest.raises(ValueError, match="unknown torch_mlp parameters \\['widht'\\]"):
        family.build({"widht": 3}, BuildContext("binary", 2, 10, 2))


def test_a_training_part_with_one_class_predicts_it():
    X = pd.DataFrame({"a": np.arange(10.0)}).to_numpy()
    net = TabularNet(task="binary").fit(X, np.zeros(10, dtype=int))
    np.testing.assert_allclose(net.predict_proba(X), 1.0)
    assert net.predict(X).tolist() == [0] * 10


def test_under_a_time_budget_a_net_fold_ends_at_its_share_and_keeps_its_best_epoch(binary_df):
    import time

    started = time.monotonic()
    model = automl.fit(
        binary_df, target="label", families=["torch_mlp"], time_budget=20, cv=2, n_jobs=1, tracking=False,
        search_space={"torch_mlp": {"max_epochs": 100_000, "patience": 0}},
    )
    elapsed = time.monotonic() - started
    first = model.study_.trials[0]
    assert first.state.name == "COMPLETE"
    assert all(1 <= h["epochs"] < 100_000 for h in first.user_attrs["automl:refit_hints"])
    assert elapsed < 20 * 1.1 + 10
