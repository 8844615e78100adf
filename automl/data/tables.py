"""Reading a data file (CSV, gzipped CSV or Parquet) into a frame, the same way at fit and at predict.

A CSV holds no types, so they are decided here:

- at fit (no schema), pandas infers each column's type, except that a column of numbers
  written with a leading zero (``007``, ``0123``) is read as text: such columns are codes
  (postal codes, account numbers), and the zero is part of the value; and a text column
  whose every value is a duration as pandas writes it (``0 days 01:30:00``) is read as
  ``timedelta64`` (a number of seconds to the models, not a category);
- at predict (with the model's :class:`~automl.data.schema.Schema`), every column that was
  categorical, datetime or timedelta at fit is read as text, so ``007`` stays ``007`` and the
  schema converts the rest; numeric and boolean columns are inferred as at fit.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"; _ = p.write_text("zip,n\\n007,1\\n123,2\\n")
    >>> read_table(p)["zip"].tolist(), read_table(p)["n"].tolist()
    (['007', '123'], [1, 2])
"""

from __future__ import annotations

import itertools
import os
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from automl._warnings import warn_user
from automl.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from automl.data.schema import Schema

__all__ = ["PARQUET_SUFFIXES", "is_parquet_folder", "read_table", "TEXT_KINDS"]

#: File names read (and, by ``automl predict -o``, written) as Parquet; any other is CSV.
PARQUET_SUFFIXES = (".parquet", ".pq")

#: Schema kinds whose CSV column is read as text at predict (the schema converts it).
TEXT_KINDS = ("categorical", "datetime", "timedelta", "text")

#: A number written with a leading zero: a code whose zero is part of the value.
_ZERO_PADDED = re.compile(r"^\s*0\d+\s*$")
#: A duration as pandas writes a timedelta: ``1 days 02:03:04`` or ``-1 days +23:00:00.5``.
_DURATION = re.compile(r"^\s*-?\d+ days? [+-]?\d{2}:\d{2}:\d{2}(\.\d+)?\s*$")


#: Most file names a folder given as data is searched for a Parquet file: a partitioned data set shows one among
#: its first few, and a folder given by mistake (a home folder) is not walked to its end.
_FOLDER_NAMES_READ = 10_000
#: The name pandas gives a column whose header cell is empty.
_UNNAMED = re.compile(r"^Unnamed: \d+$")


def is_parquet_folder(path: str) -> bool:
    """Whether ``path`` is a folder holding Parquet files (at any depth: a partitioned data set's ``key=value``
    folders; among its first :data:`_FOLDER_NAMES_READ` file names), which pandas reads as one table."""
    if not os.path.isdir(path):
        return False
    names = (name for _, _, files in os.walk(path) for name in files)
    return any(name.endswith(PARQUET_SUFFIXES) for name in itertools.islice(names, _FOLDER_NAMES_READ))


