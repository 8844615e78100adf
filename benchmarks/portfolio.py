"""Issue 16, item 3: learn the first trials of a search (a zero-shot portfolio) on data outside both suites.

Two steps, each a subcommand; the CV results are kept in CSV files (``benchmarks/portfolio_cv/``, gzipped, one per shard, kept in the repository) so the selection can be rebuilt without
refitting, and the corpus or the candidates can grow later (``run`` skips what the CSV already has).

``run``: every candidate configuration on every table of :mod:`benchmarks.portfolio_corpus`, under the
same cross-validation a search uses (``Evaluator`` over ``make_cv_plan(FOLDS)``, seed 0, ``n_jobs=1``,
the frame as a search sees it), one row per (table, candidate) with its mean CV score and its fit time.
Tables above ``MAX_ROWS`` rows are subsampled (stratified for classes, seed 0) so that a table costs
minutes, not hours. The candidates of a task are the same on every table: each family's defaults, its
search-space file's portfolio entries (those copied from AutoGluon and FLAML), and ``RANDOM_DRAWS[family]``
configurations drawn uniformly from its space (Optuna's ``RandomSampler``, seed 0).

    python -m benchmarks.portfolio run [--tasks regression] [--shard 0/2]

``select``: per task, a greedy sequence of candidates (forward selection, as AutoGluon's and
auto-sklearn 2's portfolios are built, here inserting each pick where in the sequence it helps most). Each table's scores are normalised to 1 for its best
candidate and 0 for its median one (clipped at 0). A sequence is worth the mean, over tables and over
the time allowances ``ALLOWANCES``, of the best normalised score among its first candidates whose fit
times, added up in order, fit in the allowance. An allowance is a multiple of that table's
LightGBM-defaults CV time, so cost counts in the table's own units and a slow family (CatBoost on wide
categorical data) is placed where it pays for its time. Each step adds the candidate, at the place in
the sequence, that raises the worth most; the sequence ends at ``LENGTH`` entries or when nothing adds more than ``MIN_GAIN``. The
result is written to ``search_spaces/zero_shot/first_trials.yaml`` with its provenance; with ``--holdout K`` every
K-th table is left out of the selection and the sequence is scored on them, against the order of today's
family defaults.

    python -m benchmarks.portfolio select [--write] [--holdout 4]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from benchmarks.tasks import REPO_ROOT  # noqa: E402

FOLDS = 3
MAX_ROWS = 3000
SEED = 0
#: Random configurations drawn per family (besides its defaults and its file's portfolio).
RANDOM_DRAWS = {"lightgbm": 4, "xgboost": 2, "catboost": 1, "hist_gradient_boosting": 0, "random_forest": 1,
                "extra_trees": 1, "knn": 0, "linear": 0, "torch_mlp": 0}
#: Time allowances, in multiples of the table's LightGBM-defaults CV fit time.
ALLOWANCES = (4.0, 10.0, 25.0)
#: A candidate's CV stops at the largest allowance (it could count in none), but never before this (s).
MIN_CAP = 5.0
LENGTH = 12
MIN_GAIN = 1e-4
TASKS = ("binary", "multiclass", "regression")
RESULTS = REPO_ROOT / "benchmarks" / "portfolio_cv"  # kept in the repository: the selection rebuilds from it
OUTPUT = REPO_ROOT / "search_spaces" / "zero_shot" / "first_trials.yaml"
FIELDS = ["table", "task", "rows", "columns", "family", "candidate", "params", "metric", "score", "fit_time",
          "error"]


# -- candidates -------------------------------------------------------------------------------
def candidates(task: str) -> list[tuple[str, str, dict]]:
    """``(family, name, optuna_params)`` of every candidate of ``task``, the same on every table."""
    import optuna

    from automl.families.registry import available_families
    from automl.spaces import load_builtin_space
    from automl.spaces.portfolio import portfolio_trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    names = available_families(task, "table")
    assert names[0] == "lightgbm", "the LightGBM defaults come first: they set each table's unit of time"
    for family in names:
        if family not in RANDOM_DRAWS:
            continue
        space = load_builtin_space(family)
        out.append((family, "default", space.optuna_defaults()))
        out += [(family, f"file:{name}", params) for name, params in portfolio_trials(space, task)]
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SEED))
        for k in range(RANDOM_DRAWS[family]):
            trial = study.ask()
            space.suggest(trial)
            study.tell(trial, 0.0)
            out.append((family, f"random_{k}", dict(trial.params)))
    return out


# -- run --------------------------------------------------------------------------------------
def _frame(entry) -> tuple:
    """``(X, y, n_classes)`` of one corpus table as a search sees it, at most ``MAX_ROWS`` rows."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from automl.data import Schema
    from benchmarks.offsuite import load_frame

    frame = load_frame(entry)
    if len(frame) > MAX_ROWS:
        strat = frame[entry.target] if entry.task != "regression" else None
        frame, _ = train_test_split(frame, train_size=MAX_ROWS, random_state=SEED, stratify=strat)
        frame = frame.reset_index(drop=True)
    features = frame.drop(columns=entry.target)
    X = Schema.from_frame(features).transform(features, warn=False)
    if entry.task == "regression":
        return X, frame[entry.target].to_numpy(dtype=float), 0
    y = np.unique(frame[entry.target].to_numpy(), return_inverse=True)[1]
    return X, y, int(y.max()) + 1


