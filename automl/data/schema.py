"""The frozen description of the feature columns, learned at fit and enforced at predict.

A :class:`Schema` records the column order, each column's role (numeric,
boolean, categorical, datetime), the original dtype and, for categoricals, the
levels seen at fit. :meth:`Schema.transform` turns any later frame into the
*canonical frame* the models see: numeric and boolean columns as ``float64``,
categoricals as pandas ``category`` with the fitted levels (unseen values become
missing), datetimes expanded into numeric parts.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40], "city": ["Oslo", "Rome"]})
    >>> schema = Schema.from_frame(df)
    >>> [c.kind for c in schema.columns]
    ['numeric', 'categorical']
    >>> schema.transform(df[["city", "age"]]).dtypes.astype(str).tolist()
    ['float64', 'category']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl._warnings import warn_user
from automl.exceptions import DataValidationError

__all__ = ["ColumnSpec", "Schema", "column_kind", "DATETIME_PARTS"]

DATETIME_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour", "elapsed_days")
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class ColumnSpec:
    """One feature column as seen at fit.

    Attributes:
        name: Column name.
        kind: ``numeric``, ``boolean``, ``categorical`` or ``datetime``.
        dtype: The dtype at fit, as a string (for messages and the manifest).
        categories: Levels seen at fit (categoricals only), as strings.
        parts: Numeric parts a datetime column is expanded into.
    """

    name: str
    kind: str
    dtype: str
    categories: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()

    def output_names(self) -> list[str]:
        """Names of the canonical columns this column becomes."""
        if self.kind == "datetime":
            return [f"{self.name}__{p}" for p in self.parts]
        return [self.name]


def column_kind(series: pd.Series) -> str:
    """Role of a column from its dtype: numeric, boolean, categorical or datetime.

    Example:
        >>> column_kind(pd.Series([True, False]))
        'boolean'
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    return "categorical"


def _as_text(series: pd.Series) -> pd.Series:
    """Categorical values as strings, missing kept missing."""
    values = series.astype("object")
    mask = values.isna()
    text = values.where(mask, values.astype(str))
    return text.where(~mask, np.nan)


def _datetime_parts(series: pd.Series) -> tuple[str, ...]:
    values = series.dropna()
    parts = ["year", "month", "day", "day_of_week", "day_of_year"]
    if len(values) and (values.dt.hour != 0).any():
        parts.append("hour")
    parts.append("elapsed_days")
    return tuple(parts)


def _expand_datetime(series: pd.Series, parts: tuple[str, ...], name: str) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    dt = series.dt
    for part in parts:
        if part == "elapsed_days":
            delta = (series - _EPOCH) / pd.Timedelta(days=1)
            out[f"{name}__{part}"] = delta.astype("float64")
        else:
            out[f"{name}__{part}"] = getattr(dt, part).astype("float64")
    return out


