"""One fold's text encoding, computed once and reused by every trial of the search.

A free-text column is the costliest part of a fold: the TF-IDF vocabulary of long texts and the
inner folds of the text model take seconds (300 rows of 9 kB texts: 3.4 s a fold on one core),
while most families fit the encoded rows in a fraction of that. The encoding depends only on the
fold's texts and target and on the vectoriser's options, never on the family or its parameters,
so every trial on the same fold with the same options would compute the same thing again.

:func:`reuse` opens a scope (the cross-validation of a trial's folds opens one) in which
:class:`automl.data.text.TextEncoder` looks its fitted vocabulary, text model and out-of-fold scores
up by a fingerprint of their inputs (:func:`fingerprint`), and the TF-IDF of rows it transforms.
Outside a scope (a refit, a user's ``predict``) nothing is looked up or kept. Entries are dropped
oldest first beyond :data:`MAX_BYTES`, and :func:`clear` drops them all (the search calls it when
it ends). A hit gives the very objects a fresh fit would have built (the inputs are the key), so
results do not change; the only cost is the fingerprint (hashing the texts, milliseconds a MB).

Why our own cache rather than :class:`joblib.Memory`: joblib's memory pickles every entry to
disk and hashes the arguments by pickling them; here the entries are large sparse matrices
that live only as long as the search, in the worker process that runs its trials.

Example:
    >>> import pandas as pd
    >>> from automl.data.text import TextEncoder
    >>> notes = pd.Series([f"parcel {w} late again" for w in range(30)])
    >>> with reuse():
    ...     first = TextEncoder(dims=2).fit(notes)
    ...     second = TextEncoder(dims=2).fit(notes)
    >>> first.vectoriser_ is second.vectoriser_
    True
    >>> clear()
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["MAX_BYTES", "clear", "fingerprint", "fitted", "reuse", "transformed"]

#: Most bytes the kept encodings may hold (sparse matrices, scores and an estimate of the vocabularies);
#: the oldest are dropped beyond it.
MAX_BYTES = 256 * 2**20
#: Bytes one vocabulary entry is taken to hold (the n-gram's string and its dictionary slot).
_BYTES_PER_TERM = 120

_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
_open = 0
_bytes = 0


@contextmanager
def reuse() -> Iterator[None]:
    """A scope in which text encodings are looked up and kept (scopes nest; threads share them)."""
    global _open
    with _lock:
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1


def clear() -> None:
    """Drop every kept encoding."""
    global _bytes
    with _lock:
        _entries.clear()
        _bytes = 0


def fingerprint(strings: Sequence[str], y: Any = None) -> str:
    """A digest of ``strings`` (in order) and of ``y`` (its values and dtype; left out when None).

    The strings' lengths are hashed with their concatenation, so that no two lists give the same bytes.

    Example:
        >>> fingerprint(["ab", "c"]) == fingerprint(["a", "bc"])
        False
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)).tobytes())
    digest.update("".join(strings).encode("utf-8", "surrogatepass"))
    if y is not None:
        values = np.ascontiguousarray(y)
        digest.update(str(values.dtype).encode() + values.tobytes())
    return digest.hexdigest()


def _size(value: Any) -> int:
    """Bytes held by ``value``: arrays and sparse matrices by their buffers; a fitted model by its array attributes
    (a multiclass text model's coefficients: classes x terms) and, for a vectoriser, its terms."""
    if value is None:
        return 0
    if isinstance(value, tuple):
        return sum(_size(v) for v in value)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if all(hasattr(value, name) for name in ("data", "indices", "indptr")):
        return int(value.data.nbytes + value.indices.nbytes + value.indptr.nbytes)
    arrays = sum(int(v.nbytes) for v in vars(value).values() if isinstance(v, np.ndarray))
    return arrays + _BYTES_PER_TERM * len(getattr(value, "vocabulary_", ()))


def _get(key: tuple, build: Callable[[], Any], held: Callable[[Any], Any] = lambda value: value) -> Any:
    """What ``build()`` gave for ``key`` before in a scope, else ``build()`` (kept in a scope, with the bytes
    of ``held(value)``)."""
    global _bytes
    with _lock:
        active = _open > 0
        if active and key in _entries:
            _entries.move_to_end(key)
            return _entries[key][0]
    value = build()
    if not active:  # the scope closed meanwhile: nothing is kept
        return value
    size = _size(held(value))
    with _lock:
        if size <= MAX_BYTES and key not in _entries:
            _entries[key] = (value, size)
            _bytes += size
            while _bytes > MAX_BYTES:
                _bytes -= _entries.popitem(last=False)[1][1]
    return value


def fitted(options: tuple, strings: Sequence[str], y: Any, build: Callable[[], Any]) -> Any:
    """``build()`` for the encoder ``options`` fitted on ``strings`` and ``y``, or what it gave before in a scope."""
    if not _open:
        return build()
    return _get(("fit", options, fingerprint(strings, y)), build)


def transformed(vectoriser: Any, strings: Sequence[str], build: Callable[[], Any]) -> Any:
    """``build()``, the TF-IDF of ``strings`` by ``vectoriser``, or what it gave before in a scope.

    A vectoriser is known by its identity: the entry holds it, so that no other object takes its identity while
    the entry is kept.
    """
    if not _open:
        return build()
    return _get(("transform", id(vectoriser), fingerprint(strings)), lambda: (vectoriser, build()),
                held=lambda value: value[1])[1]
