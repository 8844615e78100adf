"""Category levels compared by value, not by their printed form.

At fit a categorical column's levels are frozen twice: as labels (their
printed form, the canonical frame's categories) and as their original values
(``101`` an integer, ``"007"`` text). At predict an incoming value is matched
to a level first by its printed form and then, when that fails, by value:

- a number matches a level whose fitted value is the same number
  (``101.0`` and ``np.int64(101)`` match ``101``; ``101.5`` does not), or else
  the text level that spells that number: the only one, or else its plain
  spelling (``7.0`` matches ``"007"``, or ``"7"`` when both are levels);
- text matches a numeric level when it parses as that number
  (``"101"`` and ``"101.0"`` match ``101``);
- anything else matches only by its printed form.

Example:
    >>> import pandas as pd
    >>> labels, values = fitted_levels(pd.Series([101, 102], dtype=object))
    >>> labels, values
    (('101', '102'), (101, 102))
    >>> to_labels(pd.Series([101.0, None, "102", 101.5]), labels, values)[0].tolist()
    ['101', nan, '102', nan]
"""

from __future__ import annotations

import re
from numbers import Number
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fitted_levels", "to_codes", "to_labels", "as_text"]

#: Text that is read as a number when it is compared with numeric levels.
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_MISS = object()


def as_text(series: pd.Series) -> pd.Series:
    """Values as strings (object dtype), missing kept missing."""
    values = series.astype("object")
    mask = values.isna()
    text = values.where(mask, values.astype(str))
    return text.where(~mask, np.nan)


def _is_number(value: object) -> bool:
    return isinstance(value, Number) and not isinstance(value, (bool, np.bool_, complex, np.complexfloating))


def _number_key(value: Any) -> int | float | None:
    """A number as an exact key: integral values as ``int`` (``101.0`` -> ``101``); None for NaN and infinity."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not np.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _parse_number(text: str) -> int | float | None:
    text = text.strip()
    if not _DECIMAL.match(text):
        return None
    if "." not in text:
        return int(text)
    return _number_key(float(text))


def _json_value(value: Any) -> Any:
    """The original value of a level in a JSON-safe form (None: compare by label only)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    return None


def fitted_levels(series: pd.Series) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The levels of a categorical column at fit: ``(labels, original values)``, aligned.

    A pandas ``category`` keeps its own order of categories; other columns are sorted by label.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
        return tuple(str(c) for c in categories), tuple(_json_value(c) for c in categories)
    values = series.astype("object").dropna()
    first: dict[str, Any] = {}
    for value in pd.unique(values.to_numpy()):
        first.setdefault(str(value), value)
    labels = sorted(first)
    return tuple(labels), tuple(_json_value(first[label]) for label in labels)


class _Lookup:
    """Finds the label of an incoming value among the fitted levels, by value."""

    def __init__(self, labels: tuple[str, ...], values: tuple[Any, ...]) -> None:
        if len(values) != len(labels):  # a schema saved before values were kept: labels are all it has
            values = labels
        self.by_number: dict[int | float, str] = {}
        spelled: dict[int | float, list[str]] = {}
        for label, value in zip(labels, values):
            if _is_number(value):
                key = _number_key(value)
                if key is not None:
                    self.by_number.setdefault(key, label)
            elif isinstance(value, str):
                parsed = _parse_number(value)
                if parsed is not None:
                    spelled.setdefault(parsed, []).append(label)
        # a number matches the text level that spells it: the only one, or else its plain spelling ("7", not "007")
        self.by_spelling = {}
        for key, spellings in spelled.items():
            plain = [s for s in spellings if s.strip() == str(key)]
            if key not in self.by_number and (len(spellings) == 1 or len(plain) == 1):
                self.by_spelling[key] = spellings[0] if len(spellings) == 1 else plain[0]

    def find(self, value: Any) -> str | None:
        if _is_number(value):
            key = _number_key(value)
            if key is None:
                return None
            return self.by_number.get(key, self.by_spelling.get(key))
        if isinstance(value, str) and self.by_number:
            parsed = _parse_number(value)
            return None if parsed is None else self.by_number.get(parsed)
        return None


def to_labels(series: pd.Series, labels: tuple[str, ...], values: tuple[Any, ...]) -> tuple[pd.Series, list[str]]:
    """Map a column onto the fitted levels; return ``(labels, a few unseen values as text)``.

    The result holds a fitted label for every value that matches one, missing for the
    rest (missing values stay missing).
    """
    objects = series.astype("object").reset_index(drop=True)
    text = as_text(objects)
    known = text.isin(labels) | text.isna()
    if known.all():
        return text, []
    lookup = _Lookup(labels, values)
    cache: dict[tuple[type, Any], str | None] = {}
    found: list[str | None] = []
    for value in objects[~known].tolist():
        key = (type(value), value)
        hit = cache.get(key, _MISS)
        if hit is _MISS:
            hit = cache[key] = lookup.find(value)
        found.append(hit)  # type: ignore[arg-type]
    matched = pd.Series(found, index=text.index[~known], dtype="object")
    out = text.copy()
    out[~known] = matched.where(matched.notna(), np.nan)
    unseen = sorted(set(text[~known][matched.isna()].tolist()))[:3]
    return out, unseen


def to_codes(series: pd.Series, labels: tuple[str, ...], values: tuple[Any, ...],
             positions: dict[str, int]) -> tuple[np.ndarray, list[str]]:
    """:func:`to_labels` as codes into ``labels`` (``positions``: label to code; -1: missing or unseen), in one
    Python pass over the values. For a few rows (a served request): there pandas' cost per call, about 1 ms a
    column, is all of :func:`to_labels`' time; for many rows its vectorised calls are faster.

    Example:
        >>> labels, values = fitted_levels(pd.Series([101, 102], dtype=object))
        >>> to_codes(pd.Series([101.0, None, "102", 101.5]), labels, values, {"101": 0, "102": 1})
        (array([ 0, -1,  1, -1]), ['101.5'])
    """
    objects = series.to_numpy(dtype=object)
    missing = pd.isna(objects)
    codes = np.full(len(objects), -1, dtype=np.int64)
    lookup: _Lookup | None = None
    unseen: set[str] = set()
    for i, value in enumerate(objects):
        if missing[i]:
            continue
        text = str(value)
        code = positions.get(text)
        if code is None:
            lookup = lookup or _Lookup(labels, values)
            label = lookup.find(value)
            if label is None:
                unseen.add(text)
                continue
            code = positions[label]
        codes[i] = code
    return codes, sorted(unseen)[:3]
