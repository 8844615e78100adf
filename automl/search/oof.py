"""Out-of-fold predictions of the best trials, kept compactly for ensemble selection.

Only the ``keep`` best completed trials are kept (by their CV score), as
float32; an array larger than ``spill_bytes`` is written to a private
temporary folder and read back memory-mapped, so a long search on large data
holds at most ``keep`` arrays and little of them in memory.

Example:
    >>> import numpy as np
    >>> store = OOFStore(keep=2, greater_is_better=True)
    >>> for number, score in enumerate([0.7, 0.9, 0.8]):
    ...     store.add(number, score, np.full(3, score))
    >>> sorted(store), store[1].dtype.name
    ([1, 2], 'float32')
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

__all__ = ["OOFStore", "KEEP_BEST", "SPILL_BYTES"]

#: Completed trials whose out-of-fold predictions are kept.
KEEP_BEST = 20
#: Arrays larger than this go to disk (memory-mapped when read).
SPILL_BYTES = 16 * 2**20


class OOFStore(Mapping[int, np.ndarray]):
    """Trial number → out-of-fold predictions of the best ``keep`` trials (a read-only mapping).

    Args:
        keep: How many of the best trials to keep.
        greater_is_better: Direction of the scores given to :meth:`add`.
        spill_bytes: Arrays larger than this are kept on disk.
    """

    def __init__(self, keep: int = KEEP_BEST, greater_is_better: bool = True, spill_bytes: int = SPILL_BYTES) -> None:
        self.keep = keep
        self.greater_is_better = greater_is_better
        self.spill_bytes = spill_bytes
        self._arrays: dict[int, np.ndarray] = {}
        self._repeats: dict[int, np.ndarray] = {}
        self._scores: dict[int, float] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def add(self, number: int, score: float, oof: np.ndarray, repeats: np.ndarray | None = None) -> None:
        """Keep trial ``number``'s predictions (and, under repeated splits, each repeat's, ``(R, n, ...)``)
        if it is among the best ``keep``; drop the worst otherwise."""
        self._scores[number] = float(score)
        if len(self._scores) > self.keep:
            worst = min(self._scores, key=lambda n: self._scores[n] if self.greater_is_better else -self._scores[n])
            del self._scores[worst]
            self._drop(worst)
            if worst == number:
                return
        self._arrays[number] = self._stored(f"trial-{number}", oof)
        if repeats is not None:
            self._repeats[number] = self._stored(f"trial-{number}-repeats", repeats)

    def _stored(self, name: str, values: np.ndarray) -> np.ndarray:
        """``values`` as float32, on disk (memory-mapped) when larger than ``spill_bytes``."""
        array = np.asarray(values, dtype="float32")
        if array.nbytes > self.spill_bytes:
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="automl-oof-")
            path = Path(self._folder.name) / f"{name}.npy"
            np.save(path, array)
            array = np.load(path, mmap_mode="r")
        return array

    def by_repeat(self, number: int) -> np.ndarray:
        """Trial ``number``'s predictions per repeat, ``(R, n, ...)`` (``R == 1`` without repeated splits).

        Example:
            >>> store = OOFStore()
            >>> store.add(0, 0.5, np.zeros(3)); store.add(1, 0.6, np.zeros(3), repeats=np.zeros((2, 3)))
            >>> store.by_repeat(0).shape, store.by_repeat(1).shape
            ((1, 3), (2, 3))
        """
        repeats = self._repeats.get(number)
        return self._arrays[number][None] if repeats is None else repeats

    def best(self, n: int) -> list[int]:
        """The numbers of the ``n`` best trials added and kept, best first (ties: the earlier first).

        Example:
            >>> store = OOFStore(keep=5, greater_is_better=False)
            >>> for number, loss in enumerate([0.3, 0.1, 0.2, 0.1]):
            ...     store.add(number, loss, np.zeros(2))
            >>> store.best(3)
            [1, 3, 2]
        """
        sign = -1.0 if self.greater_is_better else 1.0
        return sorted(self._scores, key=lambda k: (sign * self._scores[k], k))[:n]

    def _drop(self, number: int) -> None:
        for name, kept in ((f"trial-{number}", self._arrays), (f"trial-{number}-repeats", self._repeats)):
            array = kept.pop(number, None)
            if isinstance(array, np.memmap) and self._folder is not None:
                del array
                (Path(self._folder.name) / f"{name}.npy").unlink(missing_ok=True)

    @property
    def on_disk(self) -> int:
        """How many of the kept arrays are on disk."""
        return sum(isinstance(a, np.memmap) for a in self._arrays.values())

    def __getitem__(self, number: int) -> np.ndarray:
        return self._arrays[number]

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._arrays))

    def __len__(self) -> int:
        return len(self._arrays)
