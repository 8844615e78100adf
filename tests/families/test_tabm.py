"""The ``tabm`` family: TabM's k heads averaged as the paper does, its inputs, its parameters, its packages."""

from __future__ import annotations

import numpy as np
import pytest

from automl.families import get_family
from automl.families.base import BuildContext

pytest.importorskip("torch")
pytest.importorskip("tabm")

import torch  # noqa: E402

from automl.families._tabm_modules import TabMNetwork, flatten_heads  # noqa: E402
from automl.families.tabm import TabMNet, _quantile_bins  # noqa: E402

FAST = {"max_epochs": 4, "patience": 0, "k": 4, "d_block": 32}


def _net(task: str, n_outputs: int, embedding: str = "none") -> TabMNetwork:
    bins = _quantile_bins(np.random.default_rng(0).normal(size=(50, 3)), 8) if embedding == "piecewise" else None
    torch.manual_seed(0)
    return TabMNetwork(3, [3], embedding, bins, 8, "tabm", 5, 2, 16, 0.0, n_outputs, task)


@pytest.mark.parametrize("embedding", ["none", "piecewise", "periodic"])
def test_evaluated_output_is_the_heads_mean_probability_for_one_logit(embedding):
    net = _net("binary", 1, embedding)
    x_num, x_cat = torch.randn(20, 3), torch.randint(0, 3, (20, 1))
    heads = net.train()(x_num, x_cat)  # no dropout: training mode differs only in keeping the heads
    assert heads.shape == (20, 5, 1)
    mean_probability = torch.sigmoid(heads).mean(dim=1)
    torch.testing.assert_close(torch.sigmoid(net.eval()(x_num, x_cat)), mean_probability, atol=1e-6, rtol=1e-5)


def test_evaluated_output_is_the_heads_mean_probability_for_several_classes():
    net = _net("multiclass", 4)
    x_num, x_cat = torch.randn(20, 3), torch.randint(0, 3, (20, 1))
    mean_probability = torch.softmax(net.train()(x_num, x_cat), dim=-1).mean(dim=1)
    torch.testing.assert_close(torch.softmax(net.eval()(x_num, x_cat), dim=-1), mean_probability, atol=1e-6, rtol=1e-5)


def test_evaluated_output_is_the_heads_mean_value_for_regression():
    net = _net("regression", 1)
    x_num, x_cat = torch.randn(20, 3), torch.randint(0, 3, (20, 1))
    torch.testing.assert_close(net.eval()(x_num, x_cat), net.train()(x_num, x_cat).mean(dim=1))


def test_each_head_is_scored_on_every_row():
    out = torch.arange(12.0).reshape(2, 3, 2)
    flat, target = flatten_heads(out, torch.tensor([7, 9]))
    assert flat.shape == (6, 2) and target.tolist() == [7, 7, 7, 9, 9, 9]
    torch.testing.assert_close(flat[3], out[1, 0])
    same, _ = flatten_heads(out[:, 0], torch.tensor([7, 9]))  # an evaluated output passes unchanged
    assert same.shape == (2, 2)


def test_training_loss_is_the_mean_of_the_heads_losses():
    estimator = TabMNet(task="regression")
    loss = estimator._loss(1)
    out = torch.tensor([[[1.0], [3.0]], [[0.0], [2.0]]])  # 2 rows, 2 heads
    y = torch.tensor([1.0, 0.0])
    heads = [((1 - 1) ** 2 + (0 - 0) ** 2) / 2, ((3 - 1) ** 2 + (2 - 0) ** 2) / 2]
    assert float(loss(out, y)) == pytest.approx(np.mean(heads))


def test_constant_and_two_valued_columns_gaps_and_unseen_levels_are_handled():
    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    X = np.column_stack([signal, np.full(n, 3.0), rng.integers(0, 2, n).astype(float), rng.integers(0, 3, n)])
    X[::9, 0] = np.nan
    y = (signal > 0).astype(int)
    net = TabMNet(categorical_indices=(3,), category_counts=(3,), **FAST).fit(X, y)
    assert net.numeric_columns_ == [0, 2]  # the constant column is dropped
    assert net.indicator_columns_ == [0] and net.cardinalities_ == [4, 2]  # codes + missing, then the gap flag
    assert [len(b) for b in net.bins_][1] == 2  # a two-valued column gets one bin
    unseen = X[:5].copy()
    unseen[:, 3] = [7, -1, np.nan, 1, 2]
    inputs = net._inputs(unseen)
    assert inputs[1][:, 0].tolist() == [0, 0, 0, 2, 3]
    assert np.isfinite(net.predict_proba(unseen)).all()


