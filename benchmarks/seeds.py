"""The issue's goal over outer seeds: each system's score averaged over the seeds, per data set.

    python -m benchmarks.seeds benchmarks/suite_runs/b60_seed*.csv [--ours automl --peer autogluon]

Reads accuracy CSVs (:mod:`benchmarks.accuracy`'s output, one or more runs; the columns used are
``dataset``, ``metric``, ``system``, ``seed`` and ``score``) of one budget and prints, per data set, each
system's mean over the seeds, ``--ours`` against ``--peer`` on those means (the tie thresholds of
BENCHMARKS.md) and how far ``--ours`` is behind the best other system, in per cent of its score, against
the issue's limits (0.5 % AUC, 1 % log loss, 1 % RMSE). A data set missing from a seed is averaged over
the seeds it has; the seeds of each data set are listed.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.report import compare, read
from benchmarks.tasks import GREATER_IS_BETTER, relative_gain

#: How far behind the best other system the issue allows, in per cent of its score.
LIMIT_PERCENT = {"roc_auc": 0.5, "log_loss": 1.0, "rmse": 1.0}


def means(rows: list[dict]) -> tuple[dict, dict, dict]:
    """``(scores, metrics, seeds)``: ``scores[dataset][system]`` = mean over seeds (failed runs left out)."""
    values: dict = defaultdict(lambda: defaultdict(list))
    metrics, seeds = {}, defaultdict(set)
    for row in rows:
        if row.get("error") or not row.get("score"):
            continue
        values[row["dataset"]][row["system"]].append(float(row["score"]))
        metrics[row["dataset"]] = row["metric"]
        seeds[row["dataset"]].add(str(row["seed"]))
    scores = {d: {s: float(np.mean(v)) for s, v in by.items()} for d, by in values.items()}
    return scores, metrics, seeds


def behind_percent(metric: str, ours: float, best: float) -> float:
    """How far ``ours`` is behind ``best``, in per cent of ``best`` (negative: ahead)."""
    return -100.0 * relative_gain(metric, ours, best)


def summary(rows: list[dict], ours: str = "automl", peer: str = "autogluon") -> str:
    """The per-data-set table and the goal's counts, as markdown."""
    scores, metrics, seeds = means(rows)
    systems = sorted({s for by in scores.values() for s in by}, key=lambda s: (s != ours, s != peer, s))
    lines = ["| data set | metric | seeds | " + " | ".join(systems) + f" | {ours} vs {peer} | behind the best other |",
             "|---" * (len(systems) + 5) + "|"]
    verdicts, over = [], []
    for dataset, by in scores.items():
        metric = metrics[dataset]
        verdict = compare(metric, by.get(ours, math.nan), by.get(peer, math.nan))
        verdicts.append(verdict)
        others = [(v, s) for s, v in by.items() if s != ours]
        best_value, best_system = (max if GREATER_IS_BETTER[metric] else min)(others)
        behind = behind_percent(metric, by.get(ours, math.nan), best_value)
        if behind > LIMIT_PERCENT[metric]:
            over.append(f"{dataset} ({behind:.2f} % behind {best_system})")
        cells = " | ".join(f"{by[s]:.5g}" if s in by else "–" for s in systems)
        lines.append(f"| {dataset} | {metric} | {','.join(sorted(seeds[dataset]))} | {cells} | {verdict} | "
                     f"{behind:+.2f} % ({best_system}) |")
    lines += ["", f"{ours} against {peer} on the means: {verdicts.count('win')} wins, {verdicts.count('tie')} ties, "
              f"{verdicts.count('loss')} losses of {len(verdicts)}",
              "beyond the limits (0.5 % AUC, 1 % log loss, 1 % RMSE behind the best other system): "
              + ("; ".join(over) or "none")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csvs", nargs="+", type=Path)
    parser.add_argument("--ours", default="automl")
    parser.add_argument("--peer", default="autogluon")
    args = parser.parse_args(argv)
    print(summary(read(args.csvs), args.ours, args.peer))


if __name__ == "__main__":
    main()
