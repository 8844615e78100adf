"""A family slower than a short budget, then a cheap one: does the cheap one still give a model?

``time_budget=5``, ``families=["slow_refit", "linear"]``, 3 folds: every fold of ``slow_refit``
(benchmarks/shapes.py) sleeps 30 s, so its first trial is killed at its deadline, and the fit's model
must come from ``linear``'s defaults, in the time left. Each run is a fresh interpreter timed from
outside; every run is reported.

    python -m benchmarks.kill_then_next --runs 4 [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from automl.families import register_family
register_family("slow_refit", "benchmarks.shapes:SLOW_REFIT")
import automl
from benchmarks.shapes import linear_frame
frame = linear_frame(1500)
start = time.monotonic()
try:
    model = automl.fit(frame, target="y", time_budget=5, families=["slow_refit", "linear"], cv=3, tracking=False,
                       search_space={"slow_refit": {"fold_seconds": 30.0}})
    out = {"family": model.best_family_}
except automl.AutoMLError as exc:
    out = {"error": type(exc).__name__}
out["fit_seconds"] = round(time.monotonic() - start, 2)
print(json.dumps(out))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(args.code.resolve()))
    models = 0
    for run in range(args.runs):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300,
                              cwd=args.code)
        out = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"crash": done.stderr[-300:]}
        out["process_seconds"] = round(time.monotonic() - started, 2)
        models += out.get("family") == "linear"
        print(f"run {run + 1}: {json.dumps(out)}", flush=True)
    print(f"a model from the cheap family: {models}/{args.runs}")


if __name__ == "__main__":
    main()
