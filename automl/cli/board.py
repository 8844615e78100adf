"""The leaderboard as the command line prints it: a compact text table of its first rows."""

from __future__ import annotations

from typing import Any

#: Leaderboard rows printed at the end of a fit (all of them with ``automl leaderboard --top 0``).
TOP_ROWS = 10


def board_table(board: Any, top: int = TOP_ROWS, show_all: str = "automl leaderboard --study NAME --top 0") -> str:
    """The leaderboard as a compact text table (first metric's mean and std, times, state).

    Example:
        >>> import pandas as pd
        >>> board = pd.DataFrame({"rank": [1], "trial": [0], "family": ["knn"], "params": [{}],
        ...     "auc_mean": [0.9], "auc_std": [0.01], "n_folds": [5], "fit_time": [0.1], "duration": [0.2],
        ...     "state": ["complete"], "reason": [""], "worker": [""]})
        >>> print(board_table(board))  # doctest: +NORMALIZE_WHITESPACE
         rank  trial family  auc_mean  auc_std  fit_time    state
            1      0    knn       0.9     0.01       0.1 complete
    """
    metric_columns = [c for c in board.columns if c.endswith(("_mean", "_std"))][:2]
    columns = ["rank", "trial", "family", *metric_columns, "fit_time", "state"]
    if (board["reason"].fillna("") != "").any():
        columns.append("reason")
    shown = board[columns] if top <= 0 else board[columns].head(top)
    shown = shown.assign(**{c: shown[c].astype(str).str.slice(0, 70) for c in columns if c == "reason"})
    text = shown.to_string(index=False)
    if 0 < top < len(board):
        text += f"\n... {len(board) - top} more trials ({show_all} shows all)"
    if "significant" in board.columns and board["significant"].notna().any():
        row = board[board["significant"].notna()].iloc[0]
        verdict = "significantly better than" if bool(row["significant"]) else "not significantly better than"
        text += f"\n#1 is {verdict} #2 (paired t-test over the folds, corrected for overlap: p = {row['p_vs_next']:.3g})"
    return text
