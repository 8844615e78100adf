"""When a net's epochs end, counted from the start of its fold, in a fresh interpreter (as a trial worker's first net).

    taskset -c 0 python -m benchmarks.epoch_clock satellite --family torch_mlp --epochs 5

fits (``--fits`` times) ``--family``'s defaults (one thread, CPU) on two thirds of a suite data set's training split (a
3-fold CV fold's training part; the test part is never read) and prints the seconds from the fold's start
to the end of each of its first ``--epochs`` epochs: the first also holds what the fold pays once (the
worker's first ``import torch``, the inputs' transforms, building the net), the later ones one epoch each;
a second fit shows what a worker's later folds pay.
This is what the slow-net rule of ``automl.search.trial_monitor`` reads (issue 17; benchmarks/README.md,
twenty-second session).
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--family", default="torch_mlp")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fits", type=int, default=2, help="fits in this interpreter (the 2nd: a worker's next fold)")
    parser.add_argument("--suite", default=None)
    args = parser.parse_args(argv)

    import numpy as np

    from automl.families.epochs import epoch_reporting
    from automl.families.pipeline import FamilyPipeline
    from automl.spaces.loader import load_builtin_space
    from benchmarks.tasks import load_split, load_tasks

    task = load_tasks(args.suite, [args.dataset])[0]
    train, _ = load_split(task, 0)  # the test part is dropped unread
    part = train.sample(frac=2 / 3, random_state=0)
    X, y = part.drop(columns=[task.target]), part[task.target].to_numpy()
    if task.is_classification:
        classes, y = np.unique(y, return_inverse=True)
        n_classes = len(classes)
    else:
        n_classes = 0
    params = load_builtin_space(args.family).defaults()
    for fit in range(args.fits):
        ends: list[float] = []
        started = time.perf_counter()

        def reporter(epoch: int, y_true, scores, ends=ends, started=started) -> bool:
            ends.append(time.perf_counter() - started)
            return epoch + 1 >= args.epochs  # end the fold's training here

        pipeline = FamilyPipeline(args.family, params, task=task.task, n_classes=n_classes, seed=0, n_jobs=1,
                                  device="cpu")
        with epoch_reporting(reporter):
            pipeline.fit(X, y)
        later = np.diff(ends)
        print(f"{task.name} {args.family} {len(part)} rows, fit {fit + 1} in this interpreter: epoch ends at "
              + ", ".join(f"{t:.2f}" for t in ends) + " s from the fold's start")
        if len(later):
            print(f"  first epoch {ends[0]:.2f} s; later epochs {np.median(later):.3f} s each (median); "
                  f"what the first paid once: about {ends[0] - np.median(later):.2f} s")

if __name__ == "__main__":
    main()
