"""The final model as an MLflow pyfunc: the saved automl folder plus a thin ``PythonModel``.

``mlflow.pyfunc.load_model(uri).predict(df)`` equals ``model.predict(df)``: the
pyfunc loads the saved folder (schema, preprocessing and estimator included)
with :func:`automl.load`. The automl package travels in the model's code path.
``params={"predict_method": "predict_proba"}`` (declared in the signature, see
:mod:`automl.tracking.signature`) returns a classifier's probabilities instead, as a frame with
one column per class named by its label; a served model takes it in the request's ``params``.

Example:
    >>> from automl.tracking.pyfunc import AutoMLPythonModel  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import mlflow.pyfunc
from mlflow.pyfunc import PythonModel

from automl.persistence import installed_distribution, load_model
from automl.tracking.signature import PREDICT_METHODS, column_type, model_signature, served_frame

__all__ = ["AutoMLPythonModel", "column_type", "log_pyfunc_model", "model_signature", "pip_requirements",
           "predict_with", "served_frame"]

_RUNTIME = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "joblib", "pyyaml", "optuna")


with warnings.catch_warnings():
    # MLflow nags at class creation about predict() lacking type hints; the schema comes from
    # the signature built from the training frame's column types instead.
    warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)

    class AutoMLPythonModel(PythonModel):
        """Predicts with a saved automl model folder (artifact ``automl_model``)."""

        # MLflow's opt-out of type-hint validation: its nag is raised under its own warnings.catch_warnings
        # ("once"), which the filter above cannot reach (it printed in the tracking writer process).
        _skip_type_hint_validation = True

        def load_context(self, context: Any) -> None:
            """Load the saved folder (hashes checked)."""
            self._model = load_model(context.artifacts["automl_model"], check_versions=False)

        def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - hints would become a schema
            """Class labels or values, exactly as ``model.predict``; with ``params={"predict_method":
            "predict_proba"}`` a classifier's probabilities, one column per class named by its label."""
            method = (params or {}).get("predict_method") or "predict"
            return predict_with(self._model, model_input, method)


def predict_with(model: Any, frame: Any, method: str) -> Any:
    """``model.predict(frame)``, or with ``method="predict_proba"`` a frame of the class probabilities
    (columns: the class labels as text; index: ``frame``'s). What the model refuses, and an unknown
    method, is an ``MlflowException`` of a bad request, with the model's own message.

    Example:
        >>> predict_with(None, None, "transform")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        mlflow.exceptions.MlflowException: predict_method must be one of ['predict', 'predict_proba'], ...
    """
    import pandas as pd
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    from automl.exceptions import AutoMLError

    if method not in PREDICT_METHODS:
        raise MlflowException(f"predict_method must be one of {list(PREDICT_METHODS)}, got {method!r}; pass "
                              f"params={{'predict_method': 'predict_proba'}} for probabilities",
                              error_code=INVALID_PARAMETER_VALUE)
    if method == "predict_proba" and not hasattr(model, "predict_proba"):
        raise MlflowException("predict_method='predict_proba' needs a classifier; this model is a regressor: "
                              "leave predict_method out (or pass 'predict')", error_code=INVALID_PARAMETER_VALUE)
    try:
        if method == "predict":
            return model.predict(frame)
        probabilities = model.predict_proba(frame)
    except AutoMLError as exc:
        raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from exc
    index = frame.index if isinstance(frame, pd.DataFrame) else None
    return pd.DataFrame(probabilities, columns=[str(c) for c in model.classes_], index=index)


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
        found = installed_distribution(name)  # the wheel that provides it: xgboost-cpu for xgboost
        if found is not None:
            out.append(f"{found[0]}=={found[1].split('+')[0]}")
    return out


def log_pyfunc_model(
    run_id: str, saved_folder: str, signature: Any, example: Any, registered_model_name: str | None,
    extra: tuple[str, ...] = (),
) -> str:
    """Log the pyfunc to ``run_id`` (the tracking URI must already point at the store); return its URI.

    Args:
        run_id: The parent run.
        saved_folder: The model folder written by ``model.save``.
        signature: Its MLflow signature (see :func:`model_signature`), or None.
        example: Its input example (training rows, only with ``log_input_example=True``), or None.
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


def _code_paths(into: Path) -> list[str]:
    """The automl package, and its built-in search spaces when they live outside it (an editable install):
    the served model registers the built-in families from them. Copied into ``into`` without bytecode
    (``__pycache__`` is this machine's, and would more than double the logged code)."""
    import shutil

    from automl.spaces.loader import _builtin_dir

    package = Path(__file__).resolve().parents[1]
    sources = [package]
    spaces = Path(str(_builtin_dir())).resolve()
    if package not in spaces.parents:
        sources.append(spaces)  # copied as code/search_spaces, where the loader looks beside the package
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    return [str(shutil.copytree(source, into / source.name, ignore=ignore)) for source in sources]


def _log(
    run_id: str, saved_folder: str, signature: Any, example: Any, registered_model_name: str | None,
    extra: tuple[str, ...] = (),
) -> str:
    import tempfile

    active = mlflow.active_run()
    nested = active is not None and active.info.run_id != run_id
    with tempfile.TemporaryDirectory(prefix="automl-code-") as code, warnings.catch_warnings(), \
            mlflow.start_run(run_id=run_id, nested=nested):
        # Type hints would make MLflow build a schema from them; the signature comes from the training frame.
        warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
        # No input example unless log_input_example=True (they are the user's rows); the signature is given.
        warnings.filterwarnings("ignore", message=".*input example was not provided.*", category=UserWarning)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={"automl_model": str(saved_folder)},
            code_paths=_code_paths(Path(code)),
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(extra),
            registered_model_name=registered_model_name,
        )
    return info.model_uri