def cv_setup(entry) -> tuple:
    """``(X, y, metric, evaluator)``: one table's frame (:func:`_frame`) and the cross-validation every
    candidate runs on it (``FOLDS`` folds, seed ``SEED``, one core, the task's default metric)."""
    from automl.evaluation import Evaluator, default_metric, make_cv_plan

    X, y, n_classes = _frame(entry)
    metric = default_metric(entry.task)
    splits = make_cv_plan(FOLDS, entry.task).splits(len(y), y, None)
    return X, y, metric, Evaluator([metric], splits, task=entry.task, n_classes=n_classes, seed=SEED, n_jobs=1)


def _evaluate(entry, cands: list, done: set, rows: list, out: Path) -> None:
    import numpy as np
    import optuna

    from automl.families.epochs import fit_deadline
    from automl.spaces import load_builtin_space

    X, y, metric, evaluator = cv_setup(entry)
    unit = None  # the LightGBM defaults' CV time on this table (the first candidate)
    for family, name, optuna_params in cands:
        if (entry.name, family, name) in done:
            continue
        record = {"table": entry.name, "task": entry.task, "rows": len(y), "columns": X.shape[1], "family": family,
                  "candidate": name, "params": json.dumps(optuna_params, sort_keys=True), "metric": metric.name,
                  "error": ""}
        try:
            params = load_builtin_space(family).suggest(optuna.trial.FixedTrial(optuna_params))
            cap = max(MIN_CAP, ALLOWANCES[-1] * unit) if unit else None
            started = time.perf_counter()
            with fit_deadline(None if cap is None else time.monotonic() + cap):
                result = evaluator.evaluate(family, params, X, y)
            spent = time.perf_counter() - started
            record["fit_time"] = round(spent, 3)
            if cap is not None and spent > cap:  # worth nothing within any allowance: not a choice here
                raise TimeoutError(f"over the time cap of {cap:.1f} s ({ALLOWANCES[-1]:g}x LightGBM's defaults)")
            record["score"] = float(np.mean(result.fold_scores[metric.name]))
            unit = unit or spent
        except Exception as exc:  # noqa: BLE001 - a failing candidate is recorded, never ends the run
            record["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(record)
        _write(out, rows)
        print(f"{entry.name:22s} {family}:{name:24s} {record.get('score', float('nan')):.5g} "
              f"{record.get('fit_time', 0):.1f}s {record['error'][:80]}", flush=True)


def run(args: argparse.Namespace) -> None:

    from benchmarks.portfolio_corpus import corpus_tasks

    index, count = (int(p) for p in args.shard.split("/"))
    folder = Path(args.results)
    out = folder / f"shard_{index}_of_{count}.csv.gz"
    rows = _read(out) if out.exists() else []
    done = {(r["table"], r["family"], r["candidate"]) for r in read_results(folder)}
    # the tasks interleaved (a partial run already covers every task), then every N-th for this shard
    chosen = [t for t in corpus_tasks() if not args.tasks or t.task in args.tasks.split(",")]
    by = {task: [t for t in chosen if t.task == task] for task in TASKS}
    mixed = [t for k in range(len(chosen)) for task in TASKS if k < len(by[task]) for t in [by[task][k]]]
    tasks = [t for i, t in enumerate(mixed) if i % count == index]
    by_task = {task: candidates(task) for task in TASKS}
    for entry in tasks:
        _evaluate(entry, by_task[entry.task], done, rows, out)


# -- select -----------------------------------------------------------------------------------
def _tables(rows: list[dict], task: str) -> dict[str, dict]:
    """``table -> {"norm": {candidate: normalised}, "cost": {candidate: fit s in LightGBM units}}``."""
    import numpy as np

    from automl.evaluation import default_metric

    greater = default_metric(task).greater_is_better
    by: dict[str, dict[str, tuple[float, float]]] = {}
    for r in rows:
        if r["task"] == task and not r["error"] and r.get("score") not in ("", None):
            by.setdefault(r["table"], {})[f"{r['family']}:{r['candidate']}"] = (float(r["score"]), float(r["fit_time"]))
    out = {}
    for table, got in by.items():
        unit = got.get("lightgbm:default", (0.0, 0.0))[1]
        if unit <= 0:
            continue
        scores = {c: (s if greater else -s) for c, (s, _) in got.items() if np.isfinite(s)}
        best, median = max(scores.values()), float(np.median(list(scores.values())))
        span = best - median
        if span <= 0:
            continue
        out[table] = {"norm": {c: max(0.0, (s - median) / span) for c, s in scores.items()},
                      "cost": {c: got[c][1] / unit for c in scores}}
    return out


def worth(sequence: list[str], tables: dict[str, dict]) -> float:
    """Mean over tables and allowances of the best normalised score the sequence reaches in time."""
    total = 0.0
    for table in tables.values():
        for allowance in ALLOWANCES:
            spent, best = 0.0, 0.0
            for cand in sequence:
                if cand not in table["norm"]:
                    continue
                spent += table["cost"][cand]
                if spent > allowance:
                    break
                best = max(best, table["norm"][cand])
            total += best
    return total / (len(tables) * len(ALLOWANCES)) if tables else 0.0


def greedy(tables: dict[str, dict]) -> list[tuple[str, float]]:
    """The greedy sequence: ``(candidate, worth of the sequence once it was added)``, in the sequence's order.

    Each step adds the candidate, at the position in the sequence, that raises the worth most (inserting,
    not only appending: a strong but slow configuration chosen early must not block a cheap one that fits
    the small allowances before it).
    """
    pool = sorted({c for t in tables.values() for c in t["norm"]})
    sequence: list[str] = []
    added: dict[str, float] = {}
    current = 0.0
    while len(sequence) < LENGTH:
        options = [(worth(sequence[:k] + [c] + sequence[k:], tables), -k, c)
                   for c in pool if c not in sequence for k in range(len(sequence) + 1)]
        if not options:
            break
        value, at, best = max(options)
        if value - current < MIN_GAIN:
            break
        sequence.insert(-at, best)
        added[best] = current = value
    return [(c, added[c]) for c in sequence]


def families_order(task: str) -> list[str]:
    """Today's first trials without the learned sequence: every family's defaults in the families' order,
    then the files' portfolios in turn (entry 1 of each family, then entry 2, ...)."""
    from automl.spaces.loader import builtin_family_order

    cands = candidates(task)
    order = builtin_family_order()
    ranked = sorted(cands, key=lambda c: order.index(c[0]) if c[0] in order else len(order))
    files = [[f"{f}:{n}" for f, n, _ in ranked if f == family and n.startswith("file:")] for family in order]
    out = [f"{f}:default" for f, n, _ in ranked if n == "default"]
    return out + [q[k] for k in range(max(map(len, files), default=0)) for q in files if k < len(q)]


def read_results(folder: Path) -> list[dict]:
    """Every row of every CSV in ``folder`` (the shards of ``run``)."""

    rows: list[dict] = []
    for path in sorted(Path(folder).glob("*.csv.gz")):
        rows += _read(path)
    return rows


def _read(path: Path) -> list[dict]:
    import csv
    import gzip

    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict]) -> None:
    """All ``rows`` to the gzipped CSV ``path`` (rewritten whole: a run stopped midway loses nothing)."""
    import csv
    import gzip

    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def select(args: argparse.Namespace) -> None:
    rows = read_results(Path(args.results))
    chosen: dict[str, list[tuple[str, float]]] = {}
    for task in TASKS:
        tables = _tables(rows, task)
        if not tables:
            continue
        if args.holdout:
            names = sorted(tables)
            held = {n: tables[n] for i, n in enumerate(names) if i % args.holdout == 0}
            train = {n: t for n, t in tables.items() if n not in held}
            seq = [c for c, _ in greedy(train)]
            print(f"{task}: learned on {len(train)} tables, scored on {len(held)} held out: learned "
                  f"{worth(seq, held):.4f}, family order {worth(families_order(task), held):.4f}")
        picks = greedy(tables)
        chosen[task] = picks
        print(f"{task} ({len(tables)} tables): family order {worth(families_order(task), tables):.4f}")
        for k, (cand, value) in enumerate(picks, 1):
            print(f"  {k:2d}. {cand:40s} worth {value:.4f}")
    if args.write:
        write_yaml(chosen, rows)


