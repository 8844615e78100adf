"""Summarise accuracy CSVs (complete or partial): tables, a plot and one line per system.

    python -m benchmarks.report benchmarks/results/accuracy_*.csv [--out DIR]

Runs are grouped by (suite, budget, seed); each group is reported on its own. Within a group, for
every data set:

* a markdown table of the test scores (rows = data sets, columns = systems, the best in bold; a
  failed run shows ``ERROR``), then the wall-time (fit + predict, s) and peak-memory (MiB) tables;
* normalised score (BENCHMARKS.md): ``(s - s_base) / (s_best - s_base)``, where ``s_base`` is
  LightGBM defaults and ``s_best`` the best system of the run on that data set, clipped to [-1, 1].
  When LightGBM defaults is itself the best, systems equal to it get 1 and the others -1 (the limit
  of the formula, clipped). A failed run counts -1 and ranks last; data sets where LightGBM defaults
  failed or is missing are left out of the mean;
* rank among the systems of the group (1 = best, ties share the mean rank; equal only when the
  scores are equal);
* wins / ties / losses of each system against each peer, with the tie thresholds of BENCHMARKS.md
  (0.0005 AUC, 0.001 log loss, 0.1 % of the peer's RMSE). A failed run loses to a finished one;
  two failures are not counted.

A PNG per group (``matplotlib.figure.Figure``, Agg): left, each system's score relative to the best
system on each data set (score / best for AUC, best / score for losses: 1 = best); right, wall time
(log scale). :func:`report` returns the text and writes ``<stem>_<suite>_b<budget>_s<seed>.md`` and
``.png`` to the output folder.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

from benchmarks.tasks import GREATER_IS_BETTER, TIE_ABS, TIE_REL

BASELINE = "lightgbm_default"
FLOOR = 0.8  # left edge of the relative-score panel
ORDER = ("automl", "flaml", "optuna_lightgbm", "lightgbm_default", "histgb_default")


def fmt(value: object, digits: int | None = None) -> str:
    """A number for a table: 4 decimals below 100, 2 below 1000, thousands separators above."""
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(value):
        return "—"
    if digits is None:
        digits = 0 if abs(value) >= 1000 else 2 if abs(value) >= 100 else 4
    return f"{value:,.{digits}f}"


def read(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def _num(row: dict | None) -> float:
    if not row or row.get("error"):
        return math.nan
    try:
        return float(row.get("score") or "nan")
    except ValueError:
        return math.nan


def compare(metric: str, ours: float, ref: float) -> str:
    """``win`` / ``tie`` / ``loss`` of ``ours`` against ``ref`` (NaN = failed run), or ``""``."""
    if math.isnan(ours) and math.isnan(ref):
        return ""
    if math.isnan(ours):
        return "loss"
    if math.isnan(ref):
        return "win"
    tie = TIE_REL[metric] * abs(ref) if metric in TIE_REL else TIE_ABS[metric]
    if abs(ours - ref) < tie:
        return "tie"
    return "win" if (ours > ref) == GREATER_IS_BETTER[metric] else "loss"


def _norm(metric: str, s: float, base: float, best: float) -> float:
    if math.isnan(s):
        return -1.0
    if best == base:
        return 1.0 if s == best else -1.0
    return float(np.clip((s - base) / (best - base), -1.0, 1.0))


def _ranks(metric: str, scores: list[float]) -> list[float]:
    from scipy.stats import rankdata

    sign = -1.0 if GREATER_IS_BETTER[metric] else 1.0
    keyed = [sign * s if math.isfinite(s) else math.inf for s in scores]
    return list(rankdata(keyed, method="average"))


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def summarise(rows: list[dict], out_dir: Path | None = None, stem: str = "report") -> str:
    """The report of one (suite, budget, seed) group as markdown text (and a PNG in ``out_dir``)."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    present = set(r["system"] for r in rows)
    systems = [s for s in ORDER if s in present] + sorted(present - set(ORDER))
    by = {(r["dataset"], r["system"]): r for r in rows}  # the last run wins on duplicates
    metric_of = {r["dataset"]: r["metric"] for r in rows}
    lines: list[str] = []
    score_rows, wall_rows, mem_rows = [], [], []
    norm: dict[str, list[float]] = {s: [] for s in systems}
    rank: dict[str, list[float]] = {s: [] for s in systems}
    wtl = {(a, b): {"win": 0, "tie": 0, "loss": 0} for a in systems for b in systems if a != b}
    relative: dict[str, dict[str, float]] = {s: {} for s in systems}
    walls: dict[str, dict[str, float]] = {s: {} for s in systems}
    for name in datasets:
        metric = metric_of[name]
        scores = [_num(by.get((name, s))) for s in systems]
        finite = [v for v in scores if math.isfinite(v)]
        best = (max(finite) if GREATER_IS_BETTER[metric] else min(finite)) if finite else math.nan
        cells = [name, f"{metric} {'↑' if GREATER_IS_BETTER[metric] else '↓'}"]
        for s, v in zip(systems, scores):
            row = by.get((name, s))
            text = "—" if row is None else "ERROR" if row.get("error") else fmt(v)
            cells.append(f"**{text}**" if math.isfinite(v) and v == best else text)
        score_rows.append(cells)
        wall_rows.append([name] + [fmt(by.get((name, s), {}).get("wall_s"), 1) for s in systems])
        mem_rows.append([name] + [fmt(by.get((name, s), {}).get("peak_rss_mib"), 0) for s in systems])
        complete = all((name, s) in by for s in systems)
        base = scores[systems.index(BASELINE)] if BASELINE in systems else math.nan
        for s, v in zip(systems, scores):
            if (name, s) not in by:
                continue
            relative[s][name] = (v / best if GREATER_IS_BETTER[metric] else best / v) if math.isfinite(v) else math.nan
            try:
                walls[s][name] = float(by[(name, s)].get("wall_s") or "nan")
            except ValueError:
                walls[s][name] = math.nan
            if math.isfinite(base) and complete:
                norm[s].append(_norm(metric, v, base, best))
        if complete:
            for s, r in zip(systems, _ranks(metric, scores)):
                rank[s].append(r)
        for i, a in enumerate(systems):
            for j, b in enumerate(systems):
                if i != j and (name, a) in by and (name, b) in by:
                    word = compare(metric, scores[i], scores[j])
                    if word:
                        wtl[(a, b)][word] += 1
    mean_norm = [fmt(np.mean(norm[s]), 2) if norm[s] else "—" for s in systems]
    mean_rank = [fmt(np.mean(rank[s]), 2) if rank[s] else "—" for s in systems]
    score_rows.append(["**mean normalised**", ""] + mean_norm)
    score_rows.append([f"**mean rank (of {len(systems)})**", ""] + mean_rank)
    lines += ["Test score (best in bold):", ""] + _table(["data set", "metric"] + systems, score_rows)
    lines += ["", "Wall time, fit + predict (s):", ""] + _table(["data set"] + systems, wall_rows)
    lines += ["", "Peak resident memory of the run's process (MiB):", ""] + _table(["data set"] + systems, mem_rows)
    n_full = len(next(iter(rank.values()))) if rank else 0
    lines += ["", f"Summary ({len(datasets)} data sets, {n_full} with every system; normalised: 1 = best of "
              f"the run, 0 = {BASELINE}):"]
    for s, mn, mr in zip(systems, mean_norm, mean_rank):
        versus = ", ".join(f"vs {b} {w['win']}/{w['tie']}/{w['loss']}" for (a, b), w in wtl.items() if a == s)
        lines.append(f"- {s}: mean normalised {mn}, mean rank {mr}; W/T/L {versus}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        png = out_dir / f"{stem}.png"
        plot(datasets, systems, relative, walls, png, title=stem)
        lines += ["", f"Plot: {png}"]
        (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "\n".join(lines)


def plot(datasets: list[str], systems: list[str], relative: dict, walls: dict, path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 0.5 * len(datasets) + 2.2))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(datasets))
    height = 0.8 / max(len(systems), 1)
    lows = [v for s in systems for v in relative[s].values() if math.isfinite(v)]
    edge = max(min(lows, default=FLOOR) - 0.005, FLOOR)
    for k, s in enumerate(systems):
        rel = np.array([relative[s].get(d, math.nan) for d in datasets], dtype=float)
        wall = np.array([walls[s].get(d, math.nan) for d in datasets], dtype=float)
        offset = y - 0.4 + height * (k + 0.5)
        left.barh(offset, np.nan_to_num(rel, nan=0.0), height=height, label=s)
        right.barh(offset, np.nan_to_num(wall, nan=0.0), height=height, label=s)
        for yy, value in zip(offset, rel):  # bars cut at the axis edge carry their value
            if not math.isfinite(value) or value < edge:
                text = f" {value:.2f}" if math.isfinite(value) else " failed / missing"
                left.text(edge, yy, text, va="center", fontsize="x-small")
    left.set_xlim(edge, 1.002)
    left.set_yticks(y, datasets)
    left.invert_yaxis()
    left.set_xlabel("score relative to the best system (1 = best; score/best for AUC, best/score for losses)")
    right.set_xscale("log")
    right.set_xlabel("wall time, fit + predict (s, log scale)")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(systems), fontsize="small", frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)


