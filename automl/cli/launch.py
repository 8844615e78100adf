"""Where the ``--workers N`` helpers run: ``--cluster ADDRESS`` (Dask tasks), and ``automl worker-script``.

With ``--cluster`` the N - 1 helpers of ``fit``, ``sweep`` and ``resume`` run as tasks on the Dask
cluster at ADDRESS (:mod:`automl.cluster`) instead of local processes; this process still searches,
refits and saves the model. The flags are checked and the scheduler reached before the search starts,
so a wrong address writes nothing. When this process ends (done, error, Ctrl-C, SIGTERM) the tasks
are cancelled and their workers stopped, as :func:`automl._spawn.stop_helpers` does for local ones.

Example:
    >>> check_workers(2, "tcp://127.0.0.1:8786")
    >>> check_workers(0, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    automl.exceptions.InvalidParameterError: --workers must be a whole number >= 1 (the processes ...
    >>> check_workers(1, "tcp://127.0.0.1:8786")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    automl.exceptions.InvalidParameterError: --cluster runs the N - 1 helpers of --workers N as Dask tasks, ...
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

__all__ = ["check_workers", "name_study", "start", "stop", "worker_script"]

#: Seconds the cluster's workers get to end by themselves after a sweep that finished.
AFTER_SWEEP_SECONDS = 60.0


def check_workers(workers: int, cluster: str | None) -> None:
    """Refuse ``--workers`` below 1, and ``--cluster`` without helpers to run (``--workers`` below 2), before
    anything runs."""
    from automl.exceptions import InvalidParameterError
    from automl.worker_scripts import WORKERS_RULE

    if workers < 1:
        raise InvalidParameterError(
            f"{WORKERS_RULE} (the processes working on the study, this one included); got --workers {workers}; "
            "pass --workers 1 (this process alone) or more")
    if cluster is not None and workers < 2:
        raise InvalidParameterError(
            "--cluster runs the N - 1 helpers of --workers N as Dask tasks, so it needs --workers 2 or more; "
            f"got --workers {workers}; pass --workers N (N processes in all, this one included) or drop --cluster")


def name_study(spec: Any) -> str:
    """The sweep's study name, made up (and said) if it has none: ``--workers`` needs one to share."""
    if not spec.settings.get("study_name"):
        spec.settings["study_name"] = f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        print(f"--workers: naming the study {spec.settings['study_name']!r}", file=sys.stderr)
    return str(spec.settings["study_name"])


def start(spec: Any, n: int, address: str) -> Any:
    """Launch ``n`` ``automl worker`` tasks on the cluster at ``address`` for the sweep ``spec``.

    Raises:
        ClusterConnectionError: the scheduler cannot be reached (nothing has been written yet).
    """
    from automl.cluster import launch_workers

    name = name_study(spec)
    return launch_workers(name, n, cluster=address, storage=spec.settings.get("storage"),
                          tracking_uri=spec.settings.get("tracking_uri"))


def stop(workers: Any, failed: bool) -> None:
    """After the sweep: a failed or interrupted one cancels the tasks now; a finished one gives them
    :data:`AFTER_SWEEP_SECONDS` to end, says if one failed, then cancels what is left."""
    from automl.exceptions import ClusterError

    try:
        if not failed:
            workers.wait(timeout=AFTER_SWEEP_SECONDS)
    except ClusterError as exc:
        print(f"automl: warning: {exc}", file=sys.stderr)
    except TimeoutError:
        pass
    finally:
        workers.cancel()


def worker_script(args: argparse.Namespace) -> int:
    """Write a Slurm job array or a Kubernetes Indexed Job that runs ``automl worker`` for a study."""
    from automl.worker_scripts import kubernetes_job, slurm_script

    if args.format == "slurm":
        text = slurm_script(args.study, args.workers, storage_env=args.storage_env, n_trials=args.n_trials,
                            data=args.data, cpus=args.cpus, setup=args.setup or ())
    else:
        text = kubernetes_job(args.study, args.workers, image=args.image, secret=args.secret,
                              secret_key=args.secret_key, n_trials=args.n_trials, data=args.data, cpus=args.cpus)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    from automl.exceptions import InvalidParameterError

    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InvalidParameterError(f"cannot write the {args.format} file to {args.output!r}: "
                                    f"{exc.strerror or exc}; pass -o PATH in a writable folder") from None
    print(f"{args.format} file for {args.workers} workers of study {args.study!r} written to {args.output}",
          file=sys.stderr)
    return 0
