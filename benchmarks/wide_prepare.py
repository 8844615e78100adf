"""What a fit pays before its search on wide tables: does it grow with the columns, or with their square?

For each column count in ``--columns`` (default 1000,3000,10000), a fresh child interpreter (``--pin CPU``, BLAS
threads 1) builds :func:`benchmarks.shapes.wide_frame` (300 rows) and times, with its own clock, the whole of
``automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, isolation="none", tracking=False)``: one ridge
trial on two folds and its refit, so nearly all of it is validation, screening and the schema. Reported: the wall,
the seconds per 1,000 columns, and the ratio of the last count's wall to the first's against the columns' ratio (a
linear cost keeps them about equal). Before the thirty-ninth session a check compared every column's names with
every other's, and every column was converted to text to compare it with the target: 23.5 s at 10,000 columns, a
ratio of 16 for 10 x the columns; after, 4.6 s and 7.9 (benchmarks/README.md).

    python -m benchmarks.wide_prepare --pin 1
    python -m benchmarks.wide_prepare --pin 1 --code ../wt/old   # another version's automl
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks.tasks import REPO_ROOT

_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from benchmarks.shapes import wide_frame
import automl
frame = wide_frame(300, int(sys.argv[1]))
start = time.monotonic()
automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, isolation="none", tracking=False, seed=0)
print(json.dumps({"wall": time.monotonic() - start}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", default="1000,3000,10000")
    parser.add_argument("--pin", type=int, default=None)
    parser.add_argument("--code", help="a folder holding the automl package to time (default: this checkout's)")
    args = parser.parse_args(argv)
    paths = [args.code, str(REPO_ROOT)] if args.code else [str(REPO_ROOT)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), AUTOML_TRACKING="0", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    walls = []
    counts = [int(c) for c in args.columns.split(",")]
    for count in counts:
        command = [sys.executable, "-c", _CHILD, str(count)]
        if args.pin is not None:
            command = ["taskset", "-c", str(args.pin), *command]
        # ``python -c`` puts its working directory first on sys.path: run in the code's folder
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=args.code or REPO_ROOT, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        wall = json.loads(done.stdout.strip().splitlines()[-1])["wall"]
        walls.append(wall)
        print(f"{count:6d} columns: fit {wall:6.2f} s ({1000 * wall / count:.3f} s per 1,000 columns)", flush=True)
    print(f"wall ratio {walls[-1] / walls[0]:.1f} for {counts[-1] / counts[0]:.1f} x the columns")


if __name__ == "__main__":
    main()
