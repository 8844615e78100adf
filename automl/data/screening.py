"""The feature columns screened before the search (:func:`screen_features`): suspicious ones warned about,
constant ones dropped. Each check reads one column at a time, or one block of plain numeric columns at a time
(:mod:`automl.data.blocks`), so its cost grows with the columns, not their square."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl._warnings import warn_user
from automl.data.blocks import numeric_chunks

__all__ = ["ID_MIN_ROWS", "screen_features"]


#: Fewest rows before a column whose values are all different is called an identifier.
ID_MIN_ROWS = 50


#: Rows compared first, so that a whole large column is converted to text only when its start matches; before
#: them the first few, as Python strings (converting every column's first 1,000 took 3.5 s on 3,000 columns).
_PREFIX, _FIRST = 1000, 8
#: The largest magnitude up to which a float64 holds every whole number exactly.
_EXACT_INTEGERS = 2**53


def _text(value: Any) -> str:
    """``value`` as the text a leak is compared in: a whole number as an int (``1.0`` and ``True`` are ``"1"``, as
    the target ``1``), anything else as ``str`` (a float copy of a 0/1 target read ``"0.0"`` and was not warned)."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):  # a Python int may be past any float (10**400): no isfinite
        return str(int(value))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _texts(values: Any) -> list[str]:
    return [_text(v) for v in values]


def _same_as_text(series: pd.Series, target: pd.Series) -> bool:
    """Whether the column equals the target value for value, compared as text (:func:`_text`)."""
    if _texts(series.iloc[:_FIRST]) != _texts(target.iloc[:_FIRST]):
        return False
    if _texts(series.iloc[:_PREFIX]) != _texts(target.iloc[:_PREFIX]):
        return False
    return _texts(series) == _texts(target)


#: A text column whose values all read as numbers but at most this share of them, in at most
#: :data:`STRAY_MAX_TOKENS` distinct values ("?", "n/a", "oops"), is warned about as numbers stored as text, naming those.
STRAY_MAX_SHARE, STRAY_MAX_TOKENS = 0.05, 5


def _stray_tokens(values: pd.Series) -> list[str] | None:
    """The distinct values of a column of numbers stored as text that do not read as numbers (``[]``: none), or
    None when it is not such a column (too many are not numbers, or a value is a zero-padded code: ``007`` is text
    by design)."""
    if not any(_reads_as_number(v) for v in values.iloc[:_FIRST]):  # without pandas' cost: most text columns end here
        return None
    text = values.astype(str)
    if text.str.match(r"^\s*0\d").any():
        return None
    stray = text[pd.to_numeric(text, errors="coerce").isna()]
    if len(stray) > STRAY_MAX_SHARE * len(text) or stray.nunique() > STRAY_MAX_TOKENS:
        return None
    return sorted(stray.unique().tolist())


def _reads_as_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


_LEAK, _CONSTANT, _IDENTIFIER, _NUMBERS_AS_TEXT = "leak", "constant", "identifier", "numbers as text"


def _verdict(series: pd.Series, target: pd.Series, drop_constant: bool, free_text: bool) -> str:
    """What :func:`screen_features` says of one column (``""``: nothing)."""
    if _same_as_text(series, target):
        return _LEAK
    if drop_constant and series.nunique(dropna=True) <= 1 and not (series.isna().any() and series.notna().any()):
        return _CONSTANT  # one value and some missing cells is a flag (present or not), kept
    dtype = series.dtype
    text = pd.api.types.is_string_dtype(dtype) or dtype == object
    integer = pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if free_text:
        return ""
    categorical = isinstance(dtype, pd.CategoricalDtype)  # an identifier made a category is one all the same
    if (text or integer or categorical) and len(series) >= ID_MIN_ROWS and series.notna().all() and series.is_unique:
        return _IDENTIFIER
    if text:
        values = series.dropna()
        if len(values) and _stray_tokens(values.iloc[:_PREFIX]) is not None and _stray_tokens(values) is not None:
            return _NUMBERS_AS_TEXT
    return ""


