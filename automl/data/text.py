"""Free-text columns: told apart from categories at the edge, encoded inside each training fold.

A column of free text (reviews, descriptions, notes) treated as a category has one level per
row and carries no signal. Here such a column gets the role ``text`` in the frozen schema:

- :func:`text_columns` picks the text columns of a training frame: string columns with many
  distinct values (at least :data:`TEXT_MIN_DISTINCT_SHARE` of the filled rows) and several words
  per value (at least :data:`TEXT_MIN_WORDS` on average); the ``column_roles`` setting forces a
  column's role either way.
- :class:`TextEncoder` turns one text column into a few dense numeric features: scikit-learn's
  TF-IDF vectoriser (words or character n-grams) followed by a truncated SVD (latent semantic
  analysis). It is fitted on the training rows of a fold only, like every other encoding; words
  unseen at fit are ignored at predict, and a missing text is an empty string. No weights are
  downloaded: the vocabulary is learned from the data.
- :data:`TEXT_CHOICES` are searched with every family when the data has text: the analyser, the
  n-gram range and the reduced size; :data:`TEXT_DEFAULTS` work with zero search.

Why scikit-learn's vectoriser and SVD rather than a encoder of our own, or sparse features: they
are the well-kept implementation, and every family takes a dense matrix (trees, k-NN and the nets
could not take a sparse one), so one reduced form serves all.

Example:
    >>> import pandas as pd
    >>> notes = pd.Series([f"the parcel arrived {w} and on time" for w in ["late", "early"] * 20])
    >>> TextEncoder(dims=4).fit(notes).transform(notes).shape
    (40, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["ROLES", "TEXT_CHARS_PER_CELL", "TEXT_CHOICES", "TEXT_DEFAULTS", "TEXT_MIN_DISTINCT_SHARE", "TEXT_MIN_ROWS",
           "TEXT_MIN_WORDS", "TEXT_PREFIX", "TEXT_SEED", "TextEncoder", "looks_like_text", "role_problems",
           "split_text_params", "text_cells", "text_columns", "text_value_problems"]

#: The roles a column may be forced to with the ``column_roles`` setting.
ROLES = ("text", "categorical")
#: Fewest filled rows before a column is called free text (below it, a category).
TEXT_MIN_ROWS = 20
#: Least share of distinct values among the filled rows of a text column.
TEXT_MIN_DISTINCT_SHARE = 0.3
#: Least mean number of words per value of a text column.
TEXT_MIN_WORDS = 2.5
#: The prefix of the text parameters in a trial's parameters (the rest are the family's).
TEXT_PREFIX = "text_"
#: The text encoder's settings with zero search (:class:`TextEncoder`'s defaults)...
TEXT_DEFAULTS: dict[str, Any] = {"analyzer": "word", "ngram_max": 2, "dims": 32}
#: ... and what the search tries: the choices, or ``(low, high)`` on a log scale for the size
#: (:data:`automl.families.pipeline.TEXT_PARAMS` adds them to every family's space).
TEXT_CHOICES: dict[str, Any] = {"analyzer": ("word", "char_wb"), "ngram_max": (1, 2), "dims": (8, 128)}
#: Most distinct n-grams a vectoriser keeps (the most frequent in the training rows).
MAX_VOCABULARY = 50_000
#: Inner folds of the training rows that give them out-of-fold text scores.
SCORE_FOLDS = 5
#: Inverse regularisation of the text model (logistic regression on the L2-normalised TF-IDF rows).
SCORE_C = 10.0
#: Regularisation of the text model of a regression (ridge).
SCORE_RIDGE_ALPHA = 1.0
_CHAR_NGRAM_MIN = 2
#: The text encoder's random state (its SVD, its inner folds) in every trial and refit of a fit, whatever the
#: trial's seed: the encoding of a fold is then the same in every trial, computed once
#: (:mod:`automl.data.text_cache`), and trials are compared on the same features.
TEXT_SEED = 0


def _is_string_column(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return False
    if not (pd.api.types.is_string_dtype(dtype) or dtype == object):
        return False
    if isinstance(dtype, pd.StringDtype):  # pandas' string dtypes hold only strings: no value to look at
        return bool(series.notna().any())
    values = series.dropna()
    return bool(len(values)) and bool(values.map(lambda v: isinstance(v, str)).all())


def looks_like_text(series: pd.Series) -> bool:
    """Whether a column holds free text: strings, at least :data:`TEXT_MIN_ROWS` filled rows,
    mostly distinct values and several words per value.

    Example:
        >>> looks_like_text(pd.Series([f"review number {i} was fine" for i in range(30)]))
        True
        >>> looks_like_text(pd.Series(["Oslo", "Rome", "Lima"] * 10))
        False
    """
    if not _is_string_column(series):
        return False
    values = series.dropna()
    if len(values) < TEXT_MIN_ROWS:
        return False
    if values.nunique() < TEXT_MIN_DISTINCT_SHARE * len(values):
        return False
    words = values.map(lambda v: len(v.split()))
    return bool(words.mean() >= TEXT_MIN_WORDS)


def role_problems(X: pd.DataFrame, roles: Mapping[str, str] | None, target: str | None = None) -> list[str]:
    """What is wrong with ``column_roles`` for this frame: unknown columns (with "did you mean") and
    columns that do not hold strings (only they can take either role).

    Example:
        >>> role_problems(pd.DataFrame({"note": ["a b"], "n": [1]}), {"nte": "text"})
        ["column_roles: unknown column 'nte'; did you mean 'note'? Known columns: n, note."]
    """
    from automl._suggest import unknown_name_message

    problems = []
    names = [str(c) for c in X.columns]
    for name in (roles or {}):
        if name == target and name not in names:
            problems.append(f"column_roles[{name!r}]: {name!r} is the target; roles are for feature columns (text "
                            "or categorical), the target is read as the task says; leave it out of column_roles")
        elif name not in names:
            problems.append(f"column_roles: {unknown_name_message('column', name, names)}")
        elif not _is_string_column(X[name]):
            what = "holds values that are not strings" if X[name].dtype == object else f"has dtype {X[name].dtype}"
            problems.append(f"column_roles[{name!r}]: only a column of strings can be text or categorical, but "
                            f"{name!r} {what}; leave it out of column_roles")
    return problems


def text_columns(X: pd.DataFrame, roles: Mapping[str, str] | None = None) -> list[str]:
    """The columns of ``X`` taken as free text: those :func:`looks_like_text` finds, plus those
    ``roles`` forces to ``"text"``, less those it forces to ``"categorical"``.

    Example:
        >>> X = pd.DataFrame({"note": [f"call back on day {i}" for i in range(30)], "city": ["Oslo"] * 30})
        >>> text_columns(X), text_columns(X, {"note": "categorical", "city": "text"})
        (['note'], ['city'])
    """
    roles = dict(roles or {})
    return [str(name) for name in X.columns
            if roles.get(str(name)) == "text" or (str(name) not in roles and looks_like_text(X[name]))]


#: Characters of free text that count as one cell of work where the folds are chosen (``cv=None`` under a time
#: budget). A fold encodes its text (TF-IDF, the text model's inner folds, the SVD) at about 1.4 µs a character on
#: one core, and a random forest with its defaults costs about 37 µs a cell (``python -m benchmarks.text_cost``):
#: about 27 characters a cell. At this rate, data at the bound of 5 folds
#: (:data:`automl.evaluation.splitters.FIVE_FOLDS_MAX_WORK`) spend 28 % of the budget encoding the 5 folds once
#: (2,000 x 25 characters a second of budget, 4/5 of them in each fold, at 1.4 µs). Counted at 100 characters a
#: cell, 300 rows of 9 kB texts got 5 folds at 30 s, and on a loaded core no trial completed.
TEXT_CHARS_PER_CELL = 25


def text_cells(column: pd.Series, sample: int = 10_000) -> float:
    """The cells of work one row of the free-text ``column`` counts for: its mean length (over at most ``sample``
    filled values) in :data:`TEXT_CHARS_PER_CELL`, at least 1.

    Example:
        >>> text_cells(pd.Series(["short note", None])), text_cells(pd.Series(["w" * 1_000] * 3))
        (1.0, 40.0)
    """
    filled = column.dropna()
    if len(filled) > sample:
        filled = filled.sample(sample, random_state=0)
    mean = float(filled.astype(str).str.len().mean()) if len(filled) else 0.0
    return max(1.0, mean / TEXT_CHARS_PER_CELL)


def text_value_problems(name: str, value: Any) -> list[str]:
    """What is wrong with ``value`` for the text parameter ``name`` (``text_dims`` ...), as an override pins it.

    Example:
        >>> text_value_problems("text_dims", 0)
        ['text_dims=0: the reduced size must be a whole number of at least 1; for example 32']
    """
    key = name[len(TEXT_PREFIX):]
    if key == "analyzer" and value not in ("word", "char_wb", "char"):
        return [f"{name}={value!r}: the analyser must be 'word', 'char_wb' or 'char'; for example 'word'"]
    if key in ("dims", "ngram_max") and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                         or value < 1):
        what = "the reduced size" if key == "dims" else "the longest n-gram"
        return [f"{name}={value!r}: {what} must be a whole number of at least 1; for example {TEXT_DEFAULTS[key]}"]
    return []


def split_text_params(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(the family's parameters, the text encoder's)`` from a trial's parameters.

    Example:
        >>> split_text_params({"alpha": 1.0, "text_dims": 16, "text_size": 3})  # text_size: the family's own
        ({'alpha': 1.0, 'text_size': 3}, {'dims': 16})
    """
    names = {f"{TEXT_PREFIX}{name}" for name in TEXT_DEFAULTS}  # a family's own ``text_...`` parameter stays its own
    family = {k: v for k, v in params.items() if k not in names}
    text = {str(k)[len(TEXT_PREFIX):]: v for k, v in params.items() if k in names}
    return family, text


