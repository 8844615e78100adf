"""automl inside scikit-learn, as its users call it: estimator checks, meta-estimators, what is left behind.

``python -m benchmarks.sklearn_clients checks`` counts scikit-learn's ``check_estimator`` results for both
estimators, with the test suite's fast settings (``fast``: one linear trial, in-process, ``KFold(2)``) and
with plain settings (``plain``: one linear trial, every other setting at its default).

``python -m benchmarks.sklearn_clients meta`` times a 3-fold ``cross_val_score`` and a 2x2
``GridSearchCV`` (``n_jobs=1`` and ``n_jobs=2``) of ``AutoMLClassifier(n_trials=2, families=["linear"])``
with every other setting at its default, in an empty folder with ``MLFLOW_TRACKING_URI`` pointing at a
fresh SQLite store, and reports the scores, the wall time, the MLflow runs and the files left behind.
Run it with ``--code DIR`` to measure another checkout (e.g. ``git worktree add /tmp/before <commit>``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECKS = """
import collections, json, sys, warnings
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import check_estimator
import automl
SETTINGS = {"fast": dict(n_trials=1, families=["linear"], cv=KFold(2, shuffle=True, random_state=0), tracking=False,
                         isolation="none", ensemble=False, n_jobs=1),
            "plain": dict(n_trials=1, families=["linear"])}
out = {}
for mode, params in SETTINGS.items():
    for cls in (automl.AutoMLClassifier, automl.AutoMLRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(cls(**params), on_fail=None)
        counts = collections.Counter(r["status"] for r in results)
        failed = sorted({r["check_name"] for r in results if r["status"] == "failed"})
        out[f"{mode} {cls.__name__}"] = {"passed": counts.get("passed", 0), "failed": counts.get("failed", 0),
                                         "skipped": counts.get("skipped", 0), "failing checks": failed}
print(json.dumps(out))
"""

META = """
import json, os, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, cross_val_score
import automl
X, y = make_classification(300, 6, n_informative=4, random_state=0)
X = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
out = {}
for n_jobs in (1, 2):
    est = automl.AutoMLClassifier(n_trials=2, families=["linear"])
    start = time.monotonic()
    try:
        scores = cross_val_score(est, X, y, cv=3, n_jobs=n_jobs)
        out[f"cross_val_score n_jobs={n_jobs}"] = {"scores": [round(float(s), 4) for s in scores],
                                                   "seconds": round(time.monotonic() - start, 1)}
    except Exception as exc:
        out[f"cross_val_score n_jobs={n_jobs}"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}",
                                                   "seconds": round(time.monotonic() - start, 1)}
    start = time.monotonic()
    try:
        grid = GridSearchCV(est, {"n_trials": [1, 2], "ensemble": [False, True]}, cv=2, n_jobs=n_jobs).fit(X, y)
        out[f"GridSearchCV n_jobs={n_jobs}"] = {"best_score": round(float(grid.best_score_), 4),
                                                "seconds": round(time.monotonic() - start, 1)}
    except Exception as exc:
        out[f"GridSearchCV n_jobs={n_jobs}"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}",
                                                "seconds": round(time.monotonic() - start, 1)}
print(json.dumps(out))
"""


def _python(code: str, src: Path, cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, **env, "PYTHONPATH": str(src)})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _left_behind(folder: Path, store: Path) -> dict:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    runs = sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments())
    models = len(client.search_registered_models())
    return {"mlflow runs": runs, "registered models": models, "files in the folder": sorted(os.listdir(folder))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["checks", "meta"])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work, store = Path(tmp) / "work", Path(tmp) / "mlflow.db"
        work.mkdir()
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
        result = _python(CHECKS if args.what == "checks" else META, args.code.resolve(), work, env)
        if args.what == "meta":
            result["left behind"] = _left_behind(work, store) if store.exists() else {
                "mlflow runs": 0, "files in the folder": sorted(os.listdir(work))}
    for key, value in result.items():
        print(f"{key}: {json.dumps(value)}")
    if args.what == "checks":
        counts = collections.Counter()
        for value in result.values():
            counts["failed"] += value["failed"]
        print(f"failed results in all: {counts['failed']}")


if __name__ == "__main__":
    main()
