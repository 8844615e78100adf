"""What the checks before a search cost on a tall frame: time and the memory they allocate beyond the frame.

A fresh pinned child (``--pin CPU``) builds a frame of ``--rows`` rows (default 1,000,000): 20 float and 5 integer
columns made at once, then 20 float columns added one at a time (pandas keeps those as separate blocks, so reading
them together copies them). It runs ``feature_problems`` and ``screen_features`` on it under ``tracemalloc`` (numpy
reports its buffers to it) and prints the seconds and the peak of memory allocated during the checks. Since the
fortieth session the plain numeric columns are checked in blocks of at most ``automl.data.blocks.CHUNK_CELLS``
cells; reading every block whole doubled the memory the checks took (benchmarks/README.md).

    python -m benchmarks.tall_checks --pin 1
    python -m benchmarks.tall_checks --pin 1 --code /tmp/oldcode   # another version's automl
"""

from __future__ import annotations

import argparse

from benchmarks.budget import CODE, run_child

_CHILD = """
import json, sys, time, tracemalloc, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
from automl.data.validation import feature_problems
from automl.data.screening import screen_features
rows = int(sys.argv[1])
rng = np.random.default_rng(0)
columns = {f"f{i}": rng.normal(size=rows) for i in range(20)}
columns.update({f"i{i}": rng.integers(0, 1000, rows) for i in range(5)})
X = pd.DataFrame(columns)
for i in range(20):
    X[f"g{i}"] = rng.normal(size=rows)
y = pd.Series(rng.normal(size=rows))
tracemalloc.start()
start = time.perf_counter()
feature_problems(X)
screen_features(X, y)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"seconds": seconds, "peak_mib": peak / 2**20, "frame_mib": X.memory_usage().sum() / 2**20}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pin", type=int, default=None)
    parser.add_argument("--code", help="a folder holding the automl package to time (default: this checkout's)")
    args = parser.parse_args(argv)
    CODE[:] = [args.code] if args.code else []
    row = run_child(_CHILD, [str(args.rows)], args.pin, 1800)
    if "error" in row:
        raise SystemExit(row["error"])
    print(f"{args.rows:,} rows, frame {row['frame_mib']:.0f} MiB: checks {row['seconds']:.2f} s, "
          f"allocated at their peak {row['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