class TextEncoder(TransformerMixin, BaseEstimator):
    """One text column as dense features: a truncated SVD of its TF-IDF, and (given the training
    target) a text model's score.

    - The SVD keeps ``dims`` components (LSA: the main themes of the texts, learned without the
      target). With fewer distinct n-grams than ``dims``, the TF-IDF weights are the features.
    - The score: a linear model on the full sparse TF-IDF (logistic regression; ridge for
      regression) predicts the target, one column (the log-odds; the value) or one per class
      (multiclass). The SVD alone loses what rare words say (300 sentiment words among 3,000 gave a
      held-out AUC of 0.56 with it, 0.86 with a linear model on all the words); the score keeps it.
      The training rows get *out-of-fold* scores (:data:`SCORE_FOLDS` inner folds of the training rows
      only), so a model trained on them learns how far a new row's score can be trusted; new rows get
      the score of the text model fitted on all the training rows (stacking, as in Wolpert 1992).

    Args:
        analyzer: ``"word"`` (words) or ``"char_wb"`` (character n-grams inside word boundaries,
            robust to typos and inflections).
        ngram_max: Longest n-gram (words: 1 or 2; characters: from 2 to ``ngram_max + 2``).
        dims: Components the SVD keeps.
        seed: The SVD's and the inner folds' random state.
        task: ``binary``, ``multiclass`` or ``regression`` (None: no score).
        n_classes: Classes of the whole problem (score columns of a multiclass task).

    Example:
        >>> texts = pd.Series(["good value", "bad value", None, "good good"])
        >>> enc = TextEncoder(dims=2).fit(texts)
        >>> enc.transform(pd.Series(["never seen words"])).tolist()
        [[0.0, 0.0]]
    """

    def __init__(self, analyzer: str = TEXT_DEFAULTS["analyzer"], ngram_max: int = TEXT_DEFAULTS["ngram_max"],
                 dims: int = TEXT_DEFAULTS["dims"], seed: int = 0, task: str | None = None,
                 n_classes: int = 0) -> None:
        self.analyzer = analyzer
        self.ngram_max = ngram_max
        self.dims = dims
        self.seed = seed
        self.task = task
        self.n_classes = n_classes

    def _vectoriser(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        low, high = (1, int(self.ngram_max)) if self.analyzer == "word" else (
            _CHAR_NGRAM_MIN, _CHAR_NGRAM_MIN + int(self.ngram_max))
        return TfidfVectorizer(analyzer=self.analyzer, ngram_range=(low, high), sublinear_tf=True,
                               max_features=MAX_VOCABULARY, dtype=np.float64,
                               # one-letter words count ("a 5 star"); characters need no pattern (scikit-learn
                               # warns on every fit given one)
                               token_pattern=r"(?u)\b\w+\b" if self.analyzer == "word" else None)

    def fit(self, texts: pd.Series, y: Any = None) -> TextEncoder:
        """Learn the vocabulary, the SVD and (with ``y``) the text model on the training rows."""
        self.fit_transform(texts, y)
        return self

    def fit_transform(self, texts: pd.Series, y: Any = None, **_: Any) -> np.ndarray:
        """:meth:`fit`, returning the training rows' features (their scores out of fold)."""
        from automl.data import text_cache

        strings = _as_text(texts)
        self.n_scores_ = 0 if self.task is None or y is None else (
            int(self.n_classes) if self.task == "multiclass" else 1)
        target = None if not self.n_scores_ else np.asarray(y)
        options = (self.analyzer, int(self.ngram_max), int(self.seed), self.task, self.n_scores_)
        self.vectoriser_, tfidf, self.scorer_, scores = text_cache.fitted(
            options, strings, target, lambda: self._fit_words(strings, target))
        self.svd_ = None
        if self.vectoriser_ is None:  # no word at all in the training rows (empty texts only)
            self.n_features_out_ = self.n_scores_
            return np.zeros((len(strings), self.n_features_out_))
        if tfidf.shape[1] > int(self.dims) and tfidf.shape[0] > int(self.dims):
            from sklearn.decomposition import TruncatedSVD

            self.svd_ = TruncatedSVD(int(self.dims), algorithm="randomized", n_iter=4,
                                     random_state=int(self.seed)).fit(tfidf)
        reduced = self._reduced(tfidf)
        self.n_features_out_ = reduced.shape[1] + self.n_scores_
        return np.hstack([reduced, scores])

    def _fit_words(self, strings: list[str], y: np.ndarray | None) -> tuple[Any, Any, Any, np.ndarray]:
        """``(the fitted vectoriser or None, the training rows' TF-IDF, the text model or None, their scores out of
        fold)``: all that does not depend on ``dims`` (:mod:`automl.data.text_cache` keeps it for the next trial)."""
        vectoriser = self._vectoriser()
        try:
            tfidf = vectoriser.fit_transform(strings)
        except ValueError:  # no word at all
            return None, None, None, np.zeros((len(strings), 0))
        # The n-grams cut by max_features: for introspection only, and they can outnumber the kept ones tenfold
        # (scikit-learn's documentation: safe to remove), in memory and in every saved model.
        vectoriser.stop_words_ = None
        if y is None or not self.n_scores_:
            return vectoriser, tfidf, None, np.zeros((len(strings), 0))
        scores, scorer = self._fit_scorer(tfidf, y)
        return vectoriser, tfidf, scorer, scores

    def _reduced(self, tfidf: Any) -> np.ndarray:
        if self.svd_ is None:
            return np.asarray(tfidf.toarray(), dtype="float64")
        return np.asarray(self.svd_.transform(tfidf), dtype="float64")

    def _model(self) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        return Ridge(alpha=SCORE_RIDGE_ALPHA) if self.task == "regression" else LogisticRegression(
            C=SCORE_C, max_iter=1000)

    def _fit_scorer(self, tfidf: Any, y: np.ndarray) -> tuple[np.ndarray, Any]:
        """``(out-of-fold scores of the training rows, the text model on all of them for new rows)``: zeros and
        None where they cannot be had (a class too rare to split)."""
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.model_selection import KFold, StratifiedKFold

        out = np.zeros((len(y), self.n_scores_))
        classification = self.task != "regression"
        counts = np.unique(y, return_counts=True)[1]
        folds = min(SCORE_FOLDS, int(counts.min()) if classification else len(y))
        if (classification and len(counts) < 2) or folds < 2:
            return out, None  # no text model: new rows get zeros too
        splitter = (StratifiedKFold if classification else KFold)(folds, shuffle=True, random_state=int(self.seed))
        with warnings.catch_warnings():  # an unconverged text model is still a usable score: no noise per fold
            warnings.simplefilter("ignore", ConvergenceWarning)
            for train, valid in splitter.split(np.zeros(len(y)), y):
                if classification and len(np.unique(y[train])) < 2:
                    continue
                out[valid] = self._scores(self._model().fit(tfidf[train], y[train]), tfidf[valid])
            return out, self._model().fit(tfidf, y)

    def _scores(self, model: Any, tfidf: Any) -> np.ndarray:
        """The model's scores as :attr:`n_scores_` columns (a class absent from its rows scores 0)."""
        raw = np.asarray(model.decision_function(tfidf) if self.task != "regression" else model.predict(tfidf),
                         dtype="float64")
        if self.task != "multiclass":
            return raw.reshape(-1, 1)
        full = np.zeros((tfidf.shape[0], self.n_scores_))
        classes = np.asarray(model.classes_, dtype=int)
        full[:, classes] = raw if raw.ndim == 2 else np.column_stack([-raw, raw])  # two classes seen: one column
        return full

    def transform(self, texts: pd.Series) -> np.ndarray:
        """The features of ``texts`` (unseen words are ignored; a missing text is an empty one)."""
        strings = _as_text(texts)
        if getattr(self, "vectoriser_", None) is None or not strings:
            return np.zeros((len(strings), self.n_features_out_))
        from automl.data import text_cache

        tfidf = text_cache.transformed(self.vectoriser_, strings, lambda: self.vectoriser_.transform(strings))
        n_scores = getattr(self, "n_scores_", 0)
        scorer = getattr(self, "scorer_", None)
        scores = self._scores(scorer, tfidf) if scorer is not None else np.zeros((len(strings), n_scores))
        return np.hstack([self._reduced(tfidf), scores])


def _as_text(texts: Any) -> list[str]:
    series = pd.Series(texts).reset_index(drop=True)
    return ["" if not isinstance(v, str) else v for v in series.tolist()]
