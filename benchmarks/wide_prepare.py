"""What a fit pays before its search on wide tables: does it grow with the columns, or with their square?

For each column count in ``--columns`` (default 1000,3000,10000), a fresh child interpreter (``--pin CPU``, BLAS
threads 1) builds :func:`benchmarks.shapes.wide_frame` (300 rows; ``--kind text``:
:func:`benchmarks.shapes.wide_text_frame`, text columns of four levels) and times, with its own clock, the whole of
``automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, isolation="none", tracking=False)``: one ridge
trial on two folds and its refit, so nearly all of it is validation, screening and the schema; then the mean of five
``model.predict`` calls on one row (what a served model pays per request). Reported: the wall,
the seconds per 1,000 columns, the one-row predict, and the ratio of the last count's wall to the first's against the columns' ratio (a
linear cost keeps them about equal). Before the thirty-ninth session a check compared every column's names with
every other's, and every column was converted to text to compare it with the target: 23.5 s at 10,000 columns, a
ratio of 16 for 10 x the columns; after, 4.6 s and 7.9 (benchmarks/README.md).

    python -m benchmarks.wide_prepare --pin 1
    python -m benchmarks.wide_prepare --pin 1 --code ../wt/old   # another version's automl
"""

from __future__ import annotations

import argparse

from benchmarks.budget import CODE, run_child

_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from benchmarks.shapes import wide_frame, wide_text_frame
import automl
frame = (wide_frame if sys.argv[2] == "numeric" else wide_text_frame)(300, int(sys.argv[1]))
start = time.monotonic()
model = automl.fit(frame, "y", n_trials=1, families=["linear"], cv=2, isolation="none", tracking=False, seed=0)
wall = time.monotonic() - start
one_row = frame.drop(columns="y").head(1)
model.predict(one_row)  # the first call imports what predict needs
start = time.monotonic()
for _ in range(5):
    model.predict(one_row)
print(json.dumps({"wall": wall, "predict": (time.monotonic() - start) / 5}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--columns", default="1000,3000,10000")
    parser.add_argument("--kind", choices=["numeric", "text"], default="numeric",
                        help="numeric columns (shapes.wide_frame) or text columns of four levels (shapes.wide_text_frame)")
    parser.add_argument("--pin", type=int, default=None)
    parser.add_argument("--code", help="a folder holding the automl package to time (default: this checkout's)")
    args = parser.parse_args(argv)
    CODE[:] = [args.code] if args.code else []
    walls = []
    counts = [int(c) for c in args.columns.split(",")]
    for count in counts:
        row = run_child(_CHILD, [str(count), args.kind], args.pin, 1800)
        if "error" in row:
            raise SystemExit(row["error"])
        walls.append(row["wall"])
        print(f"{count:6d} columns: fit {row['wall']:6.2f} s ({1000 * row['wall'] / count:.3f} s per 1,000 columns), "
              f"predict one row {1000 * row['predict']:7.1f} ms", flush=True)
    print(f"wall ratio {walls[-1] / walls[0]:.1f} for {counts[-1] / counts[0]:.1f} x the columns")


if __name__ == "__main__":
    main()
