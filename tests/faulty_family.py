"""A model family that misbehaves on request, for the isolation tests.

Its one parameter, ``fault``, picks what the model's ``fit`` does: ``ok`` (fits
a prior-predicting classifier), ``raise``, ``nan`` or ``inf`` (predictions),
``memory_error``, ``segfault``, ``abort``, ``hang`` or ``hog`` (allocates until
something stops it). Register it with ``register_family("faulty",
"tests.faulty_family:FAULTY")``; trial workers import it from that path.
"""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from automl.families import ModelFamily
from automl.spaces import space_from_dict

FAULTS = ("ok", "raise", "nan", "inf", "memory_error", "segfault", "abort", "hang", "hog")
#: Most a ``hog`` model allocates before giving up (a safety net if nothing kills it).
HOG_CEILING_MB = 3000


class FaultyClassifier(DummyClassifier):
    """A prior-predicting classifier that misbehaves as ``fault`` says."""

    def __init__(self, fault: str = "ok") -> None:
        super().__init__(strategy="prior")
        self.fault = fault

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FaultyClassifier:
        fault = self.fault
        if fault == "raise":
            raise ValueError("injected failure")
        if fault == "memory_error":
            raise MemoryError("injected: cannot allocate")
        if fault == "segfault":
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        if fault == "abort":
            os.abort()
        if fault == "hang":
            time.sleep(3600)
        if fault == "hog":
            blocks = []
            while len(blocks) * 20 < HOG_CEILING_MB:
                blocks.append(np.ones(20 * 2**20 // 8))  # 20 MiB, written so it is resident
                time.sleep(0.01)
            raise RuntimeError("the memory limit did not stop the hog")
        return super().fit(X, y, sample_weight)

    def predict_proba(self, X: Any) -> np.ndarray:
        proba = super().predict_proba(X)
        if self.fault in ("nan", "inf"):
            return np.full_like(proba, np.nan if self.fault == "nan" else np.inf, dtype=float)
        return proba


def _build(params: Any, ctx: Any) -> FaultyClassifier:
    return FaultyClassifier(params["fault"])


FAULTY = ModelFamily(
    "faulty", frozenset({"binary", "multiclass"}), "ordinal", _build, "misbehaves on request",
    search_space=space_from_dict(
        {"family": "faulty", "params": {"fault": {"type": "categorical", "choices": list(FAULTS), "default": "ok"}}}
    ),
)
