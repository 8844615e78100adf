"""Real services for tests: a throw-away PostgreSQL server, and an MLflow tracking server on it.

The server runs from the Debian ``postgresql`` package (``.ci/run`` installs it)
on a temporary data directory and a free port, owned by the ``postgres`` user
when the tests run as root, and is stopped at the end of the session. Without
the package the tests that need it are skipped, unless ``AUTOML_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), where its absence is an error.

:class:`MlflowServer` is a real ``mlflow server`` (its backend store a fresh database of
that PostgreSQL server, its artifacts served from a temporary folder, job execution off)
on a free loopback port, stopped with SIGINT; :meth:`MlflowServer.stop` fails if any
process it started (a ``huey_consumer``, a gunicorn/uvicorn worker) is left.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

__all__ = ["MlflowServer", "PostgresServer"]


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1; :meth:`new_database` gives each test its own database."""

    def __init__(self) -> None:
        bin_dir = _binaries()
        if bin_dir is None:
            message = "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)"
            if os.environ.get("AUTOML_REQUIRE_POSTGRES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="automl-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "automl"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (psycopg 3, the driver SQLAlchemy 2 picks for postgresql://)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        connection = psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        connection.close()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a PostgreSQL backend store and served artifacts.

    Args:
        postgres: The :class:`PostgresServer` whose fresh database holds the runs.

    Attributes:
        url: The tracking URI, ``http://127.0.0.1:PORT``.
        artifacts: The folder the server keeps artifacts in (clients reach them over HTTP only).
    """

    def __init__(self, postgres: PostgresServer, timeout: float = 120.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="automl-mlflow-server-"))
        self.artifacts = self.root / "artifacts"
        self.artifacts.mkdir()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.root / "server.log"
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", "2", "--backend-store-uri", postgres.new_database(), "--serve-artifacts",
                   "--artifacts-destination", str(self.artifacts), "--default-artifact-root", "mlflow-artifacts:/"]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True, cwd=self.root)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self._kill()
            raise

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's output."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not ready after {timeout:g} s:\n{self.log_tail()}")
            time.sleep(0.25)

    def _left(self) -> list[int]:
        from automl._process_group import live_members

        self.process.poll()
        return live_members(self.process.pid)

    def _kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server with SIGINT to its process group; fail if any of its processes is left.

        Raises:
            RuntimeError: something survived SIGINT for ``timeout`` seconds (it is then killed).
        """
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self._left() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self._left()
        if left:
            names = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120] for pid in left}
            self._kill()
            raise RuntimeError(f"mlflow server processes survived SIGINT: {names}")
        self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
