"""The frozen description of the feature columns, learned at fit and enforced at predict.

A :class:`Schema` records the column order, each column's role (numeric,
boolean, categorical, datetime, timedelta, text), the original dtype and, for categoricals, the
levels seen at fit. :meth:`Schema.transform` turns any later frame into the
*canonical frame* the models see: numeric and boolean columns as ``float64``,
timedeltas as ``float64`` seconds, categoricals as pandas ``category`` with the
fitted levels (values are matched to the levels by value, see
:mod:`automl.data.categories`; unseen values become missing), datetimes expanded
into numeric parts named ``<column>__<part>``, free text (:mod:`automl.data.text`) as strings,
a missing text as an empty one.

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

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl._suggest import listed
from automl._warnings import warn_user
from automl.data.blocks import NUMERIC_KINDS
from automl.data.categories import as_text, fitted_levels, to_codes, to_labels
from automl.data.dtypes import aware_datetimes_problem, foreign_dtype_problem, infinite_problem, object_problem
from automl.exceptions import DataValidationError

__all__ = ["ColumnSpec", "Schema", "column_kind", "derived_names", "DATETIME_PARTS", "FEW_ROWS", "KINDS"]

#: Most rows whose categories are matched to the fitted levels in one Python pass (:func:`to_codes`); above it,
#: pandas' vectorised calls (:func:`to_labels`), whose cost of about 1 ms a column then pays for itself.
FEW_ROWS = 2048

#: The roles a feature column can have; every other dtype is refused at validation.
KINDS = ("numeric", "boolean", "categorical", "datetime", "timedelta", "text")

DATETIME_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour", "elapsed_days")
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass(frozen=True)
class ColumnSpec:
    """One feature column as seen at fit.

    Attributes:
        name: Column name.
        kind: One of :data:`KINDS`.
        dtype: The dtype at fit, as a string (for messages and the manifest).
        categories: Levels seen at fit (categoricals only), as strings: the canonical categories.
        parts: Numeric parts a datetime column is expanded into.
        values: The levels' original values (``101``, ``"007"``), aligned with ``categories``;
            empty in a schema saved before they were kept.
    """

    name: str
    kind: str
    dtype: str
    categories: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    values: tuple[Any, ...] = ()

    def levels(self) -> tuple[pd.CategoricalDtype, dict[str, int]]:
        """The canonical column's dtype and each label's code (a categorical's), built once per spec.

        Example:
            >>> ColumnSpec("c", "categorical", "str", ("a", "b")).levels()[1]
            {'a': 0, 'b': 1}
        """
        cached = self.__dict__.get("_levels")
        if cached is None:
            cached = pd.CategoricalDtype(list(self.categories)), {label: i for i, label in enumerate(self.categories)}
            object.__setattr__(self, "_levels", cached)  # a cache, not a field: equality and the manifest ignore it
        return cached

    def __getstate__(self) -> dict[str, Any]:
        """The fields only: a saved model's bytes do not depend on whether it predicted before."""
        return {key: value for key, value in self.__dict__.items() if key != "_levels"}

    def output_names(self) -> list[str]:
        """Names of the canonical columns this column becomes."""
        if self.kind == "datetime":
            return [f"{self.name}__{p}" for p in self.parts]
        return [self.name]


def derived_names(name: str) -> list[str]:
    """Every name a datetime column ``name`` may be expanded into (``name__year``, ...).

    Example:
        >>> derived_names("d")[:2]
        ['d__year', 'd__month']
    """
    return [f"{name}__{part}" for part in DATETIME_PARTS]


def column_kind(series: pd.Series) -> str:
    """Role of a column from its dtype: numeric, boolean, categorical, datetime or timedelta.

    Example:
        >>> column_kind(pd.Series([True, False]))
        'boolean'
    """
    return dtype_kind(series.dtype)


def dtype_kind(dtype: Any) -> str:
    """:func:`column_kind` of a column of ``dtype``.

    Example:
        >>> dtype_kind(pd.Series([1.5]).dtype), dtype_kind(pd.CategoricalDtype(["a"]))
        ('numeric', 'categorical')
    """
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    return "categorical"


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
    #: Every feature column fit was given, in its order (used ones and ``ignored`` ones): what an array at predict is
    #: read as, and scikit-learn's ``n_features_in_`` (empty in a model saved before it: :attr:`input_names`).
    inputs: tuple[str, ...] = ()
    _by_name: dict[str, ColumnSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @classmethod
    def from_frame(cls, X: pd.DataFrame, text: tuple[str, ...] | list[str] = ()) -> Schema:
        """Learn the schema of a validated feature frame; the columns named in ``text`` are free text
        (:func:`automl.data.text.text_columns` picks them).

        Example:
            >>> Schema.from_frame(pd.DataFrame({"x": [1.5, 2.0]})).names
            ['x']

        Raises:
            DataValidationError: two columns would give the canonical frame the same name (a column
                named like a part of a datetime column, e.g. ``d__year`` beside datetime ``d``).
        """
        specs = []
        for name, dtype in X.dtypes.items():  # a column is read only when its levels or parts are learned
            kind = "text" if str(name) in text else dtype_kind(dtype)
            categories: tuple[str, ...] = ()
            values: tuple[Any, ...] = ()
            parts: tuple[str, ...] = ()
            if kind == "categorical":
                categories, values = fitted_levels(X[name])
            elif kind == "datetime":
                parts = _datetime_parts(X[name])
            specs.append(ColumnSpec(str(name), kind, str(dtype), categories, parts, values))
        schema = cls(tuple(specs))
        clashes = sorted(n for n, count in Counter(schema.output_names).items() if count > 1)
        if clashes:
            raise DataValidationError(
                f"feature name(s) {clashes} would appear twice: a datetime column is expanded into "
                "<column>__<part> features; rename the clashing column(s)"
            )
        return schema

    @property
    def names(self) -> list[str]:
        """Feature column names in fit order."""
        return [c.name for c in self.columns]

    @property
    def input_names(self) -> list[str]:
        """Every feature column fit was given, in its order: the used ones and the constant ones it ignored (a model
        saved before this was recorded: the used ones).

        Example:
            >>> Schema.from_frame(pd.DataFrame({"a": [1.0, 2.0]})).input_names
            ['a']
        """
        return list(self.inputs) if self.inputs else self.names

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
        extra columns are dropped with one warning; categorical values are matched
        to the fitted levels by value (``101.0`` or ``"101"`` is level ``101``);
        values not seen at fit become missing (with one warning when ``warn``).

        Raises:
            DataValidationError: columns are missing, a column cannot be
                converted to the type it had at fit, or a numeric column holds
                infinite values (refused at predict as at fit).

        Example:
            >>> s = Schema.from_frame(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
            >>> s.transform(pd.DataFrame({"b": ["z"], "a": [3]}), warn=False)["b"].isna().tolist()
            [True]
        """
        columns = X.columns.tolist()  # once: iterating pandas' Arrow-backed names costs about 1 us a name
        if not all(isinstance(c, str) for c in columns):
            columns = [str(c) for c in columns]
            X = X.set_axis(columns, axis=1)  # the schema's names are strings
        present = set(columns)
        missing = [n for n in self.names if n not in present]
        if missing:
            raise DataValidationError(
                f"{len(missing)} column(s) seen at fit are missing: {listed(missing)}; "
                f"the frame has {listed(sorted(present))}. Pass every column the model was fitted on."
            )
        extra = [c for c in columns if c not in self._by_name and c not in self.ignored]
        if extra and warn:
            warn_user(f"dropping {len(extra)} column(s) not seen at fit: {listed(extra)}")
        out: dict[str, pd.Series] = {}
        problems: list[str] = []
        unseen: dict[str, list[str]] = {}
        index = pd.RangeIndex(len(X))
        together = self._numbers_together(X, columns)
        for spec in self.columns:
            if spec.name in together:
                continue
            series = X[spec.name]
            if isinstance(series, pd.DataFrame):
                problems.append(f"column {spec.name!r} appears more than once; give columns unique names")
                continue
            series = series.reset_index(drop=True)
            refused = _values_refused(spec, series)  # what fit refuses (bytes were read as "b'a'", an unseen level)
            if refused is not None:
                problems.append(refused)
                continue
            try:
                converted, not_seen = _convert(spec, series)
            except (ValueError, TypeError, OverflowError):
                problems.append(
                    f"column {spec.name!r} has dtype {series.dtype} but was {spec.kind} "
                    f"({spec.dtype}) at fit and cannot be converted; convert it back to {spec.dtype}"
                    + (f", e.g. X[{spec.name!r}] = X[{spec.name!r}].map({{'True': True, 'False': False}}) (astype(bool) "
                       "reads every non-empty text as True)" if spec.kind == "boolean" else "")
                )
                continue
            out.update(converted)
            if spec.kind == "numeric":
                problems += _infinite(converted[spec.name].to_numpy()[:, None], [spec.name])
            if not_seen:
                unseen[spec.name] = not_seen
        names = list(together)
        values = X[names].to_numpy(dtype="float64") if names else None
        if values is not None:
            problems += _infinite(values, names)
        if problems:
            raise DataValidationError(problems)
        if unseen and warn:
            detail = "; ".join(f"{k!r} (e.g. {v})" for k, v in unseen.items())
            warn_user(f"categories not seen at fit are treated as missing in: {detail}")
        frame = pd.DataFrame(out, index=index)
        if values is not None:
            numbers = pd.DataFrame(values, columns=names, index=index)
            frame = pd.concat([frame, numbers], axis=1) if out else numbers
        return frame[self.output_names]

    def _numbers_together(self, X: pd.DataFrame, columns: list[str]) -> dict[str, None]:
        """The numeric and boolean columns whose incoming dtype is a plain numpy one, converted to float64 in one
        copy by :meth:`transform` (what :func:`_to_float` does column by column; :mod:`automl.data.blocks`)."""
        dtypes = dict(zip(columns, X.dtypes))
        if len(dtypes) < len(columns):  # a name twice: the per-column path names it
            return {}
        return {spec.name: None for spec in self.columns if spec.kind in ("numeric", "boolean")
                and isinstance(dtype := dtypes.get(spec.name), np.dtype) and dtype.kind in "b" + NUMERIC_KINDS}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for the model manifest)."""
        return {"columns": [asdict(c) for c in self.columns], "ignored": list(self.ignored), "inputs": list(self.inputs)}

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
                    c["name"], c["kind"], c["dtype"], tuple(c.get("categories", ())), tuple(c.get("parts", ())),
                    tuple(c.get("values", ())),
                )
            )
        return cls(tuple(specs), tuple(data.get("ignored", ())), tuple(data.get("inputs", ())))


def _convert(spec: ColumnSpec, series: pd.Series) -> tuple[dict[str, pd.Series], list[str]]:
    """The canonical column(s) of one incoming column, and a few of its values not seen at fit."""
    if spec.kind in ("numeric", "boolean"):
        return {spec.name: _to_float(series)}, []
    if spec.kind == "timedelta":
        return {spec.name: _to_seconds(series)}, []
    if spec.kind == "text":
        return {spec.name: _to_text(series)}, []
    if spec.kind == "datetime":
        _refuse_numbers(series)  # pandas would read them as nanoseconds since 1970
        converted = pd.to_datetime(series)
        if getattr(converted.dt, "tz", None) is not None:
            raise ValueError("time-zone-aware")
        return _expand_datetime(converted, spec.parts, spec.name), []
    index = pd.RangeIndex(len(series))
    if len(series) <= FEW_ROWS:
        dtype, positions = spec.levels()
        codes, unseen = to_codes(series, spec.categories, spec.values, positions)
        return {spec.name: pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=index)}, unseen
    labels, unseen = to_labels(series, spec.categories, spec.values)
    return {spec.name: pd.Series(pd.Categorical(labels, categories=list(spec.categories)), index=index)}, unseen


