"""The MLflow UI server's keeper: it runs ``mlflow ui`` in its own process group and ends that whole group when the
``automl ui`` (or :func:`automl.ui.start_ui`) process that started it dies, however it dies.

``mlflow ui`` starts a uvicorn (or gunicorn) server as a child of its own, and the server runs in a session of its
own so that a terminal's Ctrl-C reaches it only through :meth:`automl.ui.UIServer.stop`. So when the process that
started it died without stopping it (``kill -9``, an out-of-memory kill, a closed terminal), nothing signalled the
group: the server went on answering on its port, orphaned. The keeper is the group's leader; it learns of its
parent's death through :func:`automl._spawn.watch_parent` (Linux's parent-death signal and a liveness pipe, which
end-of-file marks on every POSIX system) and then sends SIGTERM to the group. It ignores SIGINT (the group's own
Ctrl-C reaches the server directly) and exits with the server's exit code.

Run as ``python -m automl._ui_guard MLFLOW_ARGV...``, started by :func:`automl._spawn.start_helper`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def _end_group(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the signal to the group reaches this process too
    try:
        os.killpg(os.getpgrp(), signal.SIGTERM)
    except OSError:
        pass


def main(argv: list[str]) -> int:
    """Run ``argv`` (the ``mlflow ui`` command) until it exits; end its group when this process's parent dies."""
    from automl._spawn import watch_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_group)
    server = subprocess.Popen(argv, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    watch_parent()  # the parent's death arrives as SIGTERM: _end_group
    while True:
        try:
            return server.wait()
        except InterruptedError:  # pragma: no cover - wait is restarted by Python on EINTR
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
