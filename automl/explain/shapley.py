"""A model-agnostic Shapley estimate over input columns: permutation sampling against background rows.

For a row ``x``, a permutation of the input columns and a background sample ``B``, the value of
the first ``k`` columns of the permutation is the mean of ``f`` over ``B`` with those columns set to
``x``'s (the *interventional* value: columns are set, not conditioned on). Each column gets the
change in value when it joins; summed over a permutation, the changes telescope to
``f(x) - mean f(B)``, so the estimate is additive by construction (to rounding) whatever the number
of permutations. Permutations come in antithetic pairs (one and its reverse), which cuts the
variance of the estimate for the same number of evaluations.

The masks act on *input* columns: a datetime column expanded into several canonical columns is set
as one. It is written here rather than with ``shap``'s ``PermutationExplainer`` because shap's
maskers work on one numeric matrix: the canonical frame mixes float and ``category`` columns, which
must keep their dtype to reach the model's own preprocessing unchanged.

Example:
    >>> import numpy as np, pandas as pd
    >>> rows = pd.DataFrame({"a": [1.0], "b": [2.0]})
    >>> background = pd.DataFrame({"a": [0.0, 0.0], "b": [0.0, 1.0]})
    >>> f = lambda frame: (3 * frame["a"] + frame["b"]).to_numpy()
    >>> phi, base = permutation_shapley(f, rows, background, [["a"], ["b"]])
    >>> phi.round(6).tolist(), base.tolist()
    ([[3.0, 1.5]], [0.5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["permutation_shapley", "BATCH_ROWS"]

#: Rows evaluated by ``f`` at once (explained rows are grouped so that one batch stays near this).
BATCH_ROWS = 100_000


def _permutations(p: int, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``n_permutations`` permutations of ``range(p)`` (rounded up to even), in antithetic pairs."""
    half = [rng.permutation(p) for _ in range(max(1, (n_permutations + 1) // 2))]
    return np.array([q for perm in half for q in (perm, perm[::-1])])


def _masks(perms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct masks of the steps ``1..p-1`` of each permutation, and each step's mask index."""
    n_perm, p = perms.shape
    steps = np.zeros((n_perm, max(p - 1, 0), p), dtype=bool)
    for m, perm in enumerate(perms):
        for k in range(1, p):
            steps[m, k - 1, perm[:k]] = True
    if p < 2:
        return np.zeros((0, p), dtype=bool), np.zeros((n_perm, 0), dtype=int)
    unique, index = np.unique(steps.reshape(-1, p), axis=0, return_inverse=True)
    return unique, index.reshape(n_perm, p - 1)


def _select(values: np.ndarray, targets: np.ndarray | None, row_of: np.ndarray) -> np.ndarray:
    """``values`` (m,) as they are, or column ``targets[row_of[i]]`` of row i of ``values`` (m, K)."""
    if targets is None:
        return np.asarray(values, dtype="float64").reshape(len(row_of))
    return np.asarray(values, dtype="float64")[np.arange(len(row_of)), targets[row_of]]


def _masked_values(f: Callable[[pd.DataFrame], np.ndarray], combined: pd.DataFrame, rows: np.ndarray, n_rows: int,
                   n_background: int, masks: np.ndarray, groups: Sequence[Sequence[str]],
                   targets: np.ndarray | None) -> np.ndarray:
    """Mean of ``f`` over the background with each mask's columns set to each of ``rows``: (len(rows), masks)."""
    c, u, b = len(rows), len(masks), n_background
    row_part = np.broadcast_to(rows[:, None, None], (c, u, b))
    background_part = np.broadcast_to(n_rows + np.arange(b)[None, None, :], (c, u, b))
    data = {}
    for j, columns in enumerate(groups):
        source = np.where(masks[None, :, j, None], row_part, background_part).ravel()
        for column in columns:
            data[column] = combined[column].array.take(source)
    frame = pd.DataFrame(data)[list(combined.columns)]
    row_of = np.repeat(rows, u * b)
    return _select(f(frame), targets, row_of).reshape(c, u, b).mean(axis=2)


def permutation_shapley(
    f: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    background: pd.DataFrame,
    groups: Sequence[Sequence[str]],
    targets: np.ndarray | None = None,
    *,
    n_permutations: int = 10,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimated Shapley values of each group of columns for each row, and each row's base value.

    Args:
        f: Model output of a frame with the columns of ``rows``: ``(m,)`` values or ``(m, K)`` scores.
        rows: The rows to explain.
        background: Rows the absent columns are drawn from (same columns and dtypes).
        groups: The columns of each player (an input column and the canonical columns it became).
        targets: For ``(m, K)`` outputs, the column of ``f`` explained for each row.
        n_permutations: Permutations per row (rounded up to an even number).
        seed: Seed of the permutations.

    Returns:
        ``(phi, base)``: ``phi`` is ``(len(rows), len(groups))``, ``base`` is ``(len(rows),)``, and
        ``phi.sum(1) + base`` equals ``f(rows)`` (its target column) to rounding.
    """
    n, p, b = len(rows), len(groups), len(background)
    rows = rows.reset_index(drop=True)
    background = background.reset_index(drop=True)
    all_rows = np.arange(n)
    fx = _select(f(rows), targets, all_rows)
    fb = f(background)
    base = fb.mean() * np.ones(n) if targets is None else np.asarray(fb, dtype="float64").mean(axis=0)[targets]
    phi = np.zeros((n, p))
    if p == 1 or n == 0:
        phi[:, :p] = (fx - base)[:, None]
        return phi, base
    perms = _permutations(p, n_permutations, np.random.default_rng(seed))
    masks, step_mask = _masks(perms)
    combined = pd.concat([rows, background], ignore_index=True)
    chunk = max(1, BATCH_ROWS // max(1, len(masks) * b))
    for start in range(0, n, chunk):
        part = all_rows[start:start + chunk]
        values = _masked_values(f, combined, part, n, b, masks, groups, targets)
        path = np.concatenate([np.repeat(base[part, None, None], len(perms), axis=1), values[:, step_mask],
                               np.repeat(fx[part, None, None], len(perms), axis=1)], axis=2)
        gains = np.diff(path, axis=2)  # (rows, permutations, p): the change as each column joins
        for m, perm in enumerate(perms):
            phi[part[:, None], perm[None, :]] += gains[:, m, :] / len(perms)
    return phi, base