def test_a_frame_with_nothing_that_varies_predicts_the_training_mean():
    X = np.ones((120, 2))
    y = np.linspace(0.0, 10.0, 120)
    net = TabMNet(task="regression", **{**FAST, "max_epochs": 40, "learning_rate": 0.05}).fit(X, y)
    assert net.numeric_columns_ == []
    assert net.predict(X[:3]) == pytest.approx(np.full(3, y.mean()), abs=0.5)


def test_only_categorical_columns_fit():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(200, 2)).astype(float)
    y = (codes[:, 0] >= 2).astype(int)
    net = TabMNet(categorical_indices=(0, 1), category_counts=(4, 4), **{**FAST, "max_epochs": 30}).fit(codes, y)
    assert net.numeric_columns_ == []
    assert (net.predict(codes) == y).mean() > 0.95


@pytest.mark.parametrize("embedding,arch", [("piecewise", "tabm"), ("periodic", "tabm-mini"), ("none", "tabm-packed")])
def test_every_embedding_and_architecture_learns(embedding, arch):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4))
    y = X[:, 0] - 2 * X[:, 1]
    params = {**FAST, "max_epochs": 30, "numeric_embedding": embedding, "arch_type": arch}
    net = get_family("tabm").build(params, BuildContext("regression", 0, 400, 4)).fit(X[:300], y[:300])
    assert np.corrcoef(net.predict(X[300:]), y[300:])[0, 1] > 0.9


@pytest.mark.parametrize("bad,rule", [({"k": 0}, "k, n_blocks"), ({"arch_type": "tabm-max"}, "arch_type must be one of"),
                                      ({"n_bins": 1}, "n_bins must be >= 2"), ({"dropout": 1.5}, "dropout must be")])
def test_bad_parameters_fail_with_the_rule(bad, rule):
    with pytest.raises(ValueError, match=rule):
        TabMNet(**bad).fit(np.zeros((60, 2)), np.arange(60) % 2)


def test_a_saved_tabm_model_needs_its_packages():
    from automl.persistence import family_requirements

    class Fitted:
        best_family_ = "tabm"

    assert {"torch", "tabm", "rtdl_num_embeddings"} <= set(family_requirements(Fitted()))


def test_gradient_norms_are_clipped_at_the_setting():
    from automl.families.torch_common import TrainConfig, train

    X = torch.full((16, 1), 3.0)
    y = torch.full((16,), 10.0)  # far from the start: every gradient is large
    config = TrainConfig(learning_rate=0.1, batch_size=16, max_epochs=1, patience=0, optimizer="sgd", momentum=0.0,
                         gradient_clipping=0.01)
    loss = lambda out, t: ((out.squeeze(-1) - t) ** 2).mean()  # noqa: E731

    def make():
        torch.manual_seed(0)
        return torch.nn.Linear(1, 1, bias=False)

    start = float(make().weight.detach())
    clipped, result = train(make, loss, (X,), y, None, config, torch.device("cpu"), seed=0)
    steps = 16 // result.batch_size
    assert abs(float(clipped.weight.detach()) - start) <= steps * 0.1 * 0.01 + 1e-6  # each step at most lr x clip
    free, _ = train(make, loss, (X,), y, None, TrainConfig(**{**config.__dict__, "gradient_clipping": 0.0}),
                    torch.device("cpu"), seed=0)
    assert abs(float(free.weight.detach()) - start) > 1.0  # unclipped, it moves most of the way to 10 / 3


@pytest.mark.parametrize("hidden", [("tabm",), ("torch", "tabm", "rtdl_num_embeddings")])
def test_without_its_packages_the_family_is_unavailable_with_the_extra_that_brings_them(monkeypatch, hidden):
    import importlib.util

    import automl
    from automl.exceptions import FamilyUnavailableError
    from automl.families.registry import resolve_families

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    assert "tabm" not in automl.available_families("binary")
    with pytest.raises(FamilyUnavailableError, match=r'automl\[tabm\]'):
        resolve_families(["tabm"], "binary")


def test_the_install_hints_name_extras_that_install_those_modules():
    import re
    import tomllib
    from pathlib import Path

    from automl.families.registry import _EXTRAS

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for extra, modules in _EXTRAS.items():
        declared = {re.split(r"[<>=\[ ]", r)[0].replace("-", "_") for r in extras[extra]}
        assert modules <= declared, (extra, modules, declared)


def test_tabm_is_searched_when_named_and_left_out_of_the_default_families():
    import automl
    from automl.families.registry import resolve_families

    assert "tabm" in automl.available_families("binary")  # installed
    assert "tabm" not in [f.name for f in resolve_families(None, "binary")]  # not in families=None
    assert [f.name for f in resolve_families(["tabm"], "binary")] == ["tabm"]


def test_the_families_command_says_tabm_is_searched_when_named(capsys):
    import argparse

    from automl.cli.commands import families

    families(argparse.Namespace())
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("tabm "))
    assert "searched when named in --families" in line