def read_labelled(specs: list[str | Path]) -> list[dict]:
    """Rows of the CSVs; a spec ``PATH::old=new[,old2=new2,kept]`` keeps only those systems of PATH,
    renamed where a new name is given (e.g. an earlier commit's ``automl`` as ``automl_before``, beside this run's)."""
    rows: list[dict] = []
    for spec in specs:
        path, _, mapping = str(spec).partition("::")
        names = {old: new or old for old, _, new in (pair.partition("=") for pair in mapping.split(",") if pair)}
        for row in read([Path(path)]):
            if names and row.get("system") not in names:
                continue
            rows.append({**row, "system": names.get(row.get("system"), row.get("system"))})
    return rows


def report(paths: list, out_dir: Path | None = None, stem: str = "accuracy") -> str:
    """Reports of every (suite, budget, seed) group found in the CSVs ``paths`` (see :func:`read_labelled`)."""
    rows = read_labelled(list(paths))
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        key = (row.get("suite") or "suite", f"{float(row.get('budget_s') or 'nan'):g}", row.get("seed") or "0")
        groups.setdefault(key, []).append(row)
    texts = []
    for (suite, budget, seed), group in groups.items():
        head = f"## suite {suite}, budget {budget} s, seed {seed}, n_jobs=1 ({len(group)} runs)"
        texts.append(head + "\n\n" + summarise(group, out_dir, f"{stem}_{suite}_b{budget}_s{seed}"))
    return "\n\n".join(texts) if texts else "no runs in the CSV"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarise accuracy CSVs: tables, plot, summary lines.")
    parser.add_argument(
        "csv", nargs="+",
        help="accuracy CSV(s) from benchmarks.accuracy (complete or partial); PATH::automl=automl_before keeps "
             "only that system of PATH, under the new name (before/after tables across commits)",
    )
    parser.add_argument("--out", default=None, help="folder for the .md and .png (default: next to the first CSV)")
    parser.add_argument("--stem", default=None, help="file-name stem (default: the first CSV's name)")
    args = parser.parse_args(argv)
    first = Path(args.csv[0].partition("::")[0])
    print(report(args.csv, Path(args.out) if args.out else first.parent, args.stem or first.stem))


if __name__ == "__main__":
    main()