def _values_refused(spec: ColumnSpec, series: pd.Series) -> str | None:
    """The problem fit has with bytes or containers (lists, dicts) in a text or categorical column
    (:func:`automl.data.dtypes.object_problem`), with a dtype pandas cannot convert
    (:func:`automl.data.dtypes.foreign_dtype_problem`) or with time-zone-aware datetimes, or None. A mix of numbers
    and text is read as text, as the levels are (a served request may send a code as a number)."""
    foreign = foreign_dtype_problem(spec.name, series.dtype)
    if foreign:
        return foreign
    zone = getattr(series.dtype, "tz", None)
    if spec.kind == "datetime" and zone is not None:
        return aware_datetimes_problem(spec.name, zone, fitted=spec.dtype)
    if spec.kind in ("numeric", "boolean", "timedelta", "datetime") or series.dtype != object:
        return None
    inferred = pd.api.types.infer_dtype(series, skipna=True)  # one pass in C; the Python one only for a mix
    if inferred == "bytes" or (inferred.startswith("mixed") and series.map(
            lambda v: isinstance(v, (bytes, bytearray, list, dict, set, tuple))).any()):
        return object_problem(spec.name, series)
    return None


def _infinite(values: np.ndarray, names: list[str]) -> list[str]:
    """The problem of each column of ``values`` (rows x ``names``) that holds infinite values: refused at predict
    as at fit, so that no family meets them (some raise their own error, others read the training range's end)."""
    if not values.size:
        return []
    counts = np.isinf(values).sum(axis=0)
    return [infinite_problem(name, int(count)) for name, count in zip(names, counts) if count]


