"""The logged model's MLflow signature, from the training frame's schema (its rows are never read).

Every column is typed from its dtype (:func:`column_type`), so that what a served model accepts is what
the in-process model accepts:

* an integer column is ``Any``: a missing value reaches a served model as a float (``null`` in JSON,
  NaN in pandas), which MLflow refuses for ``long`` (HTTP 400) while the model imputes it; and MLflow
  refuses int64 values for ``double``. The model checks these values itself, as in process;
* a boolean, a datetime and a timedelta column are ``Any`` too, for the same reason: MLflow's conversions read
  ``"false"`` as True (``astype(bool)``), a number as nanoseconds since 1970, and a number as text the model
  would read as nanoseconds, where the in-process model refuses each;
* a nullable boolean is ``double`` (MLflow would turn a missing value into False for ``boolean``);
* a float column is ``double``, float32 too (MLflow refuses float64 values for ``float``, which a float32
  column's model takes; values past float32's range are clipped by the model, as in process);
* a categorical takes the type of its categories.

The signature also declares the inference parameter ``predict_method`` (``"predict"``, the default, or
``"predict_proba"`` for a classifier's probabilities, one column per class named by its label), so that
a served model accepts ``{"params": {"predict_method": "predict_proba"}}``.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"n": [1, 2], "x": [0.5, 1.5], "c": ["a", "b"]})
    >>> print(model_signature(frame, "binary", ["no", "yes"]).params)
    ['predict_method': string (default: predict)]
"""

from __future__ import annotations

from typing import Any

__all__ = ["PREDICT_METHODS", "column_type", "input_schema", "model_signature", "served_frame"]

#: The values of the ``predict_method`` inference parameter.
PREDICT_METHODS = ("predict", "predict_proba")


def column_type(dtype: Any) -> str:
    """The MLflow type of a training column of ``dtype``: what the served model accepts for it
    (``"any"``: every value, checked by the model itself; see the module's docstring).

    Example:
        >>> import pandas as pd
        >>> [column_type(t) for t in (pd.Int64Dtype(), "int64", "float32", "bool", "object", "datetime64[ns]")]
        ['any', 'any', 'double', 'any', 'string', 'any']
    """
    import numpy as np
    import pandas as pd

    dtype = pd.api.types.pandas_dtype(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(dtype.categories.dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "any" if isinstance(dtype, np.dtype) else "double"
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or pd.api.types.is_integer_dtype(dtype)):
        return "any"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def served_frame(frame: Any) -> Any:
    """``frame`` as a served model receives it: nullable integers and booleans as floats (missing: NaN),
    categoricals as plain values, timedeltas as their text (``"0 days 01:00:00"``, which JSON holds). This is the
    form of the input example.

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
        if kind in ("double", "float", "any") and not isinstance(series.dtype, np.dtype):
            out[name] = pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
        elif pd.api.types.is_timedelta64_dtype(series.dtype):
            out[name] = series.astype(str).astype(object).where(series.notna(), None)
        elif isinstance(series.dtype, pd.CategoricalDtype):
            out[name] = series.astype(object).where(series.notna(), None)
        else:
            out[name] = series
    return pd.DataFrame(out, index=frame.index)


def input_schema(frame: Any) -> Any:
    """The MLflow input schema of a model fitted on ``frame``: every column, required, typed by
    :func:`column_type` (from the dtypes only).

    Example:
        >>> import pandas as pd
        >>> input_schema(pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "c": ["a", "b"]})).input_names()
        ['n', 'c']
    """
    from mlflow.types.schema import AnyType, ColSpec, Schema

    if any(str(name) == "" for name in frame.columns):
        # MLflow reads an empty name as an unnamed (positional) input, which no named frame fills: its own pyfunc
        # would then refuse every frame ("Model is missing inputs [2]"); the model goes without a signature
        raise ValueError("a column named '' (MLflow reads it as an unnamed input no frame can fill); rename it")
    specs: list[Any] = []
    for name, dtype in frame.dtypes.items():
        kind = column_type(dtype)
        specs.append(ColSpec(AnyType() if kind == "any" else kind, str(name), required=True))
    return Schema(specs)


def model_signature(frame: Any, task: str, classes: Any = None) -> Any:
    """The MLflow signature of a model fitted on ``frame``: its :func:`input_schema`; the output is the
    class label (its type from ``classes``) or, for regression, a ``double``; the ``predict_method``
    parameter (see the module's docstring).

    Raises:
        Exception: MLflow cannot express the schema (the caller records the signature as not logged).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "c": ["a", "b"]})
        >>> [repr(t) for t in model_signature(frame, "binary", ["no", "yes"]).inputs.input_types()]
        ['Any', 'string']
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    labels = None if task == "regression" or classes is None else np.asarray(classes).dtype
    output = "double" if labels is None else "boolean" if labels.kind == "b" else column_type(labels)
    output = "long" if output == "any" else output
    params = ParamSchema([ParamSpec("predict_method", "string", "predict")])
    return ModelSignature(inputs=input_schema(frame), outputs=Schema([ColSpec(output)]), params=params)
