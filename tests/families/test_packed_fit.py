"""fit_packed: several torch estimators of one shape fitted at once end as their own fit leaves them."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from automl.exceptions import InvalidParameterError, NotFittedError  # noqa: E402
from automl.families.epochs import fit_deadline  # noqa: E402
from automl.families.packed_fit import fit_packed, pack_problems  # noqa: E402
from automl.families.torch_mlp import TabularNet  # noqa: E402

ATOL = 1e-5


def _rows(task="binary", n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[:, 4] = rng.integers(0, 4, size=n)  # a categorical column (codes)
    X[rng.random(n) < 0.05, 1] = np.nan
    signal = X[:, 0] + np.nan_to_num(X[:, 1]) * X[:, 2] + (X[:, 4] == 2)
    if task == "binary":
        return X, (signal > 0.5).astype(int)
    if task == "multiclass":
        return X, np.digitize(signal, [0.0, 1.0])
    return X, 10 + 3 * signal


def _alike(make, rates, **common):
    return [make(learning_rate=lr, **common) for lr in rates], [make(learning_rate=lr, **common) for lr in rates]


def _outputs(estimator, X):
    return estimator.predict(X) if estimator.task == "regression" else estimator.predict_proba(X)


CATEGORICAL = {"categorical_indices": [4], "category_counts": [4]}


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("shape", [
    {"architecture": "mlp", "normalization": "none"},
    {"architecture": "resnet", "normalization": "layer", "categorical_encoding": "onehot"},
    {"architecture": "mlp", "normalization": "batch", "shape": "funnel"},
])
def test_torch_mlp_members_predict_as_when_fitted_alone(task, shape):
    X, y = _rows(task)
    n_classes = 3 if task == "multiclass" else 2 if task == "binary" else 0
    common = dict(task=task, n_classes=n_classes, n_layers=2, width=32, dropout=0.0, max_epochs=6, patience=3,
                  batch_size=32, device="cpu", seed=7, **CATEGORICAL, **shape)
    batch_norm = shape["normalization"] == "batch"
    packed, alone = _alike(TabularNet, (3e-4, 3e-3, 1e-2 if batch_norm else 3e-2), **common)
    packed[1].set_params(weight_decay=0.05)
    alone[1].set_params(weight_decay=0.05)
    assert fit_packed(packed, X, y) == [None, None, None]
    # torch_mlp keeps a bias before batch norm (the seed reference nets depend on its draws): that bias's
    # gradient is rounding noise, which Adam's normalised step turns into moves that differ with the float
    # ordering, alone or packed, growing with the learning rate. Batch norm cancels it in training (the training
    # losses agree), not in evaluation, where the running mean lags it: validation losses agree to a few
    # per cent, and where two epochs' are that close (on an AVX-512 machine: 0.33460 against 0.33445 packed,
    # 0.33367 against 0.33390 alone) the epoch kept may differ. Where it is the same, the predictions agree on
    # average (to 5e-3), not row by row to 1e-5 (packed_training's tests show exact agreement for a batch-norm
    # net without that bias).
    for p, a in zip(packed, alone):
        a.fit(X, y)
        scale = max(1.0, float(np.abs(y).max()))
        difference = np.abs(_outputs(p, X) - _outputs(a, X))
        assert p.train_result_.epochs_run == a.train_result_.epochs_run
        if batch_norm:
            np.testing.assert_allclose(p.train_result_.train_loss, a.train_result_.train_loss, rtol=1e-4)
            np.testing.assert_allclose(p.train_result_.valid_loss, a.train_result_.valid_loss, rtol=5e-2)
            if p.train_result_.best_epoch == a.train_result_.best_epoch:
                assert difference.mean() < 5e-3 * scale
        else:
            assert difference.max() < ATOL * scale
            assert p.train_result_.best_epoch == a.train_result_.best_epoch


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tabm_members_predict_as_when_fitted_alone(task):
    pytest.importorskip("tabm")
    from automl.families.tabm import TabMNet

    X, y = _rows(task, n=240)
    n_classes = 3 if task == "multiclass" else 2 if task == "binary" else 0
    common = dict(task=task, n_classes=n_classes, k=4, n_blocks=1, d_block=32, n_bins=8, d_embedding=8, dropout=0.0,
                  max_epochs=4, batch_size=32, device="cpu", seed=3, **CATEGORICAL)
    packed, alone = _alike(TabMNet, (1e-3, 5e-3), **common)
    assert fit_packed(packed, X, y) == [None, None]
    for p, a in zip(packed, alone):
        a.fit(X, y)
        np.testing.assert_allclose(_outputs(p, X), _outputs(a, X), atol=ATOL * max(1.0, float(np.abs(y).max())))


def test_each_member_reports_its_own_scores_and_a_raising_reporter_ends_only_its_member():
    X, y = _rows()
    seen: dict[int, list[tuple[int, float]]] = {0: [], 1: []}

    def reporter(i, prune_at=None):
        def report(epoch, y_true, scores):
            assert scores.shape == (len(y_true), 2) and np.allclose(scores.sum(1), 1)
            seen[i].append((epoch, float(scores[:, 1].mean())))
            if epoch == prune_at:
                raise RuntimeError("pruned at epoch 1")
            return False
        return report

    packed, alone = _alike(TabularNet, (1e-3, 1e-2), max_epochs=4, patience=0, dropout=0.0, device="cpu")
    errors = fit_packed(packed, X, y, reporters=[reporter(0, prune_at=1), reporter(1)])
    assert isinstance(errors[0], RuntimeError) and errors[1] is None
    with pytest.raises(NotFittedError):
        packed[0].predict(X)
    assert [e for e, _ in seen[0]] == [0, 1] and [e for e, _ in seen[1]] == [0, 1, 2, 3]
    assert seen[0][0][1] != seen[1][0][1]  # its own outputs, not the other member's
    alone[1].fit(X, y)
    np.testing.assert_allclose(packed[1].predict_proba(X), alone[1].predict_proba(X), atol=ATOL)


def test_a_passed_fit_deadline_ends_every_member_keeping_its_best_epoch():
    X, y = _rows()
    nets = [TabularNet(learning_rate=lr, max_epochs=50, dropout=0.0, device="cpu") for lr in (1e-3, 1e-2)]
    with fit_deadline(time.monotonic() - 1):
        assert fit_packed(nets, X, y) == [None, None]
    assert [n.train_result_.epochs_run for n in nets] == [1, 1]
    assert all(n.train_result_.time_capped for n in nets)


def test_a_single_class_fits_every_member_to_it():
    X, _ = _rows()
    nets = [TabularNet(learning_rate=lr, device="cpu") for lr in (1e-3, 1e-2)]
    assert fit_packed(nets, X, np.ones(len(X), dtype=int)) == [None, None]
    assert all((n.predict(X[:5]) == 1).all() for n in nets)


def test_packed_members_pickle_and_predict_after_loading():
    X, y = _rows()
    nets = [TabularNet(learning_rate=lr, max_epochs=3, device="cpu") for lr in (1e-3, 1e-2)]
    fit_packed(nets, X, y)
    loaded = pickle.loads(pickle.dumps(nets[1]))
    np.testing.assert_allclose(loaded.predict_proba(X), nets[1].predict_proba(X))
    assert loaded.classes_ is not nets[0].classes_  # each member holds its own learned state
    assert nets[0].module_ is not nets[1].module_


def test_estimators_that_cannot_share_a_pack_are_refused_and_left_unfitted():
    X, y = _rows()
    different = [TabularNet(width=32), TabularNet(width=64, dropout=0.3)]
    with pytest.raises(InvalidParameterError) as caught:
        fit_packed(different, X, y)
    assert "differ in dropout ([0.1, 0.3])" in str(caught.value) and "differ in width ([32, 64])" in str(caught.value)
    assert not any(hasattr(n, "module_") for n in different)
    assert pack_problems([TabularNet(optimizer="sgd"), TabularNet(optimizer="sgd", learning_rate=0.1)]) == [
        "optimizer 'sgd' is not packed (packed: ('adamw', 'adam')); train it alone"]
    assert "one class" in pack_problems([TabularNet(), object()])[0]
    with pytest.raises(InvalidParameterError, match="one entry per estimator"):
        fit_packed([TabularNet(), TabularNet()], X, y, reporters=[None])
    assert fit_packed([], X, y) == []


def test_a_cnn_is_refused_for_its_augmentation():
    from automl.families.cnn import ConvNetClassifier

    problems = pack_problems([ConvNetClassifier(augmentation="flip"),
                              ConvNetClassifier(augmentation="flip", learning_rate=0.01)])
    assert any("augments its training batches" in p for p in problems)


@pytest.mark.parametrize("family", ["torch_mlp", "tabm"])
def test_with_little_device_memory_a_pack_trains_in_sub_packs_and_each_member_ends_as_alone(family, monkeypatch):
    """The CUDA path's sizing driven on the CPU: the memory a pack may take holds two members' estimates."""
    from automl.families import packed_training

    X, y = _rows("binary", n=240)
    if family == "tabm":
        pytest.importorskip("tabm")
        from automl.families.tabm import TabMNet as make
        common = dict(k=4, n_blocks=1, d_block=32, n_bins=8, d_embedding=8)
    else:
        make, common = TabularNet, dict(n_layers=2, width=32)
    common.update(task="binary", n_classes=2, dropout=0.0, max_epochs=3, patience=0, batch_size=32, device="cpu",
                  seed=3, **CATEGORICAL)
    packed, alone = _alike(make, (1e-3, 3e-3, 1e-2), **common)
    estimates, order = [], []
    real = packed_training.member_bytes

    def member_bytes(member, inputs, batch_size):
        estimates.append(real(member, inputs, batch_size))  # the estimate runs on this family's module
        return 100

    monkeypatch.setattr(packed_training, "member_bytes", member_bytes)
    monkeypatch.setattr(packed_training, "_memory_limit", lambda device: 250)
    reporters = [lambda epoch, y_true, scores, i=i: order.append(i) for i in range(3)]
    assert fit_packed(packed, X, y, reporters=reporters) == [None, None, None]
    assert estimates and estimates[0] > 0
    assert order == [0, 1] * 3 + [2] * 3  # two members, then the third
    for p, a in zip(packed, alone):
        a.fit(X, y)
        np.testing.assert_allclose(_outputs(p, X), _outputs(a, X), atol=ATOL)
