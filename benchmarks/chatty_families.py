"""Model families that report an epoch every few milliseconds, for the limit tests and ``benchmarks.limits``.

A trial that keeps talking to the fit's process must still be stopped at ``trial_timeout`` and
``trial_memory_limit``: these families never fall silent, so a limit that is only checked while
the worker is quiet never fires on them.

- ``chatty``: its ``fit`` reports an epoch every ``interval`` seconds (5 ms) for ``seconds``
  seconds (30), ignoring any request to end early, then fits a prior-predicting classifier.
- ``chatty_hog``: the same, and each epoch allocates (and writes) ``step_mb`` MiB more, up to
  ``ceiling_mb`` MiB, which it then holds while it goes on reporting.
- ``busy``: its ``fit`` keeps one core busy for ``seconds`` seconds (0.2: a 5-fold trial of about 1 s of
  CPU), then fits a prior-predicting classifier; a trial of known length for the workers benchmark.
- ``masking``: its ``fit`` sleeps ``seconds`` seconds (30) and turns whatever interrupts it (Ctrl-C,
  SIGTERM) into a ``RuntimeError``, as library code whose clean-up fails does (Optuna's journal lock,
  cut in its release): run in the fit's process, it is where a stop request gets lost.

Register them in a child with ``register_family("chatty", "benchmarks.chatty_families:CHATTY")``
(and ``CHATTY_HOG``); the trial worker imports them from that path.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from automl.families import ModelFamily
from automl.families.epochs import report_epoch
from automl.spaces import space_from_dict

__all__ = ["BUSY", "CHATTY", "CHATTY_HOG", "MASKING", "BusyClassifier", "ChattyClassifier", "MaskingClassifier"]


class ChattyClassifier(DummyClassifier):
    """A prior-predicting classifier whose ``fit`` reports an epoch every ``interval`` s for ``seconds`` s."""

    def __init__(self, seconds: float = 30.0, interval: float = 0.005, step_mb: float = 0.0,
                 ceiling_mb: float = 1200.0) -> None:
        super().__init__(strategy="prior")
        self.seconds = seconds
        self.interval = interval
        self.step_mb = step_mb
        self.ceiling_mb = ceiling_mb

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> ChattyClassifier:
        super().fit(X, y, sample_weight)
        y = np.asarray(y)
        scores = np.tile(self.class_prior_, (len(y), 1))
        blocks: list[np.ndarray] = []
        end = time.monotonic() + self.seconds
        epoch = 0
        while time.monotonic() < end:
            if self.step_mb and len(blocks) * self.step_mb < self.ceiling_mb:
                blocks.append(np.ones(int(self.step_mb * 2**20) // 8))  # written, so it is resident
            report_epoch(epoch, y, scores)  # an answer to end the fold is ignored: it keeps talking
            epoch += 1
            time.sleep(self.interval)
        return self


class MaskingClassifier(DummyClassifier):
    """A prior-predicting classifier whose ``fit`` sleeps ``seconds`` s and masks an interrupt as a RuntimeError."""

    def __init__(self, seconds: float = 30.0) -> None:
        super().__init__(strategy="prior")
        self.seconds = seconds

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MaskingClassifier:
        try:
            end = time.monotonic() + self.seconds
            while time.monotonic() < end:
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - on purpose: the clean-up "fails" over the interrupt
            raise RuntimeError("clean-up failed") from exc
        return super().fit(X, y, sample_weight)


def _space(name: str, seconds: float, step_mb: float) -> Any:
    return space_from_dict({"family": name, "params": {
        "seconds": {"type": "float", "low": 0.1, "high": 600.0, "default": seconds},
        "step_mb": {"type": "float", "low": 0.0, "high": 100.0, "default": step_mb},
    }})


def _build(params: Any, ctx: Any) -> ChattyClassifier:
    return ChattyClassifier(seconds=float(params.get("seconds", 30.0)), step_mb=float(params.get("step_mb", 0.0)))


CHATTY = ModelFamily("chatty", frozenset({"binary", "multiclass"}), "ordinal", _build,
                     "reports an epoch every 5 ms for 30 s", search_space=_space("chatty", 30.0, 0.0))
CHATTY_HOG = ModelFamily("chatty_hog", frozenset({"binary", "multiclass"}), "ordinal", _build,
                         "reports an epoch every 5 ms and allocates 5 MiB at each", search_space=_space("chatty_hog", 30.0, 5.0))
def _build_masking(params: Any, ctx: Any) -> MaskingClassifier:
    return MaskingClassifier(seconds=float(params.get("seconds", 30.0)))


MASKING = ModelFamily("masking", frozenset({"binary", "multiclass"}), "ordinal", _build_masking,
                      "sleeps 30 s and turns an interrupt into a RuntimeError",
                      search_space=_space("masking", 30.0, 0.0))


class BusyClassifier(DummyClassifier):
    """A prior-predicting classifier whose ``fit`` keeps one core busy for ``seconds`` s of CPU time."""

    def __init__(self, seconds: float = 0.2) -> None:
        super().__init__(strategy="prior")
        self.seconds = seconds

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BusyClassifier:
        end = time.process_time() + self.seconds
        while time.process_time() < end:
            sum(range(1000))
        return super().fit(X, y, sample_weight)


def _build_busy(params: Any, ctx: Any) -> BusyClassifier:
    return BusyClassifier(seconds=float(params.get("seconds", 0.2)))


BUSY = ModelFamily("busy", frozenset({"binary", "multiclass"}), "ordinal", _build_busy,
                   "keeps one core busy for 0.2 s a fit", search_space=space_from_dict({"family": "busy", "params": {
                       "seconds": {"type": "float", "low": 0.01, "high": 60.0, "default": 0.2},
                       "spread": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.5}}}))
