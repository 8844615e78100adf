"""Workers benchmark: trials per minute with 1, 2 and 4 processes on one study, per store.

Data: a synthetic binary frame (``make_classification``, ``--rows`` 500 x 10 numeric columns, seed 0)
written to a CSV. Search: family ``linear`` (the fast one), 5-fold CV, ``pruner: none``, ``n_jobs: 1``,
tracking off, a ``--budget`` (default 30 s) per run. Stores: ``journal`` (the embedded default, a
journal file with heartbeats), ``sqlite`` (one SQLite file) and ``postgresql`` (a throw-away local
server from the Debian package, started as in the tests, or ``--postgres-url``). For each store and
each worker count W, the main process is ``automl sweep`` and W - 1 ``automl worker`` processes join
at the same moment; all run on this host (``--cpus``, default all, via taskset).

Measured from the study after the run (so start-up and imports are not counted):

    trials/min = completed trials / (last datetime_complete - first datetime_start) * 60

Storage overhead per trial (1 worker): the median wall time per completed trial with the store
minus the same figure for an in-memory study (``automl fit`` without a study name, measured in the
same run the same way), i.e. what the store's reads and writes (ask, user attributes, the surplus
check, heartbeats, tell) add to each trial.

    python -m benchmarks.workers --budget 30 --workers 1,2,4 --stores journal,sqlite,postgresql

``--stores`` also takes ``journal+postgresql`` (Optuna's journal in a PostgreSQL table), and
``--family busy`` replaces ``linear`` with a family that keeps one core busy for 0.2 s a fit (5-fold
trials of 1 s of CPU: ``benchmarks/chatty_families.py``), for the parallel efficiency of 1 s trials:

    python -m benchmarks.workers --budget 60 --workers 1,2 --stores journal,postgresql,journal+postgresql --family busy
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.tasks import REPO_ROOT, write_rows

SCRIPT = str(Path(sys.executable).with_name("automl"))
FIELDS = ["store", "workers", "budget_s", "complete", "pruned", "failed", "window_s", "trials_per_min",
          "median_trial_ms", "distinct_workers", "errors"]


def write_data(folder: Path, rows: int) -> None:
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=10, n_informative=5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["target"] = y
    frame.to_csv(folder / "train.csv", index=False)


#: ``--family busy``: the processes register the benchmark's CPU-bound family first (a 5-fold trial of 1 s).
LAUNCH_BUSY = ("import sys; from automl.families import register_family; "
               "register_family('busy', 'benchmarks.chatty_families:BUSY'); "
               "from automl.cli import main; sys.exit(main(sys.argv[1:]))")
FAMILY = {"name": "linear"}


def sweep_file(folder: Path, storage: str | None, budget: float, study: str) -> Path:
    lines = ["data: train.csv", "target: target", f"families: [{FAMILY['name']}]", "cv: 5", "pruner: none",
             "n_jobs: 1", "tracking: false", "seed: 0", f"time_budget: {budget}"]
    if FAMILY["name"] == "busy":
        lines.append("search_space: {busy: {seconds: 0.2}}")
    if storage is not None:
        lines += [f"study_name: {study}", f"storage: {storage}"]
    path = folder / f"{study}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def store_url(store: str, folder: Path, name: str, servers: list, postgres_url: str | None = None) -> str:
    """Where a run on ``store`` keeps its study: ``name``.journal or ``name``.db in ``folder``; else a new
    database of the server at ``postgres_url`` (the same one each run) or of a local server started once and
    kept in ``servers`` (the caller stops it), as Optuna's RDB tables or, for ``journal+postgresql``, a journal."""
    if store == "journal":
        return str(folder / f"{name}.journal")
    if store == "sqlite":
        return f"sqlite:///{folder / f'{name}.db'}"
    if postgres_url is None and not servers:
        sys.path.insert(0, str(REPO_ROOT))
        from tests.services import PostgresServer

        servers.append(PostgresServer())
    base = postgres_url or servers[0].new_database()
    return "journal+" + base if store == "journal+postgresql" else base


def _command(args: list[str], cpus: str | None) -> list[str]:
    command = [sys.executable, "-c", LAUNCH_BUSY, *args] if FAMILY["name"] == "busy" else [SCRIPT, *args]
    return ["taskset", "-c", cpus, *command] if cpus else command


def measure(trials: list) -> dict:
    import optuna

    state = optuna.trial.TrialState
    complete = [t for t in trials if t.state == state.COMPLETE and t.datetime_start and t.datetime_complete]
    if not complete:
        return {"complete": 0, "window_s": 0.0, "trials_per_min": 0.0, "median_trial_ms": float("nan")}
    start = min(t.datetime_start for t in complete)
    end = max(t.datetime_complete for t in complete)
    window = (end - start).total_seconds()
    ordered = sorted(t.datetime_complete for t in complete)
    gaps = [(b - a).total_seconds() * 1000 for a, b in zip([start, *ordered[:-1]], ordered)]
    return {
        "complete": len(complete),
        "pruned": sum(t.state == state.PRUNED for t in trials),
        "failed": sum(t.state == state.FAIL for t in trials),
        "window_s": round(window, 2),
        "trials_per_min": round(len(complete) / window * 60, 1) if window > 0 else float("nan"),
        "median_trial_ms": round(float(np.median(gaps)), 2),
        "distinct_workers": len({t.user_attrs.get("automl:worker", "") for t in complete}),
    }