def _numeric_block_verdicts(X: pd.DataFrame, target: pd.Series, drop_constant: bool, skip: set[str],
                            ) -> dict[Any, str]:
    """:func:`_verdict` of each plain numeric column, one numpy pass per dtype (:mod:`automl.data.blocks`). Only
    the columns whose first values read as the target's go through the per-column comparison."""
    found: dict[Any, str] = {}
    head = _texts(target.iloc[:_FIRST])
    for dtype, names, values in numeric_chunks(X):
        if not len(values):
            continue  # no rows: the per-column path
        first = values[:_FIRST]
        if dtype.kind == "f":
            low = np.fmin.reduce(values, axis=0)
            constant = np.isnan(low) | ((low == np.fmax.reduce(values, axis=0)) & ~np.isnan(values).any(axis=0))
            unique = np.zeros(len(names), bool)  # a float column is never called an identifier
        else:
            constant = values.min(axis=0) == values.max(axis=0)
            ordered = np.sort(values, axis=0)
            unique = (ordered[1:] != ordered[:-1]).all(axis=0) & (len(values) >= ID_MIN_ROWS)
        for j, name in enumerate(names):
            if _texts(first[:, j]) == head and _same_as_text(X[name].reset_index(drop=True), target):
                found[name] = _LEAK
            elif drop_constant and constant[j]:
                found[name] = _CONSTANT
            else:
                found[name] = _IDENTIFIER if unique[j] and str(name) not in skip else ""
    return found


def _identifier_note(name: Any, column: pd.Series) -> str:
    """What an identifier-like column is told: a number column may be a quantity (a population has a different value
    in every row too), a text column of dates is dates stored as text."""
    said = f"column {name!r} has a different value in every row, like an identifier"
    if pd.api.types.is_integer_dtype(column.dtype):
        return (f"{said}; if it is one (a row number, a customer ID) it cannot generalise to new rows: drop it; if it "
                "is a quantity (a count, an amount) it is used as a number and this warning does not apply")
    head = column.iloc[:_PREFIX].astype(str)
    if not isinstance(column.dtype, pd.CategoricalDtype) and _iso_dates(head):
        # Offsets (2020-03-29T03:00:00+02:00, as a zone with summer time writes them) give aware dates, which a
        # model reads as UTC made naive.
        zoned = head.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).any()
        convert = (f"pd.to_datetime(X[{name!r}], utc=True).dt.tz_convert(None)" if zoned
                   else f"pd.to_datetime(X[{name!r}])")
        return (f"{said}: its values are dates stored as text, used as categories that cannot generalise to new rows; "
                f"convert it: X[{name!r}] = {convert} (dates are used as year, month, day...)")
    return f"{said}; it cannot generalise to new rows: drop it unless it carries meaning"


def _iso_dates(head: pd.Series) -> bool:
    """Whether every text of ``head`` is an ISO 8601 date (offsets, mixed ones included, read as UTC).

    Example:
        >>> _iso_dates(pd.Series(["2020-03-28T00:00:00+01:00", "2020-03-29T00:00:00+02:00"]))
        True
        >>> _iso_dates(pd.Series(["2020-03-28", "soon"]))
        False
    """
    try:
        return bool(pd.to_datetime(head, errors="coerce", format="ISO8601", utc=True).notna().all())
    except (ValueError, TypeError, OverflowError):  # a sniff for a message: text pandas cannot read is no date
        return False