@dataclass(frozen=True)
class Schema:
    """Column order, roles and category levels frozen at fit.

    Attributes:
        columns: One :class:`ColumnSpec` per feature column, in fit order.
    """

    columns: tuple[ColumnSpec, ...]
    #: Columns seen at fit but not used (constant ones); dropped at predict without a warning.
    ignored: tuple[str, ...] = ()
    _by_name: dict[str, ColumnSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @classmethod
    def from_frame(cls, X: pd.DataFrame) -> Schema:
        """Learn the schema of a validated feature frame.

        Example:
            >>> Schema.from_frame(pd.DataFrame({"x": [1.5, 2.0]})).names
            ['x']
        """
        specs = []
        for name in X.columns:
            series = X[name]
            kind = column_kind(series)
            categories: tuple[str, ...] = ()
            parts: tuple[str, ...] = ()
            if kind == "categorical":
                text = _as_text(series).dropna()
                if isinstance(series.dtype, pd.CategoricalDtype):
                    levels = [str(c) for c in series.cat.categories]
                else:
                    levels = sorted(set(text.tolist()))
                categories = tuple(levels)
            elif kind == "datetime":
                parts = _datetime_parts(series)
            specs.append(ColumnSpec(str(name), kind, str(series.dtype), categories, parts))
        return cls(tuple(specs))

    @property
    def names(self) -> list[str]:
        """Feature column names in fit order."""
        return [c.name for c in self.columns]

    @property
    def output_names(self) -> list[str]:
        """Names of the canonical frame's columns."""
        return [n for c in self.columns for n in c.output_names()]

    def categorical_levels(self) -> dict[str, int]:
        """Number of fitted levels of each categorical column."""
        return {c.name: len(c.categories) for c in self.columns if c.kind == "categorical"}

    def transform(self, X: pd.DataFrame, *, warn: bool = True) -> pd.DataFrame:
        """Enforce the schema on ``X`` and return the canonical frame.

        Columns may come in any order; missing columns raise, listing them;
        extra columns are dropped with one warning; categorical values not seen
        at fit become missing (with one warning when ``warn``).

        Raises:
            DataValidationError: columns are missing, or a column cannot be
                converted to the type it had at fit.

        Example:
            >>> s = Schema.from_frame(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
            >>> s.transform(pd.DataFrame({"b": ["z"], "a": [3]}), warn=False)["b"].isna().tolist()
            [True]
        """
        present = set(map(str, X.columns))
        missing = [n for n in self.names if n not in present]
        if missing:
            raise DataValidationError(
                f"{len(missing)} column(s) seen at fit are missing: {missing}; "
                f"the frame has {sorted(present)}. Pass every column the model was fitted on."
            )
        extra = [str(c) for c in X.columns if str(c) not in self._by_name and str(c) not in self.ignored]
        if extra and warn:
            warn_user(f"dropping {len(extra)} column(s) not seen at fit: {extra}")
        out: dict[str, pd.Series] = {}
        problems: list[str] = []
        unseen: dict[str, list[str]] = {}
        index = pd.RangeIndex(len(X))
        for spec in self.columns:
            series = X[spec.name]
            if isinstance(series, pd.DataFrame):
                problems.append(f"column {spec.name!r} appears more than once; give columns unique names")
                continue
            series = series.reset_index(drop=True)
            try:
                if spec.kind in ("numeric", "boolean"):
                    out[spec.name] = _to_float(series)
                elif spec.kind == "datetime":
                    converted = pd.to_datetime(series)
                    if getattr(converted.dt, "tz", None) is not None:
                        raise ValueError("time-zone-aware")
                    out.update(_expand_datetime(converted, spec.parts, spec.name))
                else:
                    text = _as_text(series)
                    known = text.isin(spec.categories) | text.isna()
                    if not known.all():
                        unseen[spec.name] = sorted(set(text[~known].tolist()))[:3]
                    out[spec.name] = pd.Series(
                        pd.Categorical(text.where(known, np.nan), categories=list(spec.categories)),
                        index=index,
                    )
            except (ValueError, TypeError):
                problems.append(
                    f"column {spec.name!r} has dtype {series.dtype} but was {spec.kind} "
                    f"({spec.dtype}) at fit and cannot be converted; convert it back to {spec.dtype}"
                )
        if problems:
            raise DataValidationError(problems)
        if unseen and warn:
            detail = "; ".join(f"{k!r} (e.g. {v})" for k, v in unseen.items())
            warn_user(f"categories not seen at fit are treated as missing in: {detail}")
        frame = pd.DataFrame(out, index=index)
        return frame[self.output_names]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for the model manifest)."""
        return {"columns": [asdict(c) for c in self.columns], "ignored": list(self.ignored)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict`.

        Example:
            >>> s = Schema.from_frame(pd.DataFrame({"a": ["x"]}))
            >>> Schema.from_dict(s.to_dict()) == s
            True
        """
        specs = []
        for c in data["columns"]:
            specs.append(
                ColumnSpec(
                    c["name"], c["kind"], c["dtype"], tuple(c.get("categories", ())), tuple(c.get("parts", ()))
                )
            )
        return cls(tuple(specs), tuple(data.get("ignored", ())))


def _to_float(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        if pd.api.types.is_complex_dtype(series.dtype):
            raise TypeError("complex")
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    return pd.to_numeric(series, errors="raise").astype("float64")