def _to_text(series: pd.Series) -> pd.Series:
    """A text column as Python strings (object dtype): a missing text is an empty one, another value its text."""
    return as_text(series).fillna("")


def _to_seconds(series: pd.Series) -> pd.Series:
    """A timedelta column as float seconds; text is parsed (``"1 days 02:00:00"``); bare numbers have no unit."""
    if not pd.api.types.is_timedelta64_dtype(series.dtype):
        _refuse_numbers(series, as_text=True)  # "3600" would be read as 3,600 nanoseconds
        series = pd.to_timedelta(series)
    return series.dt.total_seconds().astype("float64")


def _refuse_numbers(series: pd.Series, as_text: bool = False) -> None:
    """Numbers given for a datetime or timedelta column have no time unit (nor epoch): refused, unless all missing
    (a served request's null column arrives as float NaN); one among texts too (a served request's row), and with
    ``as_text`` (a timedelta) a number written as text."""
    if (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)) and series.notna().any():
        raise TypeError("numbers have no time unit")
    present = series.dropna()
    if series.dtype == object and present.map(lambda v: isinstance(v, (bool, int, float, np.number))).any():
        raise TypeError("numbers have no time unit")
    if as_text and len(present) and pd.to_numeric(present.astype(str), errors="coerce").notna().any():
        raise TypeError("numbers have no time unit")


def _to_float(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        if pd.api.types.is_complex_dtype(series.dtype):
            raise TypeError("complex")
        return pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    return pd.to_numeric(series, errors="raise").astype("float64")