def _inexact_integer_notes(X: pd.DataFrame) -> list[str]:
    """A note for each integer column whose values past 2**53 a float64 (as every model reads them) cannot tell
    apart: ``2**60`` and ``2**60 + 1`` are one number, so their signal is lost without a word.

    Example:
        >>> _inexact_integer_notes(pd.DataFrame({"id": [2**60, 2**60 + 1], "n": [1, 2]}))[0][:62]
        "column 'id' holds whole numbers past 2**53 that a 64-bit float"
    """
    notes = []
    for name, dtype in X.dtypes.items():
        if not pd.api.types.is_integer_dtype(dtype):
            continue
        values = X[name].dropna()
        if not len(values) or (values.min() >= -_EXACT_INTEGERS and values.max() <= _EXACT_INTEGERS):
            continue
        n_integers, n_floats = values.nunique(), values.astype("float64").nunique()
        if n_floats < n_integers:
            notes.append(f"column {name!r} holds whole numbers past 2**53 that a 64-bit float (as the models read "
                         f"them) cannot tell apart: its {n_integers} distinct values are {n_floats} as numbers; if "
                         f"they are codes (IDs, hashes), pass them as text: X[{name!r}] = X[{name!r}].astype(str)")
    return notes


def _numbers_as_text_note(name: Any, values: pd.Series) -> str:
    stray = _stray_tokens(values) or []
    if not stray:
        stored = ("as text" if values.map(lambda v: isinstance(v, str)).any() else
                  "as whole numbers in a column of dtype object (codes)")
        return (f"column {name!r} holds numbers stored {stored}; it is used as categories. If they are quantities, "
                f"convert it: X[{name!r}] = pd.to_numeric(X[{name!r}])")
    count = int(values.astype(str).isin(stray).sum())
    return (f"column {name!r} holds numbers stored as text but for {count} value(s) that are not numbers "
            f"({', '.join(repr(t) for t in stray)}); it is used as categories. If those mean missing and the rest are "
            f"quantities, convert it: X[{name!r}] = pd.to_numeric(X[{name!r}], errors='coerce')")


def screen_features(X: pd.DataFrame, y: pd.Series, *, drop_constant: bool = True, free_text: Sequence[str] = (),
                    ) -> tuple[pd.DataFrame, list[str]]:
    """Warn about usable but suspicious feature columns; drop the constant ones.

    - a column identical to the target (a leak): warned;
    - a constant column (one value in every row): dropped, warned; one value and some missing cells is kept, as
      the flag it often is (present or not: a pivot's or a merge's 1/NaN column);
    - an identifier-like column (integers or text, every value different, at least
      ``ID_MIN_ROWS`` rows): warned, unless it is free text (named in ``free_text``);
    - numbers stored as text: warned (they are used as categories), also when a few values are not numbers (at most
      ``STRAY_MAX_SHARE`` of them, in at most ``STRAY_MAX_TOKENS`` distinct values such as ``"?"``), named.

    Returns:
        The frame without the constant columns, and their names.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     X, dropped = screen_features(pd.DataFrame({"a": [1, 1], "b": [1, 2]}), pd.Series([0, 1]))
        >>> list(X.columns), dropped
        (['b'], ['a'])
    """
    notes: list[str] = []
    dropped: list[str] = []
    skip = set(free_text)
    target = y.reset_index(drop=True)
    found = _numeric_block_verdicts(X, target, drop_constant, skip)
    for name in X.columns:
        verdict = found[name] if name in found else _verdict(X[name].reset_index(drop=True), target, drop_constant,
                                                            str(name) in skip)
        if verdict == _LEAK:
            notes.append(f"column {name!r} is identical to the target {str(y.name)!r}: a leak that makes every "
                         f"score look perfect; drop it")
        elif verdict == _CONSTANT:
            dropped.append(str(name))
        elif verdict == _IDENTIFIER:
            notes.append(_identifier_note(name, X[name]))
        elif verdict == _NUMBERS_AS_TEXT:
            notes.append(_numbers_as_text_note(name, X[name].dropna()))
    notes += _inexact_integer_notes(X)
    if dropped and len(dropped) < X.shape[1]:  # all constant: the caller raises instead
        notes.append(f"dropping {len(dropped)} constant column(s): {dropped} (a single value carries no signal)")
    for note in notes:
        warn_user(note)
    return (X.drop(columns=dropped) if dropped else X), dropped
