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

__all__ = ["AutoMLPythonModel", "column_type", "log_pyfunc_model", "model_signature", "pip_requirements",
           "served_frame"]

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


def column_type(dtype: Any) -> str:
    """The MLflow type of a training column of ``dtype``: what the served model accepts for it.

    Nullable integers and booleans (pandas ``Int64``, ``boolean``) become ``double``: a missing value
    reaches a served model as a float, which MLflow refuses for a ``long`` column and turns into
    False for a ``boolean`` one. A categorical takes the type of its categories.

    Example:
        >>> import pandas as pd
        >>> [column_type(t) for t in (pd.Int64Dtype(), "int64", "float32", "bool", "object", "datetime64[ns]")]
        ['double', 'long', 'float', 'boolean', 'string', 'datetime']
    """
    import numpy as np
    import pandas as pd

    dtype = pd.api.types.pandas_dtype(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(dtype.categories.dtype)
    numpy = isinstance(dtype, np.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean" if numpy else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        if not numpy:
            return "double"
        if dtype.itemsize <= 2 or (dtype.kind == "i" and dtype.itemsize == 4):
            return "integer"
        return "double" if dtype.kind == "u" and dtype.itemsize == 8 else "long"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if numpy and dtype.itemsize <= 4 else "double"
    return "string"


def served_frame(frame: Any) -> Any:
    """``frame`` with every column as its signature type holds it (see :func:`column_type`): nullable
    integers and booleans as floats (missing: NaN), categoricals as plain values. This is the form of
    the input example, and the form a served model (or ``mlflow.pyfunc``'s ``predict``) accepts.

    Example:
        >>> import pandas as pd
        >>> served_frame(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))["n"].tolist()
        [1.0, nan]
    """
    import numpy as np
    import pandas as pd

    out = {}
    for name, series in frame.items():
        kind = column_type(series.dtype)
        if kind in ("double", "float") and not isinstance(series.dtype, np.dtype):
            out[name] = pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[name] = series.astype(object).where(series.notna(), None)
        else:
            out[name] = series
    return pd.DataFrame(out, index=frame.index)


def model_signature(frame: Any, task: str, classes: Any = None) -> Any:
    """The MLflow signature of a model fitted on ``frame``: every column with the type of its dtype
    (see :func:`column_type`), all required, from the frame's schema (its rows are not read);
    the output is the class label (its type from ``classes``) or, for regression, a ``double``.

    Raises:
        Exception: MLflow cannot express the schema (the caller records the signature as not logged).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "c": ["a", "b"]})
        >>> [t.name for t in model_signature(frame, "binary", ["no", "yes"]).inputs.input_types()]
        ['double', 'string']
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema([ColSpec(column_type(dtype), str(name), required=True) for name, dtype in frame.dtypes.items()])
    output = "double" if task == "regression" or classes is None else column_type(np.asarray(classes).dtype)
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec(output)]))


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
        # Type hints would make MLflow build a schema from them; the signature comes from the training frame.
        warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
        # No input example unless log_input_example=True (they are the user's rows); the signature is given.
        warnings.filterwarnings("ignore", message=".*input example was not provided.*", category=UserWarning)
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