def write_yaml(chosen: dict[str, list[tuple[str, float]]], rows: list[dict]) -> None:
    """Write ``search_spaces/zero_shot/first_trials.yaml``: per task, the sequence with each entry's params and provenance."""
    import yaml

    OUTPUT.parent.mkdir(exist_ok=True)

    params = {f"{r['family']}:{r['candidate']}": json.loads(r["params"]) for r in rows}
    tables = {t: len({r["table"] for r in rows if r["task"] == t and not r["error"]}) for t in TASKS}
    doc: dict = {"tasks": {}}
    for task, picks in chosen.items():
        entries = []
        for cand, value in picks:
            family, name = cand.split(":", 1)
            prefix = f"{family}__"
            entries.append({"family": family, "name": name.replace("file:", ""),
                            "params": {k[len(prefix):]: _rounded(v) for k, v in params[cand].items()
                                       if k.startswith(prefix)},
                            "source": _source(name), "worth": round(value, 4)})
        doc["tasks"][task] = entries
    header = (
        "# Generated by `python -m benchmarks.portfolio select --write` from benchmarks/portfolio_cv/\n"
        "# (do not edit by hand; rebuild it). The first trials of a search, per task, learned off-suite:\n"
        f"# {FOLDS}-fold CV of every candidate on the benchmarks.portfolio_corpus tables "
        f"({', '.join(f'{n} {t}' for t, n in tables.items())}), greedy\n"
        f"# forward selection on the mean normalised score reached within {list(ALLOWANCES)} times each table's\n"
        "# LightGBM-defaults fit time. 'worth' is the sequence's worth once the entry was added (1 = every table's best\n"
        "# candidate at every allowance); 'params' leave out what takes the family's defaults.\n"
    )
    OUTPUT.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=110), encoding="utf-8")
    print(f"wrote {OUTPUT}")


def _rounded(value: object) -> object:
    """A float to 4 significant digits (the file stays readable; the CV ran the unrounded value)."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def _source(name: str) -> str:
    if name == "default":
        return "the family's defaults"
    if name.startswith("file:"):
        return f"the family's search-space portfolio entry {name[5:]!r}"
    return f"drawn uniformly from the family's search space (RandomSampler seed {SEED}, draw {name.split('_')[1]})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="cross-validate every candidate on the corpus (resumable)")
    r.add_argument("--tasks", default="")
    r.add_argument("--shard", default="0/1", help="I/N: the I-th of N interleaved parts of the corpus")
    r.add_argument("--results", default=str(RESULTS), help="folder of the shards' CSV files")
    s = sub.add_parser("select", help="greedy selection from the CV results")
    s.add_argument("--results", default=str(RESULTS), help="folder of the shards' CSV files")
    s.add_argument("--holdout", type=int, default=0, help="leave every K-th table out and score on them")
    s.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    (run if args.command == "run" else select)(args)


if __name__ == "__main__":
    main()
