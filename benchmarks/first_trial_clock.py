"""Seconds from ``automl.fit``'s call to its first trial's end, in fresh interpreters: what a fit pays before it searches.

    taskset -c 0 python -m benchmarks.first_trial_clock house_prices --fits 3
    taskset -c 0 python -m benchmarks.first_trial_clock house_prices --fits 3 --trees ../wt/old .

fits ``automl`` with its defaults (one job, tracking off, ``--budget`` seconds) on a suite data set's training
split (the test part is never read), each fit in a new Python process as a user's first fit is, and prints the
time to the first trial's end, the trials completed and the fit's wall. With ``--trees`` each fit imports
``automl`` from one source tree after the other in turn (A B A B ...), so two commits are compared side by side
on the same core. The first trial's end holds the fit's start-up: checking the data, the trial worker's
Python start-up and imports, and (before the twenty-third session) an ``import torch`` in the fit's process to
ask whether a GPU was there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

_ONE_FIT = """
import logging, sys, time
import automl
from benchmarks.tasks import load_split, load_tasks
task = load_tasks({suite!r}, [{dataset!r}])[0]
train, _ = load_split(task, 0)  # the test part is dropped unread
ends = []
class Ends(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("trial "):
            ends.append(time.perf_counter() - started)
logging.getLogger("automl").setLevel(logging.INFO)
logging.getLogger("automl").addHandler(Ends())
started = time.perf_counter()
automl.fit(train, target=task.target, time_budget={budget}, n_jobs=1, seed=0, tracking=False)
print("clock", automl.__file__, ends[0] if ends else float("nan"), len(ends), time.perf_counter() - started)
"""


def one_fit(tree: str | None, dataset: str, budget: float, suite: str | None) -> tuple[float, int, float]:
    """Run one fit in a new interpreter (importing automl from ``tree`` if given); its clock's three figures."""
    from benchmarks.tasks import REPO_ROOT

    here = str(REPO_ROOT)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(tree), here])
    code = _ONE_FIT.format(suite=suite, dataset=dataset, budget=budget)
    folder = os.path.abspath(tree) if tree is not None else here  # `python -c` puts its folder first on the path
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=folder,
                         check=True)
    line = [row for row in out.stdout.splitlines() if row.startswith("clock ")][-1].split()
    if tree is not None and not line[1].startswith(os.path.abspath(tree)):
        raise RuntimeError(f"automl came from {line[1]}, not from {tree}")
    return float(line[2]), int(line[3]), float(line[4])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--fits", type=int, default=3, help="fits per tree")
    parser.add_argument("--trees", nargs="*", default=[None], help="source trees to import automl from, in turn")
    parser.add_argument("--suite", default=None)
    args = parser.parse_args(argv)
    from benchmarks.tasks import suite_dir

    suite = str(suite_dir(args.suite))  # absolute: an older tree's benchmarks package finds the same suite
    firsts: dict[str | None, list[float]] = {tree: [] for tree in args.trees}
    for fit in range(args.fits):
        for tree in args.trees:
            first, trials, wall = one_fit(tree, args.dataset, args.budget, suite)
            firsts[tree].append(first)
            print(f"{tree or 'installed'} fit {fit + 1}: first trial ends {first:.2f} s; {trials} trials; "
                  f"fit {wall:.1f} s", flush=True)
    for tree, values in firsts.items():
        print(f"{tree or 'installed'}: first trial ends at {statistics.median(values):.2f} s (median of "
              f"{len(values)}; {min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
