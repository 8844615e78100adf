"""Storage benchmark: the latency of one trial's store traffic with 1, 4, 8 and 16 processes on one study.

Each process opens the study the way automl does (:func:`automl.search.storage.open_study`: heartbeats
on) and runs cycles of what a trial of automl asks of its store, with a no-op objective:

    ask -> 5 parameters (a family and 4 of its own) -> the start record (process, parameters)
        -> the result record (fold scores, times, refit hints) -> tell

(the records through :class:`automl.search.trial_record.TrialWriter`, as the search writes them).
The sampler is Optuna's ``RandomSampler``, so the figures are the store's and not the sampler's
(TPE's own work grows with the study). All processes start together (a barrier) and run for
``--seconds``; the first 3 cycles of each are left out (connections, imports). Reported per store
and process count: p50 and p99 of the cycle's wall time, and cycles per second over all processes.

Stores: ``journal`` (a journal file, the embedded default), ``postgresql`` (Optuna's RDB storage),
``journal+postgresql`` (Optuna's journal in a PostgreSQL table, :mod:`automl.search.pg_journal`) and
``sqlite``. PostgreSQL is a throw-away local server (the tests' :class:`tests.services.PostgresServer`)
unless ``--postgres-url`` names an empty database.

    python -m benchmarks.storage --processes 1,4,8,16 --stores journal,postgresql,journal+postgresql --seconds 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from benchmarks.tasks import REPO_ROOT, write_rows
from benchmarks.workers import store_url

FIELDS = ["store", "processes", "cycles", "p50_ms", "p99_ms", "cycles_per_s", "errors"]
WARM_UP = 3


class _Result:
    """A stand-in for a finished cross-validation (what ``TrialWriter.result`` records)."""

    fold_scores = {"roc_auc": [0.91, 0.92, 0.9, 0.93, 0.92]}
    fit_time = 0.5
    predict_time = 0.05
    refit_hints = [{"n_estimators": 120}] * 5
    fraction = 1.0
    curves: dict = {}


def _cycles(url: str, seconds: float, start: object, out: object) -> None:  # a spawned process
    import optuna

    from automl.search.storage import open_study
    from automl.search.trial_record import TrialWriter

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study, _ = open_study(url, "bench", direction="maximize", sampler=optuna.samplers.RandomSampler())
        start.wait()  # type: ignore[attr-defined]
        end = time.monotonic() + seconds
        times = []
        while time.monotonic() < end:
            began = time.perf_counter()
            trial = study.ask()
            trial.suggest_categorical("family", ["linear", "lightgbm"])
            params = {f"p{i}": trial.suggest_float(f"p{i}", 0.0, 1.0) for i in range(4)}
            writer = TrialWriter(trial)
            writer.started(params)
            writer.result(_Result())
            study.tell(trial, 0.5)
            times.append(time.perf_counter() - began)
        out.put((times[WARM_UP:], ""))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - reported in the table
        out.put(([], f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]


def run(url: str, processes: int, seconds: float) -> dict:
    import optuna

    from automl.search.storage import open_study

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    open_study(url, "bench", direction="maximize")  # created once; the processes load it
    context = multiprocessing.get_context("spawn")
    start, out = context.Event(), context.Queue()
    workers = [context.Process(target=_cycles, args=(url, seconds, start, out)) for _ in range(processes)]
    for w in workers:
        w.start()
    time.sleep(3.0 + 0.5 * processes)  # imports and the first connection, before the barrier opens
    start.set()
    results = [out.get(timeout=seconds + 300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    times = np.array([t for r in results for t in r[0]]) * 1000
    errors = " | ".join(sorted({r[1] for r in results if r[1]}))
    if not len(times):
        return {"processes": processes, "cycles": 0, "errors": errors}
    return {"processes": processes, "cycles": len(times), "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p99_ms": round(float(np.percentile(times, 99)), 2), "cycles_per_s": round(len(times) / seconds, 1),
            "errors": errors}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,4,8,16")
    parser.add_argument("--stores", default="journal,postgresql,journal+postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--postgres-url", help="an empty PostgreSQL database (default: start a local server)")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "storage.csv"))
    args = parser.parse_args(argv)
    servers: list = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="automl-storage-") as tmp:
        try:
            for store in args.stores.split(","):
                for n in (int(p) for p in args.processes.split(",")):
                    url = store_url(store, Path(tmp), f"bench-{n}", servers, args.postgres_url)
                    row = {"store": store, **run(url, n, args.seconds)}
                    rows.append(row)
                    print(f"{store:19s} {n:2d} processes: p50 {row.get('p50_ms', float('nan')):7.2f} ms  "
                          f"p99 {row.get('p99_ms', float('nan')):8.2f} ms  {row.get('cycles_per_s', 0):7.1f} cycles/s  "
                          f"{row['errors']}", flush=True)
        finally:
            for server in servers:
                server.stop()
    write_rows(args.out, FIELDS, rows)
    print(f"\n{datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs; results in {args.out}")


if __name__ == "__main__":
    main()
