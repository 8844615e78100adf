"""The fold models the search keeps from its best trials, for bags and the last resort.

Each trial's cross-validation fits one model per fold. The runner keeps them for the best few
trials (the search says which, best first, after each completed trial): the final stage then
predicts with their average (a :class:`~automl.families.bagged.BaggedModel`) instead of refitting
on all rows, and the best trial's bag is the fit's last resort when every refit fails.

With process isolation the worker pickles a kept trial's models once and hands the bytes over at
once, so they live in the fit's process and survive the worker (which is killed at a deadline, a
crash or a memory limit). A bag pickling to more than ``max_bag_bytes`` is not handed over (its trial
is refitted if chosen, as a large forest would cost seconds and memory), and the worst kept bags go
when all of them pass ``max_total_bytes``. In the fit's own process (``isolation="none"``) the
models are kept as they are.

Example:
    >>> kept = KeptModels(pickled=True)
    >>> kept.add(4, dumps(["fold 1", "fold 2"]), retain=[4])
    (4,)
    >>> kept.models(4)
    ['fold 1', 'fold 2']
    >>> kept.add(7, dumps(["a"]), retain=[7]), kept.models(4)
    ((7,), None)
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

__all__ = ["KeptModels", "MAX_BAG_BYTES", "MAX_KEPT_BYTES", "dumps", "kept_limits"]

#: A trial's fold models are kept only when they pickle to at most this (else its trial is refitted).
MAX_BAG_BYTES = 256 * 2**20
#: All kept bags together: past this the worst-ranked ones go.
MAX_KEPT_BYTES = 768 * 2**20
#: With a memory limit on the worker, a bag takes at most this share of it to pickle and hand over.
BAG_SHARE_OF_LIMIT = 0.125


def kept_limits(memory_limit_mb: float | None) -> tuple[int, int]:
    """``(max_bag_bytes, max_total_bytes)`` with the worker limited to ``memory_limit_mb`` MiB (None: no limit).

    Example:
        >>> kept_limits(None) == (MAX_BAG_BYTES, MAX_KEPT_BYTES), kept_limits(1024)
        (True, (134217728, 805306368))
    """
    if memory_limit_mb is None:
        return MAX_BAG_BYTES, MAX_KEPT_BYTES
    return min(MAX_BAG_BYTES, int(memory_limit_mb * 2**20 * BAG_SHARE_OF_LIMIT)), MAX_KEPT_BYTES


def dumps(model: Any) -> bytes | None:
    """``model`` pickled for the fit's process (None if it is None or does not pickle).

    Example:
        >>> dumps(None) is None, len(dumps([1, 2])) > 0
        (True, True)
    """
    if model is None:
        return None
    try:
        import cloudpickle as pickler
    except ImportError:  # pragma: no cover - cloudpickle comes with mlflow
        pickler = pickle
    try:
        return pickler.dumps(model, protocol=5)
    except Exception:  # noqa: BLE001 - not kept, then
        return None


class KeptModels:
    """Trial number → that trial's fitted fold models (pickled, or as they are), for the best trials only.

    Args:
        pickled: The models are given as pickled bytes (from the worker) or as objects (this process).
        max_bag_bytes: Most bytes of one trial's pickled models.
        max_total_bytes: Most bytes of all kept trials' pickled models.
    """

    def __init__(self, pickled: bool, max_bag_bytes: int = MAX_BAG_BYTES,
                 max_total_bytes: int = MAX_KEPT_BYTES) -> None:
        self.pickled = pickled
        self.max_bag_bytes = max_bag_bytes
        self.max_total_bytes = max_total_bytes
        self._kept: dict[int, Any] = {}

    def add(self, number: int, value: Any, retain: Sequence[int]) -> tuple[int, ...]:
        """Keep ``value`` (trial ``number``'s models; None: nothing to keep) if ``number`` is in ``retain``
        (the trials to keep, best first); drop every other trial's; return the trials kept, best first."""
        if value is not None and number in retain and (not self.pickled or len(value) <= self.max_bag_bytes):
            self._kept[number] = value
        order = [n for n in retain if n in self._kept]
        for n in set(self._kept) - set(order):
            del self._kept[n]
        while self.pickled and len(order) > 1 and sum(len(self._kept[n]) for n in order) > self.max_total_bytes:
            del self._kept[order.pop()]
        return tuple(order)

    def holds(self, number: int) -> bool:
        """Whether trial ``number``'s models are kept."""
        return number in self._kept

    def models(self, number: int) -> list[Any] | None:
        """Trial ``number``'s fold models, or None when they are not kept."""
        value = self._kept.get(number)
        if value is None or not self.pickled:
            return value
        from automl.search.preload import loads_preloaded

        return list(loads_preloaded(value))

    def clear(self) -> None:
        """Drop everything."""
        self._kept.clear()
