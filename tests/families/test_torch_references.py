"""The reference nets run through the same search loop as any search, with every parameter pinned."""

from __future__ import annotations

import numpy as np
import pytest

import automl
from automl.exceptions import UnknownNameError
from automl.families.references import REFERENCE_NETS, reference_settings

torch = pytest.importorskip("torch")


def _pipeline(model):
    """The fitted pipeline (under ``calibrate="auto"`` a multiclass model may be temperature-scaled around it)."""
    return getattr(model.model_, "model", model.model_)


def _layers(model, kind):
    module = _pipeline(model).estimator_.module_
    return [tuple(m.weight.shape) for m in module.modules() if isinstance(m, kind)]


def _fit(name, X, y, **kwargs):
    return automl.fit(X, target=y, n_trials=1, cv="holdout:0.25", n_jobs=1, tracking=False,
                      **reference_settings(name), **kwargs)


def test_mlp_10_50_10_has_that_shape_and_trains_ten_epochs():
    from sklearn.datasets import make_classification

    X, y = make_classification(400, n_features=10, n_informative=8, n_classes=10, n_clusters_per_class=1,
                               random_state=0)
    model = _fit("mlp_10_50_10", X, y)
    assert _layers(model, torch.nn.Linear) == [(50, 10), (10, 50)]
    assert _pipeline(model).estimator_.train_result_.epochs_run == 10
    assert _pipeline(model).estimator_.optimizer == "adam"
    assert model.leaderboard()["accuracy_mean"].iloc[0] > 0.3  # ten classes: chance is 0.1


def test_mlp_784_256_128_10_with_sgd():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 784)).astype("float32")
    y = np.argmax(X[:, :10], axis=1)
    model = _fit("mlp_784", X, y)
    assert _layers(model, torch.nn.Linear) == [(256, 784), (128, 256), (10, 128)]
    assert _pipeline(model).estimator_.optimizer == "sgd"


def test_linear_sgd_converges_to_y_equals_2x():
    x = np.linspace(-2, 2, 200)
    model = _fit("linear_sgd", x.reshape(-1, 1), 2 * x)
    (linear,) = [m for m in _pipeline(model).estimator_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert tuple(linear.weight.shape) == (1, 1)
    assert float(linear.weight.detach()) == pytest.approx(2.0, abs=0.02)
    assert float(linear.bias.detach()) == pytest.approx(0.0, abs=0.02)


def test_dense_binary_has_one_sigmoid_output():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    model = _fit("dense_binary", X, y)
    assert _layers(model, torch.nn.Linear) == [(64, 3), (64, 64), (1, 64)]
    assert model.best_score_ > 0.85  # ROC AUC on the holdout rows
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def _digits_28(n):
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.stack([zoom(im, 3.5, order=1) for im in digits.images[:n]])
    return images, digits.target[:n]


def test_cnn_28_is_conv32_pool_conv64_pool_dense128_dense10():
    images, y = _digits_28(400)
    assert images.shape[1:] == (28, 28)
    settings = reference_settings("cnn_28")
    settings["search_space"]["cnn"]["max_epochs"] = 3
    model = automl.fit(images, target=y, n_trials=1, cv="holdout:0.25", n_jobs=1, tracking=False, **settings)
    assert _layers(model, torch.nn.Conv2d) == [(32, 1, 3, 3), (64, 32, 3, 3)]
    assert _layers(model, torch.nn.Linear) == [(128, 64 * 7 * 7), (10, 128)]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in _pipeline(model).estimator_.module_.modules()) == 2
    assert model.leaderboard()["accuracy_mean"].iloc[0] > 0.5
    assert model.predict(images[:3]).shape == (3,)


def test_cnn_32_rgb_has_three_conv_blocks():
    rng = np.random.default_rng(2)
    images = rng.normal(size=(120, 32, 32, 3)).astype("float32")
    y = (images[:, :, :16, 0].mean(axis=(1, 2)) > 0).astype(int)
    settings = reference_settings("cnn_32_rgb")
    settings["search_space"]["cnn"]["max_epochs"] = 2
    model = automl.fit(images, target=y, n_trials=1, cv="holdout:0.25", n_jobs=1, tracking=False, **settings)
    assert _layers(model, torch.nn.Conv2d) == [(32, 3, 3, 3), (64, 32, 3, 3), (128, 64, 3, 3)]
    assert _layers(model, torch.nn.Linear) == [(128, 128 * 4 * 4), (1, 128)]
    assert model.image_shape_ == (32, 32, 3)


def test_every_reference_pins_known_parameters_of_its_family():
    from automl.families import get_family

    for name, (family, params, description) in REFERENCE_NETS.items():
        space = get_family(family).space().with_overrides(params, source=name,
                                                          pin_choices=get_family(family).pin_choices)
        assert set(params) <= set(space.names) and description


def test_the_nets_pin_choices_are_what_their_modules_take():
    pytest.importorskip("torch")
    from automl.families._torch_modules import ACTIVATIONS, NORMALIZATIONS
    from automl.families.torch_common import ACTIVATION_NAMES, NORMALIZATION_NAMES

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES and tuple(NORMALIZATIONS) == NORMALIZATION_NAMES


def test_a_pin_outside_what_the_net_takes_is_refused_before_the_search(tmp_path):
    import numpy as np
    import pandas as pd

    from automl.exceptions import InvalidParameterError

    df = pd.DataFrame({"a": np.arange(40.0), "y": np.arange(40) % 2})
    with pytest.raises(InvalidParameterError, match="did you mean 'adam'"):
        automl.fit(df, target="y", families=["torch_mlp"], n_trials=1, study_name="s",
                   search_space={"torch_mlp": {"optimizer": "adamm"}})
    with pytest.raises(InvalidParameterError, match="n_layers"):
        automl.fit(df, target="y", families=["torch_mlp"], n_trials=1, study_name="s",
                   search_space={"torch_mlp": {"n_layers": -1}})
    assert list(tmp_path.iterdir()) == []


def test_unknown_reference_suggests_a_close_name():
    with pytest.raises(UnknownNameError, match="mlp_784"):
        reference_settings("mlp_748")
