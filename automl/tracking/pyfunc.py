"""The final model as an MLflow pyfunc: the saved automl folder plus a thin ``PythonModel``.

``mlflow.pyfunc.load_model(uri).predict(df)`` equals ``model.predict(df)``: the
pyfunc loads the saved folder (schema, preprocessing and estimator included)
with :func:`automl.load`. The automl package travels in the model's code path.

Example:
    >>> from automl.tracking.pyfunc import AutoMLPythonModel  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from pathlib import Path
from typing import Any

import mlflow.pyfunc
from mlflow.pyfunc import PythonModel

from automl.persistence import load_model

__all__ = ["AutoMLPythonModel", "log_pyfunc_model", "model_signature", "pip_requirements"]

_RUNTIME = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "joblib", "pyyaml", "optuna")


with warnings.catch_warnings():
    # MLflow nags at class creation about predict() lacking type hints; the schema comes from
    # the signature inferred on an input example instead.
    warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)

    class AutoMLPythonModel(PythonModel):
        """Predicts with a saved automl model folder (artifact ``automl_model``)."""

        def load_context(self, context: Any) -> None:
            """Load the saved folder (hashes checked)."""
            self._model = load_model(context.artifacts["automl_model"], check_versions=False)

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - hints would become a schema
            """Class labels or values, exactly as ``model.predict``."""
            return self._model.predict(model_input)


def pip_requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned requirements of the runtime (explicit: inference costs MLflow 17-20 s).

    Args:
        extra: Further packages the model needs (``torch`` for the nets); a local version
            label such as ``+cpu`` is dropped, since package indexes do not serve it.

    Example:
        >>> any(r.startswith("scikit-learn==") for r in pip_requirements())
        True
    """
    out = []
    for name in _RUNTIME + tuple(extra):
        try:
            out.append(f"{name}=={importlib.metadata.version(name).split('+')[0]}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def model_signature(model: Any, X_example: Any) -> tuple[Any, Any]:
    """``(signature, input example)`` of ``model`` from a few rows (``(None, None)`` when MLflow has no type for them)."""
    from mlflow.models import infer_signature

    if X_example is None or not len(X_example):
        return None, None
    example = X_example.head(5)
    try:
        return infer_signature(example, model.predict(example)), example
    except Exception:  # noqa: BLE001 - some dtypes have no MLflow type; log without a signature
        return None, None


def log_pyfunc_model(
    run_id: str, saved_folder: str, signature: Any, example: Any, registered_model_name: str | None,
    extra: tuple[str, ...] = (),
) -> str:
    """Log the pyfunc to ``run_id`` (the tracking URI must already point at the store); return its URI.

    Args:
        run_id: The parent run.
        saved_folder: The model folder written by ``model.save``.
        signature: Its MLflow signature (see :func:`model_signature`), or None.
        example: Its input example, or None.
        registered_model_name: Register the model under this name too.
        extra: Packages the model needs beyond the runtime's (``torch`` for the nets).
    """
    progress = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # no progress bars inside a fit
    try:
        return _log(run_id, saved_folder, signature, example, registered_model_name, extra)
    finally:
        if progress is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = progress


def _code_paths() -> list[str]:
    """The automl package, and its built-in search spaces when they live outside it (an editable install):
    the served model registers the built-in families from them."""
    from automl.spaces.loader import _builtin_dir

    package = Path(__file__).resolve().parents[1]
    paths = [str(package)]
    spaces = Path(str(_builtin_dir())).resolve()
    if package not in spaces.parents:
        paths.append(str(spaces))  # copied as code/search_spaces, where the loader looks beside the package
    return paths


def _log(
    run_id: str, saved_folder: str, signature: Any, example: Any, registered_model_name: str | None,
    extra: tuple[str, ...] = (),
) -> str:
    active = mlflow.active_run()
    with warnings.catch_warnings(), mlflow.start_run(run_id=run_id, nested=active is not None and active.info.run_id != run_id):
        # Type hints would make MLflow build a schema from them; the signature comes from the example.
        warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={"automl_model": str(saved_folder)},
            code_paths=_code_paths(),
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(extra),
            registered_model_name=registered_model_name,
        )
    return info.model_uri
