"""Ready-to-submit job files that run ``automl worker`` on a batch system (``automl worker-script``).

- :func:`slurm_script`: a Slurm job array (``#SBATCH --array=0-(N-1)``), one ``automl worker`` per
  array task. The storage comes from an environment variable of the submitting shell (``sbatch``
  passes the environment on), never written in the script.
- :func:`kubernetes_job`: a Kubernetes Indexed Job (``completionMode: Indexed``, ``completions`` and
  ``parallelism`` N), the storage taken from a Secret (``secretKeyRef``), the image configurable.

Either way the workers join a sweep started elsewhere (``automl sweep``, ``automl fit --study``) and
run trials until its deadline or trial target; a worker that dies has its trial failed by heartbeat
and run again, and a re-run worker joins the study again. Machines need a shared store such as
PostgreSQL.

Example:
    >>> print(slurm_script("income-v1", 4).splitlines()[1])
    # 4 automl workers for the study 'income-v1': a Slurm job array, one `automl worker` per array task.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from automl.exceptions import InvalidParameterError

__all__ = ["kubernetes_job", "slurm_script"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: The rule of every ``--workers`` flag (here, and on ``fit``, ``sweep`` and ``resume``).
WORKERS_RULE = "--workers must be a whole number >= 1"


def _check(study_name: object, n: object, n_trials: object, cpus: object) -> None:
    problems = []
    if not isinstance(study_name, str) or not study_name.strip():
        problems.append(f"the study name must be a non-empty string; got {study_name!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"{WORKERS_RULE} (one array task or pod each); got {n!r}")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
        problems.append(f"--n-trials must be a whole number >= 1 (per worker); got {n_trials!r}")
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        problems.append(f"--cpus must be a whole number >= 1 (per worker); got {cpus!r}")
    if problems:
        raise InvalidParameterError(problems)


def _worker_command(study_name: str, n_trials: int | None, data: str | None) -> list[str]:
    from automl._spawn import worker_arguments

    return ["automl", "worker", *worker_arguments(study_name, n_trials=n_trials, data=data)]


def _safe_name(study_name: str) -> str:
    """A Kubernetes (DNS-1123) and Slurm friendly form of the study name: ``Income v1`` -> ``income-v1``."""
    return re.sub(r"[^a-z0-9-]+", "-", study_name.lower()).strip("-")[:40].strip("-") or "study"


def slurm_script(study_name: str, n: int, *, storage_env: str = "AUTOML_STORAGE", n_trials: int | None = None,
                 data: str | None = None, cpus: int = 1, setup: Sequence[str] = ()) -> str:
    """A Slurm job-array script of ``n`` ``automl worker`` tasks for ``study_name``.

    Args:
        study_name: The sweep's study.
        n: Array tasks (``--array=0-(n-1)``), one worker each.
        storage_env: The variable the storage URL is read from at submission (``sbatch`` passes the
            environment on); the script exports it as ``$AUTOML_STORAGE`` and never holds the URL.
        n_trials: Trials per worker (default: until the sweep ends).
        data: The data's path on the compute nodes (default: the sweep's own path).
        cpus: ``--cpus-per-task``.
        setup: Shell lines run first (``module load python``, ``source venv/bin/activate``).

    Example:
        >>> script = slurm_script("s", 3, storage_env="MY_DB")
        >>> [line for line in script.splitlines() if "--array" in line or line.startswith("exec")]
        ['#SBATCH --array=0-2', 'exec automl worker --study s --quiet']
    """
    _check(study_name, n, n_trials, cpus)
    if not _ENV_NAME.match(storage_env):
        raise InvalidParameterError(f"--storage-env must be an environment variable name (letters, digits, _); "
                                    f"got {storage_env!r}")
    quoted = shlex.join(_worker_command(study_name, n_trials, data))
    lines = [
        "#!/bin/bash",
        f"# {n} automl workers for the study {study_name!r}: a Slurm job array, one `automl worker` per array task.",
        "# Written by `automl worker-script --format slurm`. Submit it from a shell where"
        f" ${storage_env} holds the study storage",
        "# (sbatch passes your environment on; the URL is never written here), for example:",
        f"#   export {storage_env}=postgresql://user@db-host/studies   # a password: read it from a file only you can read",
        "#   sbatch THIS_FILE",
        "# The compute nodes need a shared store such as PostgreSQL; MLFLOW_TRACKING_URI, if set, is passed on too.",
        f"#SBATCH --job-name=automl-{_safe_name(study_name)}",
        f"#SBATCH --array=0-{n - 1}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={cpus}",
        "#SBATCH --output=automl-worker-%A_%a.out",
        "set -euo pipefail",
        *setup,
        f'export AUTOML_STORAGE="${{{storage_env}:?set {storage_env} to the study storage URL before sbatch}}"',
        f'echo "automl worker ${{SLURM_ARRAY_TASK_ID:-0}} of {n} for study {shlex.quote(study_name)} on $(hostname)" >&2',
        f"exec {quoted}",
    ]
    return "\n".join(lines) + "\n"


def kubernetes_job(study_name: str, n: int, *, image: str = "automl:latest", secret: str = "automl-storage",
                   secret_key: str = "storage", n_trials: int | None = None, data: str | None = None,
                   cpus: int = 1) -> str:
    """A Kubernetes Indexed Job manifest (YAML) of ``n`` ``automl worker`` pods for ``study_name``.

    Args:
        study_name: The sweep's study.
        n: ``completions`` and ``parallelism``: pods working at once, one worker each.
        image: A container image with automl installed (``pip install "automl[postgres]"``).
        secret: The Secret holding the storage URL under ``secret_key`` (and, optionally, the MLflow
            tracking URI under ``tracking-uri``).
        secret_key: Its key of the storage URL.
        n_trials: Trials per worker (default: until the sweep ends).
        data: The data's path in the pods (default: the sweep's own path).
        cpus: CPUs each pod requests.

    Example:
        >>> import yaml
        >>> job = yaml.safe_load(kubernetes_job("Income v1", 4, image="me/automl:1"))
        >>> job["spec"]["completionMode"], job["spec"]["completions"], job["spec"]["parallelism"]
        ('Indexed', 4, 4)
        >>> job["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]
        {'secretKeyRef': {'name': 'automl-storage', 'key': 'storage'}}
    """
    import yaml

    _check(study_name, n, n_trials, cpus)
    labels = {"app.kubernetes.io/name": "automl-worker", "automl/study": _safe_name(study_name)}
    container = {
        "name": "automl-worker",
        "image": image,
        "command": _worker_command(study_name, n_trials, data),
        "env": [
            {"name": "AUTOML_STORAGE", "valueFrom": {"secretKeyRef": {"name": secret, "key": secret_key}}},
            {"name": "MLFLOW_TRACKING_URI",
             "valueFrom": {"secretKeyRef": {"name": secret, "key": "tracking-uri", "optional": True}}},
        ],
        "resources": {"requests": {"cpu": str(cpus)}},
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"automl-workers-{_safe_name(study_name)}", "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": n,
            "parallelism": n,
            "backoffLimit": n,  # a failed pod is started again: its new worker joins the study again
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }
    header = [
        f"# {n} automl workers for the study {study_name!r}: a Kubernetes Indexed Job, one `automl worker` per pod.",
        "# Written by `automl worker-script --format kubernetes`. Create the Secret first (the URL is never written here):",
        f"#   kubectl create secret generic {secret} --from-literal={secret_key}='postgresql://user:PASSWORD@db-host/studies'",
        "#   kubectl apply -f THIS_FILE",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(job, sort_keys=False)