def run_memory(folder: Path, budget: float, cpus: str | None) -> dict:
    """One in-memory run in a child process; its trials come back through a pickle."""
    out = folder / "memory.pkl"
    space = "{'busy': {'seconds': 0.2}}" if FAMILY["name"] == "busy" else "None"
    code = (
        "import pickle, pandas as pd, automl\n"
        "from automl.families import register_family\n"
        "register_family('busy', 'benchmarks.chatty_families:BUSY')\n"
        f"m = automl.fit(pd.read_csv({str(folder / 'train.csv')!r}), target='target', families=[{FAMILY['name']!r}],"
        f" cv=5, pruner='none', n_jobs=1, tracking=False, seed=0, time_budget={budget}, search_space={space})\n"
        f"pickle.dump(m.study_.trials, open({str(out)!r}, 'wb'))\n"
    )
    command = [sys.executable, "-c", code]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    subprocess.run(command, check=True, cwd=folder, env=_env(), capture_output=True, timeout=budget * 3 + 120)
    import pickle

    with open(out, "rb") as handle:
        return measure(pickle.load(handle))


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), AUTOML_TRACKING="0")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def run_store(folder: Path, store: str, url: str, workers: int, budget: float, cpus: str | None) -> dict:
    study = f"{store}-{workers}"
    path = sweep_file(folder, url, budget, study)
    processes = [subprocess.Popen(_command(["sweep", str(path)], cpus), cwd=folder, env=_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    processes += [
        subprocess.Popen(_command(["worker", "--study", study, "--storage", url], cpus), cwd=folder, env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(workers - 1)
    ]
    errors = []
    for process in processes:
        out, err = process.communicate(timeout=budget * 3 + 180)
        if process.returncode != 0 or "Traceback" in err or "locked" in err:
            errors.append(f"rc={process.returncode}: {err.strip()[-300:]}")
    import optuna

    from automl.search.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    trials = optuna.load_study(study_name=study, storage=open_storage(url, study)).get_trials()
    return {"store": store, "workers": workers, "budget_s": budget, **measure(trials), "errors": " | ".join(errors)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per run (default 30)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--stores", default="journal,sqlite,postgresql",
                        help="comma-separated: journal, sqlite, postgresql, journal+postgresql")
    parser.add_argument("--family", choices=["linear", "busy"], default="linear",
                        help="linear (fast trials, ~80 ms) or busy (1 s of CPU a trial)")
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--cpus", help="taskset CPU list for every process (default: all)")
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database (default: start a local server)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "workers.csv"))
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    FAMILY["name"] = args.family
    stores = args.stores.split(",")
    servers: list = []
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="automl-workers-") as tmp:
        folder = Path(tmp)
        write_data(folder, args.rows)
        memory = run_memory(folder, args.budget, args.cpus)
        rows.append({"store": "memory", "workers": 1, "budget_s": args.budget, **memory, "errors": ""})
        print(f"memory  1 worker : {memory['trials_per_min']:8.1f} trials/min, median {memory['median_trial_ms']} ms",
              flush=True)
        try:
            for store in stores:
                for workers in counts:
                    url = store_url(store, folder, f"studies-{workers}", servers, args.postgres_url)
                    row = run_store(folder, store, url, workers, args.budget, args.cpus)
                    rows.append(row)
                    print(f"{store:10s} {workers} worker(s): {row['trials_per_min']:8.1f} trials/min, "
                          f"median {row['median_trial_ms']} ms, {row['complete']} complete "
                          f"by {row.get('distinct_workers')} processes {row['errors']}", flush=True)
        finally:
            for server in servers:
                server.stop()
    base = memory["median_trial_ms"]
    print(f"\nstorage overhead per trial (1 worker, median wall per trial minus in-memory {base} ms):")
    for row in rows:
        if row["workers"] == 1 and row["store"] != "memory":
            print(f"  {row['store']:10s} {row['median_trial_ms'] - base:+.2f} ms")
    print("\nspeed-up over 1 worker (trials/min):")
    for store in stores:
        one = next(r["trials_per_min"] for r in rows if r["store"] == store and r["workers"] == counts[0])
        print("  " + store.ljust(10) + "  ".join(
            f"{r['workers']}: {r['trials_per_min'] / one:.2f}x" for r in rows if r["store"] == store))
    write_rows(args.out, FIELDS, rows)
    print(f"\n{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs; results in {args.out}")


if __name__ == "__main__":
    main()
