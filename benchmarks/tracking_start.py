"""Short tracked fits from outside: does a fit whose MLflow store must first be opened (or created) still get a model?

Each fit runs ``automl.fit`` on scikit-learn's breast-cancer frame in a fresh interpreter (so importing MLflow is
paid as a user pays it), with a wall clock around the call, for each budget and each store: ``new`` (a SQLite
file that does not exist yet: its tables are created), ``existing`` (the same file again) and ``off`` (no
tracking). ``--code DIR`` runs another checkout's ``automl`` (a worktree of an earlier commit) beside this one,
so that two versions are measured in the same run. Pin it to one core with ``taskset``.

Usage:
    taskset -c 0 python -m benchmarks.tracking_start --budgets 3,5 --repeats 3 --code ../wt/old --code .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
start = time.monotonic()
import automl
from sklearn.datasets import load_breast_cancer
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
budget, uri = float(sys.argv[1]), sys.argv[2]
kwargs = {"tracking": False} if uri == "off" else {"tracking_uri": uri}
began = time.monotonic()
try:
    model = automl.fit(X.assign(target=y), target="target", time_budget=budget, **kwargs)
    out = {"model": True, "trials": int((model.leaderboard()["state"] == "complete").sum()),
           "run": getattr(model, "tracking_run_id_", None) is not None}
except automl.AutoMLError as exc:
    out = {"model": False, "error": type(exc).__name__, "why": str(exc)[-300:]}
out.update(wall=time.monotonic() - began, with_import=time.monotonic() - start)
out["automl"] = automl.__file__
print(json.dumps(out))
"""


def _fit(code: Path, budget: float, uri: str, folder: str) -> dict:
    # Run in ``folder`` (the store's), not here: ``python -c`` puts its working folder first on the path, before
    # PYTHONPATH, and this checkout's automl would be the one imported.
    env = dict(os.environ, PYTHONPATH=str(code.resolve()))
    done = subprocess.run([sys.executable, "-c", CHILD, str(budget), uri], capture_output=True, text=True, env=env,
                          timeout=600, cwd=folder)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"model": False, "error": f"exit {done.returncode}: {done.stderr.strip()[-200:]}"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="3,4,5")
    parser.add_argument("--code", action="append", default=None, help="a checkout to run (repeatable; default .)")
    parser.add_argument("--repeats", type=int, default=1, help="each budget and checkout this many times")
    args = parser.parse_args(argv)
    codes = [Path(c) for c in (args.code or ["."])]
    print("| code | budget (s) | repeat | store | model | complete trials | MLflow run | wall (s) | limit (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for budget, repeat in ((float(b), r) for b in args.budgets.split(",") for r in range(args.repeats)):
        for code in codes:
            with tempfile.TemporaryDirectory() as tmp:
                uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
                for store, target in (("new", uri), ("existing", uri), ("off", "off")):
                    out = _fit(code, budget, target, tmp)
                    if out.get("automl") and not out["automl"].startswith(str(code.resolve())):
                        raise SystemExit(f"{code}: the fit imported {out['automl']}")
                    print(f"| {code} | {budget:g} | {repeat} | {store} | {'yes' if out['model'] else out.get('error')} | "
                          f"{out.get('trials', '')} | {'yes' if out.get('run') else 'no'} | "
                          f"{out.get('wall', float('nan')):.1f} | {budget * 1.1 + 10:.1f} |", flush=True)
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
