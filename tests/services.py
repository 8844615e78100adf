"""Real services for tests: a throw-away PostgreSQL server.

The server runs from the Debian ``postgresql`` package (``.ci/run`` installs it)
on a temporary data directory and a free port, owned by the ``postgres`` user
when the tests run as root, and is stopped at the end of the session. Without
the package the tests that need it are skipped, unless ``AUTOML_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), where its absence is an error.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

__all__ = ["PostgresServer"]


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
