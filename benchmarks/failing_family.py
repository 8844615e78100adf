"""What a family that fails on every trial costs a search: ``python -m benchmarks.failing_family``.

The fit searches ``linear`` beside the test suite's ``faulty`` family (tests/faulty_family.py) pinned to one
fault (``--fault``: ``segfault`` crashes the worker process, which is then replaced; ``raise`` raises), with
process isolation, ``--n-trials`` trials and 3 folds on 300 rows, tracking off. It prints the wall clock around
the whole fit, the trials by family and state, and the trials that completed. Run it on two checkouts (``--code
PATH`` puts that checkout first on the path) to compare: the fiftieth session's figures are in
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", default="segfault", choices=["segfault", "raise", "abort", "memory_error"])
    parser.add_argument("--n-trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--code", help="a checkout of automl to time instead of this one")
    args = parser.parse_args(argv)
    if args.code:
        sys.path.insert(0, args.code)
    warnings.simplefilter("ignore")
    import pandas as pd
    from sklearn.datasets import make_classification

    import automl
    from automl.families import register_family

    register_family("faulty", "tests.faulty_family:FAULTY")
    X, y = make_classification(300, 6, n_informative=4, random_state=args.seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(label=y)
    started = time.perf_counter()
    model = automl.fit(frame, "label", n_trials=args.n_trials, families=["faulty", "linear"], cv=3, seed=args.seed,
                       tracking=False, search_space={"faulty": {"fault": args.fault}})
    wall = time.perf_counter() - started
    board = model.leaderboard()
    counts = board.groupby(["family", "state"]).size().to_dict()
    print(f"automl from {automl.__file__}")
    print(f"fault={args.fault} n_trials={args.n_trials}: {wall:.1f} s; trials by family and state: {counts}; "
          f"completed: {int((board['state'] == 'complete').sum())}")


if __name__ == "__main__":
    main()
