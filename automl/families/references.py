"""Reference nets as pinned configurations of the ``torch_mlp`` and ``cnn`` families.

Each is an ordinary search with one family and every parameter pinned, so it
runs through the same loop (cross-validation, leaderboard, tracking, refit) as
a tuned search::

    automl.fit(X, target=y, n_trials=1, **reference_settings("mlp_10_50_10"))

=================  ================================================================  ==========
name               network                                                           training
=================  ================================================================  ==========
``mlp_10_50_10``   MLP 10→50→10, ReLU, cross-entropy                                 Adam, lr 1e-3, 10 epochs
``mlp_784``        MLP 784→256→128→10, ReLU, cross-entropy                           SGD, lr 0.01
``linear_sgd``     Linear(1, 1), mean squared error (learns y = 2x)                  SGD, lr 0.01
``dense_binary``   3→64→64→1, sigmoid output, binary cross-entropy                   Adam, lr 1e-3
``cnn_28``         Conv32-MaxPool-Conv64-MaxPool-Dense128-Dense10 on 28×28×1          Adam, lr 1e-3
``cnn_32_rgb``     Conv32-Pool-Conv64-Pool-Conv128-Pool-Dense128 on 32×32×3           Adam, lr 1e-3
=================  ================================================================  ==========

The input and output widths come from the data (10 features and 10 classes
give 10→50→10). Rows are not rescaled (``numeric_scaling: none``) except
where noted, and no validation split is held out: every epoch is trained.

Example:
    >>> settings = reference_settings("linear_sgd")
    >>> settings["families"], settings["search_space"]["torch_mlp"]["n_layers"]
    (['torch_mlp'], 0)
"""

from __future__ import annotations

from typing import Any

from automl._suggest import unknown_name_message
from automl.exceptions import UnknownNameError

__all__ = ["REFERENCE_NETS", "reference_settings"]

_PLAIN = {  # no regularisation, constant learning rate, every epoch trained
    "dropout": 0.0, "weight_decay": 0.0, "schedule": "constant", "patience": 0, "validation_fraction": 0.0,
}
_MLP = {**_PLAIN, "architecture": "mlp", "shape": "constant", "activation": "relu", "normalization": "none",
        "numeric_scaling": "none", "categorical_encoding": "onehot", "momentum": 0.0}
_CNN = {**_PLAIN, "kernel_size": 3, "pooling": "max", "head_width": 128, "activation": "relu",
        "batch_norm": False, "augmentation": "none", "momentum": 0.0}

#: name -> (family, pinned parameters, description)
REFERENCE_NETS: dict[str, tuple[str, dict[str, Any], str]] = {
    "mlp_10_50_10": ("torch_mlp", {**_MLP, "n_layers": 1, "width": 50, "optimizer": "adam",
                                   "learning_rate": 1e-3, "batch_size": 32, "max_epochs": 10},
                     "MLP 10->50->10, ReLU, Adam lr 1e-3, cross-entropy, 10 epochs"),
    "mlp_784": ("torch_mlp", {**_MLP, "n_layers": 2, "width": 256, "shape": "funnel", "optimizer": "sgd",
                              "learning_rate": 0.01, "batch_size": 64, "max_epochs": 10},
                "MLP 784->256->128->10, ReLU, SGD lr 0.01"),
    "linear_sgd": ("torch_mlp", {**_MLP, "n_layers": 0, "width": 1, "optimizer": "sgd", "learning_rate": 0.01,
                                 "batch_size": 16, "max_epochs": 100, "target_scaling": "none"},
                   "Linear(1,1), SGD lr 0.01, mean squared error: converges to y = 2x"),
    "dense_binary": ("torch_mlp", {**_MLP, "n_layers": 2, "width": 64, "optimizer": "adam",
                                   "learning_rate": 1e-3, "batch_size": 32, "max_epochs": 30},
                     "3->64->64->1 with a sigmoid output and binary cross-entropy, Adam"),
    "cnn_28": ("cnn", {**_CNN, "n_blocks": 2, "filters": 32, "optimizer": "adam", "learning_rate": 1e-3,
                       "batch_size": 64, "max_epochs": 10},
               "CNN Conv32-MaxPool-Conv64-MaxPool-Dense128-Dense10 on 28x28x1 images"),
    "cnn_32_rgb": ("cnn", {**_CNN, "n_blocks": 3, "filters": 32, "optimizer": "adam", "learning_rate": 1e-3,
                           "batch_size": 64, "max_epochs": 10},
                   "CNN Conv32/64/128 with max pooling and a 128-wide head on 32x32x3 images"),
}


def reference_settings(name: str) -> dict[str, Any]:
    """``families=`` and ``search_space=`` settings that pin reference net ``name``.

    Raises:
        UnknownNameError: ``name`` is not in :data:`REFERENCE_NETS` (with close names).
    """
    if name not in REFERENCE_NETS:
        raise UnknownNameError(unknown_name_message("reference net", name, REFERENCE_NETS))
    family, params, _ = REFERENCE_NETS[name]
    return {"families": [family], "search_space": {family: dict(params)}}
