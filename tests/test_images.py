"""Images as input: arrays (N, H, W[, C]) and pixel columns with image_shape=, through fit, predict and save."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import automl
from automl.data.images import as_image_frame
from automl.exceptions import DataValidationError, InputTypeError, InvalidParameterError

torch = pytest.importorskip("torch")

FAST_CNN = {"cnn": {"max_epochs": 3, "n_blocks": 1, "filters": 16, "head_width": 64}}


def _images(n=120, shape=(6, 6), seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, *shape))
    labels = np.where(images[:, :, : shape[1] // 2].mean(axis=(1, 2)) > 0, "left", "right")
    return images, labels


def _fit(images, labels, **kwargs):
    settings = dict(families=["cnn"], n_trials=1, cv=2, n_jobs=1, tracking=False, search_space=FAST_CNN)
    settings.update(kwargs)
    return automl.fit(images, target=labels, **settings)


def test_image_array_fits_and_predicts_images_and_pixel_frames():
    images, labels = _images()
    model = _fit(images, labels)
    assert model.image_shape_ == (6, 6, 1)
    assert model.best_family_ == "cnn"
    preds = model.predict(images[:4])
    assert set(preds) <= {"left", "right"}
    flat = pd.DataFrame(images[:4].reshape(4, -1), columns=[f"pixel_{i}" for i in range(36)])
    np.testing.assert_array_equal(model.predict_proba(flat), model.predict_proba(images[:4]))
    assert model.predict(images[:0]).shape == (0,)


def test_channels_last_images_keep_their_channels():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(80, 5, 5, 3))
    labels = (images[..., 0].mean(axis=(1, 2)) > 0).astype(int)
    model = _fit(images, labels)
    assert model.image_shape_ == (5, 5, 3)
    conv = next(m for m in model.model_.estimator_.module_.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.in_channels == 3


def test_pixel_columns_with_image_shape_reach_the_cnn():
    images, labels = _images()
    frame = pd.DataFrame(images.reshape(len(images), -1), columns=[f"p{i}" for i in range(36)])
    model = automl.fit(frame.assign(label=labels), target="label", image_shape=(6, 6), families=["cnn"],
                       n_trials=1, cv=2, n_jobs=1, tracking=False, search_space=FAST_CNN)
    assert model.image_shape_ == (6, 6, 1)
    assert model.predict(frame.head(2)).shape == (2,)


def test_default_families_for_images_try_the_cnn_first():
    images, labels = _images(60)
    model = automl.fit(images, target=labels, n_trials=2, cv=2, n_jobs=1, tracking=False, search_space=FAST_CNN)
    assert model.study_.trials[0].params["family"] == "cnn"
    assert model.study_.trials[1].params["family"] == "lightgbm"  # then the tabular families, on pixels


def test_saved_cnn_loads_and_predicts_the_same(tmp_path):
    images, labels = _images()
    model = _fit(images, labels)
    model.save(tmp_path / "m")
    loaded = automl.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(images[:5]), model.predict_proba(images[:5]))


@pytest.mark.parametrize(
    "make_input,error,match",
    [
        (lambda im: im[:, :5, :], DataValidationError, r"images of shape \(5, 6, 1\)"),
        (lambda im: im.reshape(len(im), -1)[:, :30], DataValidationError, "X has 30 features, but AutoMLClassifier is expecting 36 features"),
        (lambda im: im.astype(str), DataValidationError, "pixels must be real numbers"),
    ],
)
def test_predict_rejects_images_of_another_shape(make_input, error, match):
    images, labels = _images()
    model = _fit(images, labels)
    with pytest.raises(error, match=match):
        model.predict(make_input(images))


def test_cnn_on_a_table_is_refused_with_the_way_to_pass_images(binary_df):
    with pytest.raises(InvalidParameterError, match=r"family 'cnn' models image data, not table data; pass images"):
        automl.fit(binary_df, target="label", families=["cnn"], n_trials=1, tracking=False)


@pytest.mark.parametrize("shape", [(6,), (6, 6, 1, 1), (0, 6), "6by6", (6.0, 6)])
def test_malformed_image_shape_is_rejected(shape):
    images, labels = _images()
    frame = pd.DataFrame(images.reshape(len(images), -1))
    with pytest.raises(InvalidParameterError, match="image_shape must be"):
        automl.AutoMLClassifier(image_shape=shape, n_trials=1, tracking=False).fit(frame, labels)


def test_pixel_frame_of_the_wrong_width_or_type_is_rejected():
    images, labels = _images()
    frame = pd.DataFrame(images.reshape(len(images), -1))
    with pytest.raises(DataValidationError, match="needs 49 pixel columns"):
        as_image_frame(frame, (7, 7))
    frame[0] = "a"
    with pytest.raises(DataValidationError, match="pixel columns must be numeric"):
        as_image_frame(frame, (6, 6))


def test_image_array_needs_labels_as_values():
    images, _ = _images()
    with pytest.raises(InvalidParameterError, match="pass their labels as target="):
        automl.fit(images, target="label")


def test_image_array_with_a_contradicting_image_shape_is_rejected():
    images, labels = _images()
    with pytest.raises(DataValidationError, match=r"image_shape=\(5, 5\)"):
        automl.fit(images, target=labels, image_shape=(5, 5), tracking=False)


def test_five_dimensional_arrays_are_not_images():
    with pytest.raises(InputTypeError):
        automl.fit(np.zeros((4, 2, 2, 2, 2)), target=np.zeros(4))


@pytest.mark.slow
def test_cnn_defaults_reach_97_percent_test_accuracy_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    model = automl.fit(X_train, target=y_train, families=["cnn"], n_trials=1, cv="holdout:0.2", n_jobs=1,
                       tracking=False)
    assert (model.predict(X_test) == y_test).mean() >= 0.97


def test_a_saved_net_names_torch_and_loading_without_torch_says_how_to_install_it(tmp_path, monkeypatch):
    import importlib.util
    import json

    from automl.exceptions import FamilyUnavailableError

    images, labels = _images(60)
    folder = _fit(images, labels).save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["requires"] == ["torch"] and manifest["versions"]["torch"]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(FamilyUnavailableError, match=r'needs torch.*automl\[torch\]'):
        automl.load(folder)


def test_pip_requirements_of_a_net_pin_torch_without_the_local_label():
    from automl.tracking.pyfunc import pip_requirements

    pins = [r for r in pip_requirements(("torch",)) if r.startswith("torch==")]
    assert pins and "+" not in pins[0]


def test_a_model_fitted_on_named_pixel_columns_predicts_image_arrays_in_their_order():
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data[:300], columns=[f"p{i}" for i in range(64)]).assign(y=digits.target[:300])
    model = automl.fit(frame, target="y", image_shape=(8, 8), families=["linear"], n_trials=1, cv=2, n_jobs=1,
                       tracking=False, isolation="none")
    images = digits.images[:20]
    assert np.array_equal(model.predict(images), model.predict(frame.drop(columns="y").head(20)))
    with pytest.raises(automl.DataValidationError, match=r"fitted on images of shape \(8, 8, 1\)"):
        model.predict(np.zeros((3, 7, 7)))


def test_stack_asked_for_by_name_on_images_says_why_there_is_none():
    images, labels = _images()
    with pytest.warns(UserWarning, match="stack=True: no second level over the blend will be built, for image data"):
        model = _fit(images, labels, families=["linear", "knn"], n_trials=4, stack=True, search_space=None,
                     isolation="none")
    assert not model.model_source_.startswith("stack")


def test_an_image_arrays_bad_pixels_are_named_in_the_arrays_terms_and_nothing_is_written(tmp_path):
    images, labels = _images()
    bad = images.copy()
    bad[3, 2, 4] = np.inf
    bad[:, 0, 1] = np.nan  # one position missing in every image
    store = tmp_path / "store"
    with pytest.raises(DataValidationError) as info:
        automl.fit(bad, target=labels, families=["cnn"], n_trials=1, tracking_uri=f"sqlite:///{store / 'm.db'}",
                   tracking=True, study_name="bad", storage=str(tmp_path / "s.journal"))
    message = str(info.value)
    assert "1 infinite pixel value(s), the first in image 3 at (row, column, channel) (2, 4, 0)" in message
    assert "data[np.isinf(data)] = np.nan" in message and "1 pixel position(s) missing (NaN) in every image" in message
    assert "(0, 1, 0)" in message and "column 'pixel_" not in message and "df[" not in message
    assert not list(tmp_path.iterdir())  # no MLflow store, no study file
    model = _fit(images, labels)
    with pytest.raises(DataValidationError, match=r"infinite pixel value\(s\), the first in image 3"):
        model.predict(bad)
    only_nan = images[:4].copy()
    only_nan[:, 0, 1] = np.nan  # at predict a missing pixel takes fit's fill value
    assert model.predict(only_nan).shape == (4,)