def read_table(path: str | os.PathLike, schema: Schema | None = None) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet file, or a folder of Parquet files, into a DataFrame.

    Args:
        path: The file or folder.
        schema: The fitted model's schema (at predict): its text-like columns are read as text.

    Raises:
        InvalidParameterError: the file is missing, of another kind, or unreadable; a CSV's header names a
            column twice (pandas would rename the copy ``a.1``); the file has no rows.
    """
    text = os.fspath(path)
    folder = is_parquet_folder(text)
    parquet = folder or text.endswith(PARQUET_SUFFIXES)
    if not (os.path.isfile(text) or folder):
        what = "is a folder with no Parquet file in it" if os.path.isdir(text) else "not found"
        raise InvalidParameterError(f"data file {text!r} {what}; pass the path of a CSV or Parquet file "
                                    "(or of a folder of Parquet files, as Spark and pyarrow write a data set)")
    try:
        if parquet:
            frame = pd.read_parquet(text)
        else:
            _refuse_duplicate_header(text)
            if schema is None:
                frame = _one_column_hint(_read_csv_for_fit(text), text)
            else:
                dtypes = {c.name: str for c in schema.columns if c.kind in TEXT_KINDS}
                frame = _literal_markers(_one_column_hint(pd.read_csv(text, dtype=dtypes), text), text, schema)
    except InvalidParameterError:
        raise
    except UnicodeDecodeError as exc:
        raise InvalidParameterError(
            f"data file {text!r} is not UTF-8 text (it holds the byte {exc.object[exc.start:exc.start + 1]!r}); "
            "save it as UTF-8, e.g. iconv -f latin1 -t utf-8 IN.csv > OUT.csv") from None
    except pd.errors.EmptyDataError:
        raise InvalidParameterError(f"data file {text!r} is empty (not even a header line); pass a CSV whose first "
                                    "line names the columns, followed by rows") from None
    except Exception as exc:  # noqa: BLE001 - any parser error becomes one clear message
        raise InvalidParameterError(f"data file {text!r} cannot be read: {type(exc).__name__}: {exc}; check that it "
                                    f"is a {'Parquet' if parquet else 'comma-separated CSV'} file") from None
    if len(frame) == 0:
        held = f"has {frame.shape[1]} columns but no rows" if parquet else "has a header but no rows"
        raise InvalidParameterError(f"data file {text!r} {held}: a data file needs at least one row of data; "
                                    "pass a file with rows")
    return frame if parquet else _without_empty_unnamed(frame, text)


def _literal_markers(frame: pd.DataFrame, path: str, schema: Schema) -> pd.DataFrame:
    """``frame`` with the cells pandas read as missing because they spell one of its markers (``NA``, ``None``,
    ``null``, ...) given back as written where the model knows them as values: a level of a categorical column
    seen at fit (``"NA"`` for North America in a frame fitted from Python), any word of a free-text column. A
    marker the model does not know stays missing, as ``pandas.read_csv`` reads it (a model fitted on a CSV read
    by pandas saw those cells as missing). So ``automl predict`` on a CSV gives what ``predict`` gives on the
    frame the CSV was written from (``DataFrame.to_csv`` writes a missing cell as an empty one)."""
    wanted = [c for c in schema.columns if c.name in frame.columns
              and (c.kind == "text" or (c.kind == "categorical" and _marker_levels(c.categories)))]
    if not wanted or not any(frame[c.name].isna().any() for c in wanted):
        return frame
    raw = pd.read_csv(path, usecols=[c.name for c in wanted], dtype=str, keep_default_na=False)
    for spec in wanted:
        column, written = frame[spec.name], raw[spec.name]
        known = written.ne("") if spec.kind == "text" else written.isin(set(spec.categories))
        restore = column.isna() & known
        if restore.any():
            frame[spec.name] = column.astype(object).where(~restore, written)
    return frame


def _marker_levels(levels: tuple[str, ...]) -> set[str]:
    """The levels that pandas reads as missing when written in a CSV cell (its markers: ``NA``, ``None``, ...),
    asked of pandas itself so that its list is not copied here (markers are short words, so only those are read).

    Example:
        >>> sorted(_marker_levels(("NA", "EU", "null", "N/A", "a,b")))
        ['N/A', 'NA', 'null']
    """
    import io

    short = [level for level in levels if 0 < len(level) <= 16 and not set(level) & set(',"\r\n')]
    if not short:
        return set()
    read = pd.read_csv(io.StringIO("\n".join(short)), header=None, dtype=str, skip_blank_lines=False).iloc[:, 0]
    return {level for level, cell in zip(short, read) if pd.isna(cell)}


def _without_empty_unnamed(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """``frame`` without the columns a header left unnamed (pandas' ``Unnamed: N``) that hold no value: trailing
    commas (``a,b,y,,``), as spreadsheets write them. Dropped with a warning, at fit and at predict alike."""
    empty = [c for c in frame.columns if _UNNAMED.match(str(c)) and frame[c].isna().all()]
    if not empty:
        return frame
    from automl._warnings import warn_user

    warn_user(f"data file {path!r}: dropping {len(empty)} column(s) with no name in the header and no value "
              f"({', '.join(map(str, empty[:5]))}; trailing commas)")
    return frame.drop(columns=empty)


def _refuse_duplicate_header(path: str) -> None:
    """Refuse a CSV whose header row names a column twice, read by pandas' own parser (quotes, gzip, blank
    lines as in :func:`pandas.read_csv`): pandas would rename the copies ``a.1``, ``a.2`` and fit on them.
    Empty names are left to pandas (``Unnamed: N``, each unique)."""
    from collections import Counter

    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(v) for v in header.iloc[0]] if len(header) else []
    repeated = [name for name, count in Counter(n for n in names if n != "").items() if count > 1]
    if repeated:
        listed = ", ".join(f"{n!r} ({names.count(n)} times)" for n in repeated)
        raise InvalidParameterError(
            f"data file {path!r} has duplicate column names in its header row: {listed}; a column name must be "
            f"used once (pandas would rename the copies {repeated[0]}.1, ... and fit on them); rename the columns "
            "so each name is used once")


def _one_column_hint(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """``frame``, with a warning when its one column's name holds another separator (``a;b;y``): CSV means commas."""
    if frame.shape[1] == 1:
        name = str(frame.columns[0])
        used = [sep for sep in (";", "\t", "|") if sep in name]
        if used:
            warn_user(f"data file {path!r} was read as one column named {name!r}: it looks separated by {used[0]!r}, "
                      "and a CSV file is read with commas; save it with commas (pandas: df.to_csv(path, index=False))")
    return frame


def _read_csv_for_fit(path: str) -> pd.DataFrame:
    """Types inferred by pandas, except zero-padded codes (text) and durations (timedelta64)."""
    frame = pd.read_csv(path)
    for position, name in enumerate(frame.columns):
        column = frame[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            values = column.dropna().astype(str)
            if len(values) and values.iloc[:100].str.match(_DURATION).all() and values.str.match(_DURATION).all():
                frame.isetitem(position, pd.to_timedelta(column).to_numpy())
    numeric = [
        i for i, name in enumerate(frame.columns)
        if pd.api.types.is_numeric_dtype(frame[name].dtype) and not pd.api.types.is_bool_dtype(frame[name].dtype)
    ]
    if not numeric:
        return frame
    raw: Any = pd.read_csv(path, usecols=numeric, dtype=str, keep_default_na=True)
    for j, position in enumerate(numeric):
        column = raw.iloc[:, j]
        if column.dropna().str.match(_ZERO_PADDED).any():
            frame.isetitem(position, column)
    return frame
