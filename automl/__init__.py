"""automl: AutoML model selection and evaluation on pandas DataFrames.

An Optuna search compares scikit-learn and LightGBM families under
cross-validation, tunes their hyperparameters and refits the best one.
Importing ``automl`` is light: scikit-learn, optuna, lightgbm, torch and
mlflow load only when first used.

Example:
    >>> import automl
    >>> from sklearn.datasets import load_iris
    >>> df = load_iris(as_frame=True).frame
    >>> model = automl.fit(df, target="target", n_trials=2, families=["linear"], cv=3)
    >>> model.predict(df.head(3)).tolist()
    [0, 0, 0]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from automl._version import __version__

# Public name -> module that defines it; loaded on first access (PEP 562).
_LAZY = {
    "fit": "automl.api",
    "load": "automl.api",
    "model_digest": "automl.persistence",
    "AutoMLClassifier": "automl.estimators",
    "AutoMLRegressor": "automl.estimators",
    "available_families": "automl.families.registry",
    "register_family": "automl.families.registry",
    "ModelFamily": "automl.families.base",
    "available_metrics": "automl.evaluation.metrics",
    "Metric": "automl.evaluation.metrics",
    "AutoMLError": "automl.exceptions",
    "InvalidParameterError": "automl.exceptions",
    "DataValidationError": "automl.exceptions",
    "InputTypeError": "automl.exceptions",
    "SearchSpaceError": "automl.exceptions",
    "UnknownNameError": "automl.exceptions",
    "FamilyUnavailableError": "automl.exceptions",
    "AllTrialsFailedError": "automl.exceptions",
    "NonFinitePredictionError": "automl.exceptions",
    "BudgetExhaustedError": "automl.exceptions",
    "RefitFailedError": "automl.exceptions",
    "StudyMismatchError": "automl.exceptions",
    "StudyNotFoundError": "automl.exceptions",
    "ModelFileError": "automl.exceptions",
    "ModelSaveError": "automl.exceptions",
    "NotFittedError": "automl.exceptions",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from automl.api import fit as fit, load as load
    from automl.estimators import AutoMLClassifier as AutoMLClassifier, AutoMLRegressor as AutoMLRegressor
    from automl.evaluation.metrics import Metric as Metric, available_metrics as available_metrics
    from automl.exceptions import (
        AllTrialsFailedError as AllTrialsFailedError,
        AutoMLError as AutoMLError,
        BudgetExhaustedError as BudgetExhaustedError,
        DataValidationError as DataValidationError,
        FamilyUnavailableError as FamilyUnavailableError,
        InputTypeError as InputTypeError,
        InvalidParameterError as InvalidParameterError,
        ModelFileError as ModelFileError,
        ModelSaveError as ModelSaveError,
        NotFittedError as NotFittedError,
        RefitFailedError as RefitFailedError,
        SearchSpaceError as SearchSpaceError,
        StudyMismatchError as StudyMismatchError,
        StudyNotFoundError as StudyNotFoundError,
        UnknownNameError as UnknownNameError,
    )
    from automl.families.base import ModelFamily as ModelFamily
    from automl.families.registry import available_families as available_families, register_family as register_family
    from automl.persistence import model_digest as model_digest


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'automl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
