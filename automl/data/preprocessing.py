"""Per-fold preprocessing of the canonical frame into the matrix a model sees.

It is fitted on the training part of each fold only. Three encodings serve
the families:

- ``onehot``: numeric columns imputed with the training median (plus a
  missing-indicator column where the training part had gaps), clipped to
  the training range (a linear model or a net never extrapolates past the
  values it saw: one outlying row cannot get an outlying prediction) and
  standardised; categoricals one-hot encoded over their most frequent levels
  (rarer and unseen levels share no column). For linear models and k-NN.
- ``ordinal``: numeric columns as they are (missing kept as NaN; numbers past
  float32's range, about ±3.4e38, clipped to it: scikit-learn's trees and
  XGBoost read float32), categoricals as integer codes learned on the training
  part (unseen or missing → NaN). For random forests and extra trees.
- ``native``: like ``ordinal``; the categorical column indices are exposed in
  ``categorical_indices_`` so LightGBM and HistGradientBoosting treat them as
  categories.

Free-text columns (strings in the canonical frame) become a few dense features each, by a
:class:`~automl.data.text.TextEncoder` fitted on the training part (standardised too for
``onehot``), whatever the encoding.

Example:
    >>> import pandas as pd
    >>> X = pd.DataFrame({"n": [1.0, None, 3.0], "c": pd.Categorical(["a", "b", "a"])})
    >>> TabularPreprocessor("onehot").fit(X).transform(X).shape
    (3, 4)
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from automl.data.dtypes import FLOAT32_MAX
from automl.data.text import TextEncoder

__all__ = ["TabularPreprocessor", "ENCODINGS", "column_medians", "empty_columns_quiet"]

ENCODINGS = ("onehot", "ordinal", "native")


@contextlib.contextmanager
def empty_columns_quiet() -> Iterator[None]:
    """Quantiles and medians of columns a fold may leave empty, without numpy's "All-NaN slice encountered": it is
    raised with ``warnings.warn``, which ``np.errstate`` does not silence, and reached the user's stderr from the
    trial workers (the empty column's value is then filled by the caller)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        yield


def column_medians(values: np.ndarray) -> np.ndarray:
    """Each column's median over its filled cells, 0 for a column with none (a fold may leave a sparse column
    empty), quietly (:func:`empty_columns_quiet`).

    Example:
        >>> column_medians(np.array([[1.0, np.nan], [3.0, np.nan]])).tolist()
        [2.0, 0.0]
    """
    if not values.shape[1]:
        return np.empty(0)
    with empty_columns_quiet():
        medians = np.nanmedian(values, axis=0)
    return np.where(np.isnan(medians), 0.0, medians)


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Encode a canonical frame (float64 and ``category`` columns) into a float matrix.

    Args:
        encoding: ``onehot``, ``ordinal`` or ``native`` (see the module docstring).
        max_onehot_levels: Most frequent levels given a one-hot column per categorical.
        text_options: The text encoder's settings (``analyzer``, ``ngram_max``, ``dims``; None: its defaults).
        seed: The text encoder's random state.

    Example:
        >>> import pandas as pd
        >>> X = pd.DataFrame({"c": pd.Categorical(["a", "b", "b"])})
        >>> p = TabularPreprocessor("native").fit(X)
        >>> p.transform(X).ravel().tolist(), p.categorical_indices_
        ([1.0, 0.0, 0.0], [0])
    """

    def __init__(self, encoding: str = "ordinal", max_onehot_levels: int = 32,
                 text_options: dict | None = None, seed: int = 0, task: str | None = None,
                 n_classes: int = 0) -> None:
        self.encoding = encoding
        self.max_onehot_levels = max_onehot_levels
        self.text_options = text_options
        self.seed = seed
        self.task = task
        self.n_classes = n_classes

    def fit_transform(self, X: pd.DataFrame, y: Any = None, **_: Any) -> np.ndarray:
        """:meth:`fit`, then the training rows encoded, their text scores out of fold
        (:class:`~automl.data.text.TextEncoder`): what a model is trained on."""
        self.fit(X, y)  # through fit, so that whatever wraps fit sees every fit
        return self._encode(X, self.__dict__.pop("_training_text", None))

    def fit(self, X: pd.DataFrame, y: Any = None) -> TabularPreprocessor:
        """Learn medians, scales, category codes and the text encoders (given ``y`` and a ``task``, with a
        text model each) from the training rows."""
        self._training_text = self._fit(X, y)  # taken by fit_transform; never pickled (__getstate__)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_training_text", None)
        return state

    def _fit(self, X: pd.DataFrame, y: Any) -> list[np.ndarray]:
        """:meth:`fit`; return the training rows' text blocks."""
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        dtypes = list(zip(X.columns, X.dtypes))  # read once: X[c] per column costs seconds on wide tables
        self.text_ = [c for c, dtype in dtypes if dtype == object]
        self.categorical_ = [c for c, dtype in dtypes if isinstance(dtype, pd.CategoricalDtype)]
        self.numeric_ = [c for c, dtype in dtypes if dtype != object and not isinstance(dtype, pd.CategoricalDtype)]
        num = X[self.numeric_].to_numpy(dtype="float64") if self.numeric_ else np.empty((len(X), 0))
        if self.encoding == "onehot":
            self.medians_ = column_medians(num)
            self.indicator_ = np.flatnonzero(np.isnan(num).any(axis=0)) if num.shape[1] else np.empty(0, int)
            # Clipped to float32's range (as the trees read it) before the moments: a column of 1e308s would sum
            # to infinity and scale every value to NaN; transform clips to the clipped range as well.
            filled = np.clip(np.where(np.isnan(num), self.medians_, num), -FLOAT32_MAX, FLOAT32_MAX)
            self.lows_ = filled.min(axis=0) if len(filled) else np.full(num.shape[1], -np.inf)
            self.highs_ = filled.max(axis=0) if len(filled) else np.full(num.shape[1], np.inf)
            self.means_ = filled.mean(axis=0) if len(filled) else np.zeros(num.shape[1])
            scale = filled.std(axis=0) if len(filled) else np.ones(num.shape[1])
            self.scales_ = np.where(scale > 0, scale, 1.0)
        training_text = self._fit_text(X, y)
        # Category codes: per column, a lookup from the canonical code to the fold's code.
        self.lookups_: list[np.ndarray] = []
        for column in self.categorical_:
            codes = X[column].cat.codes.to_numpy()
            n_levels = len(X[column].cat.categories)
            counts = np.bincount(codes[codes >= 0], minlength=n_levels)
            order = np.argsort(-counts, kind="stable")
            present = order[counts[order] > 0]
            if self.encoding == "onehot":
                present = present[: self.max_onehot_levels]
            lookup = np.full(n_levels + 1, np.nan)  # last slot: code -1 (missing)
            lookup[present] = np.arange(len(present), dtype="float64")
            self.lookups_.append(lookup)
        n_num = len(self.numeric_) + sum(e.n_features_out_ for e in self.encoders_)
        self.categorical_indices_ = (
            list(range(n_num, n_num + len(self.categorical_))) if self.encoding != "onehot" else []
        )
        self.n_features_out_ = self.transform(X.iloc[:0]).shape[1]
        return training_text

    def _fit_text(self, X: pd.DataFrame, y: Any) -> list[np.ndarray]:
        """Fit one encoder per text column; return the training rows' blocks (scores out of fold)."""
        options = dict(self.text_options or {})
        self.encoders_ = [TextEncoder(**options, seed=self.seed, task=self.task, n_classes=self.n_classes)
                          for _ in self.text_]
        blocks = [encoder.fit_transform(X[c], y) for c, encoder in zip(self.text_, self.encoders_)]
        self.text_means_, self.text_scales_ = [], []
        for block in blocks:
            scale = block.std(axis=0) if len(block) else np.ones(block.shape[1])
            self.text_means_.append(block.mean(axis=0) if len(block) else np.zeros(block.shape[1]))
            self.text_scales_.append(np.where(scale > 0, scale, 1.0))
        return blocks

    def _text_blocks(self, X: pd.DataFrame, raw: list[np.ndarray] | None = None) -> list[np.ndarray]:
        blocks = []
        for i, (column, encoder) in enumerate(zip(getattr(self, "text_", []), getattr(self, "encoders_", []))):
            block = encoder.transform(X[column]) if raw is None else raw[i]
            blocks.append((block - self.text_means_[i]) / self.text_scales_[i] if self.encoding == "onehot" else block)
        return blocks

    def feature_columns(self) -> list[str]:
        """The canonical column each output feature comes from, in output order (a one-hot block
        and a missing-indicator repeat their column's name): contributions of the encoded features
        add up per column.

        Example:
            >>> X = pd.DataFrame({"n": [1.0, None], "c": pd.Categorical(["a", "b"])})
            >>> TabularPreprocessor("onehot").fit(X).feature_columns()
            ['n', 'n', 'c', 'c']
        """
        names = list(self.numeric_)
        if self.encoding == "onehot":
            names += [self.numeric_[i] for i in self.indicator_]
        for column, encoder in zip(getattr(self, "text_", []), getattr(self, "encoders_", [])):
            names += [column] * encoder.n_features_out_
        for column, lookup in zip(self.categorical_, self.lookups_):
            names += [column] * (int(np.nansum(~np.isnan(lookup))) if self.encoding == "onehot" else 1)
        return names

    def category_counts(self) -> list[int]:
        """Number of levels each categorical column was encoded with."""
        return [int(np.nansum(~np.isnan(lk))) for lk in self.lookups_]

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Encode rows of a canonical frame with what was learned in :meth:`fit`."""
        return self._encode(X, None)

    def _encode(self, X: pd.DataFrame, text: list[np.ndarray] | None) -> np.ndarray:
        n = len(X)
        num = X[self.numeric_].to_numpy(dtype="float64") if self.numeric_ else np.empty((n, 0))
        blocks = []
        if self.encoding == "onehot":
            missing = np.isnan(num)
            filled = np.clip(np.where(missing, self.medians_, num), self.lows_, self.highs_)
            blocks.append((filled - self.means_) / self.scales_)
            if len(self.indicator_):
                blocks.append(missing[:, self.indicator_].astype("float64"))
        elif (num > FLOAT32_MAX).any() or (num < -FLOAT32_MAX).any():
            # scikit-learn's trees and XGBoost read float32 and refuse a number past its range as infinite: clipped
            # to it, it lies beyond every split as in float64 (copied only then; a missing value stays NaN)
            blocks.append(np.clip(num, -FLOAT32_MAX, FLOAT32_MAX))
        else:
            blocks.append(num)
        blocks += self._text_blocks(X, text)
        for column, lookup in zip(self.categorical_, self.lookups_):
            codes = lookup[X[column].cat.codes.to_numpy()]  # -1 indexes the last slot (NaN)
            if self.encoding == "onehot":
                width = int(np.nansum(~np.isnan(lookup)))
                block = np.zeros((n, width))
                rows = np.flatnonzero(~np.isnan(codes))
                block[rows, codes[rows].astype(int)] = 1.0
                blocks.append(block)
            else:
                blocks.append(codes.reshape(-1, 1))
        return np.hstack(blocks) if blocks else np.empty((n, 0))
