"""Start, wait for and stop a local MLflow UI on the store that automl's searches are tracked in.

The UI is ``python -m mlflow ui`` in a subprocess of its own process group, so
that :meth:`UIServer.stop` can signal every worker it spawned and then check
that none is left. Background job execution (the ``huey_consumer`` processes,
which outlive a SIGTERM to their parent) is switched off with
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``.

Where the store is: an explicit ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``,
else MLflow 3's default ``sqlite:///<cwd>/mlflow.db`` (artifacts in ``./mlruns``).
Runs logged straight to a SQLite store record absolute ``<cwd>/mlruns/...``
artifact paths, and the server serves those as they are, so no
``--default-artifact-root`` is needed to see them.

The store URI reaches the server through ``MLFLOW_BACKEND_STORE_URI`` in its
environment, never its command line (which ``ps`` shows to every user), and
every URI that is printed or quoted in an error has its password masked.

Example:
    >>> from automl.ui import check_host
    >>> check_host("127.0.0.1"), check_host("localhost"), check_host("::1")
    (True, True, True)
    >>> with start_ui("sqlite:///mlflow.db", port=0) as ui:  # doctest: +SKIP
    ...     ui.wait_ready()
    ...     print(ui.url)
    http://127.0.0.1:41623
"""

from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from automl._process_group import group_exists as _group_exists, live_members as _live_members
from automl._redact import redact_text, redact_url, take_over
from automl.tracking.store import default_tracking_uri
from automl._setting_checks import tracking_uri_problems
from automl._spawn import Terminated, start_helper
from automl.exceptions import InputTypeError, InvalidParameterError, UIServerError
from automl.tracking.browse import runs_view_line

__all__ = ["UIServer", "check_host", "free_port", "resolve_store", "serve", "server_command", "start_ui"]

#: Environment the server runs with on top of ours: no background job consumers.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}

_HINT = "run a search first or pass --tracking-uri"


def _sqlite_path(uri: str) -> str | None:
    """The file a ``sqlite://`` URI points at, or None for an in-memory database."""
    rest = uri[len("sqlite://"):].split("?", 1)[0]
    if rest in ("", "/", "/:memory:"):
        return None
    return rest[1:] if rest.startswith("/") else rest


def resolve_store(tracking_uri: str | None = None) -> str:
    """The MLflow store a UI should show, checked to exist.

    Args:
        tracking_uri: A backend store URI (``sqlite:///path/mlflow.db``,
            ``file:///path/mlruns``, ``postgresql://...``) or a plain path to a
            ``.db`` file or an ``mlruns`` folder. ``None`` means
            ``$MLFLOW_TRACKING_URI``, else MLflow 3's default
            ``sqlite:///<current folder>/mlflow.db``. ``env:NAME`` stands for the URI in
            environment variable ``NAME`` (keeps a password off the command line).

    Returns:
        The URI with relative SQLite and file paths made absolute.

    Raises:
        InvalidParameterError: The SQLite file or store folder does not exist,
            the database is in memory, or the URI is a tracking *server*
            (``http(s)://``, ``databricks``), which has a UI of its own.

    Example:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> open(os.path.join(folder, "mlflow.db"), "wb").close()
        >>> resolve_store(f"sqlite:///{folder}/mlflow.db") == f"sqlite:///{folder}/mlflow.db"
        True
        >>> resolve_store(os.path.join(folder, "mlflow.db")) == f"sqlite:///{folder}/mlflow.db"
        True
        >>> resolve_store(f"sqlite:///{folder}/nothing.db")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        automl.exceptions.InvalidParameterError: no MLflow store at .../nothing.db; run a search first or pass --tracking-uri
    """
    uri = take_over(tracking_uri) or default_tracking_uri()
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in ("http", "https") or uri.startswith("databricks"):
        raise InvalidParameterError(
            f"{redact_url(uri)} is a tracking server, not a store: open it in a browser, or pass the server's "
            "--backend-store-uri (e.g. sqlite:///path/mlflow.db) as --tracking-uri"
        )
    if scheme == "":  # a plain path: an mlruns folder or a SQLite file
        path = Path(uri).expanduser().absolute()
        uri, scheme = (path.as_uri(), "file") if path.is_dir() else (f"sqlite:///{path}", "sqlite")
    if scheme == "sqlite":
        raw = _sqlite_path(uri)
        if raw is None:
            raise InvalidParameterError(
                f"{redact_url(uri)} is an in-memory database, which another process cannot read; "
                "pass a file, e.g. --tracking-uri sqlite:///mlflow.db"
            )
        path = Path(raw).absolute()
        if not path.is_file():
            raise InvalidParameterError(f"no MLflow store at {path}; {_HINT}")
        query = uri.split("?", 1)[1] if "?" in uri else ""
        return f"sqlite:///{path}" + (f"?{query}" if query else "")
    if problems := tracking_uri_problems(uri):  # fit's rule: a scheme MLflow stores in, a folder store only if allowed
        raise InvalidParameterError([p.replace("tracking_uri=", "--tracking-uri ", 1).replace("log to", "show", 1)
                                     for p in problems])
    if scheme == "file":
        path = Path(urlsplit(uri).path).absolute()
        if not path.is_dir():
            raise InvalidParameterError(f"no MLflow store at {path}; {_HINT}")
        return path.as_uri()
    return uri  # another database (postgresql://, mysql://, ...): the server checks it


def check_host(host: str, *, stacklevel: int = 2) -> bool:
    """Whether ``host`` is a loopback address; warn when it is not.

    Args:
        host: The interface the server would bind, e.g. ``"127.0.0.1"`` or ``"0.0.0.0"``.
        stacklevel: Passed to :func:`warnings.warn` (2: the caller of this function).

    Returns:
        True for ``localhost`` and loopback addresses; False otherwise, after a
        :class:`UserWarning`, since the MLflow UI has no authentication.

    Example:
        >>> check_host("127.0.0.1"), check_host("localhost"), check_host("::1")
        (True, True, True)
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:  # a host name other than localhost: assume it is reachable from outside
        pass
    warnings.warn(
        f"the MLflow UI has no authentication; binding to {host} exposes every run to the network "
        "(use --host 127.0.0.1 and an SSH tunnel to look from another machine)",
        UserWarning,
        stacklevel=stacklevel + 1,
    )
    return False


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now.

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bind_problem(host: str, port: int) -> str | None:
    """Why a server could not bind ``host:port`` (as uvicorn does, with SO_REUSEADDR); None if it could."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is already in use (another MLflow UI?); pass --port 0 for a free port"
        if exc.errno == errno.EACCES:
            return f"port {port} on {host} needs privileges (ports below 1024); pass --port 0 or one above 1023"
        return (f"cannot listen on host {host!r} ({exc.strerror or exc}); pass --host 127.0.0.1 or an address "
                "of this machine")
    return None


def _url(host: str, port: int) -> str:
    """The URL to reach a server bound on ``host``: wildcard addresses are reached on loopback."""
    name = host.strip("[]")
    if name in ("0.0.0.0", ""):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


class UIServer:
    """A running ``mlflow ui`` subprocess (a process group of its own); see :func:`start_ui`.

    Attributes:
        url: Where the UI answers, e.g. ``http://127.0.0.1:5000``.
        store: The backend store URI it serves.
        pid: The server's process id, which is also its process group id.
        log_path: File that collects the server's stdout and stderr.

    Example:
        >>> ui = start_ui(port=0)  # doctest: +SKIP
        >>> ui.wait_ready(timeout=60).url  # doctest: +SKIP
        'http://127.0.0.1:41623'
        >>> ui.stop()  # doctest: +SKIP
    """

    def __init__(self, process: subprocess.Popen, url: str, store: str, log_path: str) -> None:
        self._process = process
        self.url = url
        self.store = store
        self.pid = process.pid
        self.log_path = log_path
        self._stopped = False

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else ("running" if self.poll() is None else "exited")
        return f"UIServer(url={self.url!r}, pid={self.pid}, {state})"

    def poll(self) -> int | None:
        """The server's exit code, or None while it runs."""
        return self._process.poll()

    def log_tail(self, chars: int = 3000) -> str:
        """The last ``chars`` characters the server wrote to stdout and stderr (passwords of URLs masked)."""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return redact_text(handle.read(), self.store)[-chars:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 60.0) -> UIServer:
        """Poll ``GET {url}/health`` until it answers 200; return ``self``.

        Raises:
            UIServerError: The server exited, or was not ready after ``timeout``
                seconds; the message ends with the tail of its output. (Also a ``RuntimeError``.)
        """
        deadline = time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                raise UIServerError(
                    f"the MLflow UI on {redact_url(self.store)} exited with code {code} before it was ready (see "
                    f"why below; a wrong store URI or a missing database driver are common); its output ends:\n"
                    f"{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200 and self.poll() is None:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise UIServerError(
                    f"the MLflow UI at {self.url} was not ready after {timeout:g} s (a slow database or a first "
                    f"start that migrates it: wait longer, e.g. a larger timeout); its output ends:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def group_alive(self) -> bool:
        """Whether any process of the server's process group is left (zombies do not count)."""
        self._process.poll()  # reap the leader once it has exited
        return _group_exists(self.pid) and _live_members(self.pid) != []

    def _wait_group(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.group_alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started; safe to call twice.

        Sends SIGINT to the process group (a clean shutdown), then SIGTERM, then
        SIGKILL, waiting up to ``timeout`` seconds after each, then waits (up to
        10 s) until ``os.killpg(pid, 0)`` raises ProcessLookupError, i.e. init
        has reaped the exited workers too.

        Raises:
            UIServerError: Some process of the group survived SIGKILL (also a ``RuntimeError``).
        """
        if self._stopped:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not self.group_alive():
                break
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            if self._wait_group(wait):
                break
        if self.group_alive():
            raise UIServerError(
                f"processes of the MLflow UI group {self.pid} survived SIGKILL: {_live_members(self.pid)}; "
                "they are stuck in the kernel (uninterruptible I/O): check them with ps and end them by pid"
            )
        # Exited workers were re-parented to init; give it time to reap them (about 1.5 s on this
        # kind of VM), so that afterwards os.killpg(pid, 0) raises ProcessLookupError.
        deadline = time.monotonic() + 10.0
        while _group_exists(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopped = True
        liveness = getattr(self._process, "liveness", None)
        if liveness is not None:  # the keeper is gone: its end of the pipe closed with it
            self._process.liveness = None  # type: ignore[attr-defined]
            os.close(liveness)
        try:
            os.unlink(self.log_path)
        except OSError:  # pragma: no cover
            pass

    def __enter__(self) -> UIServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_ui(
    tracking_uri: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = 5000,
    artifacts_destination: str | None = None,
    workers: int = 1,
) -> UIServer:
    """Launch ``python -m mlflow ui`` on the tracked store; return at once (see :meth:`UIServer.wait_ready`).

    Args:
        tracking_uri: The store to show; see :func:`resolve_store` for the default.
        host: Interface to bind. Anything but loopback warns: the UI has no authentication.
        port: TCP port; 0 or None picks a free one.
        artifacts_destination: Passed as ``--artifacts-destination``: where artifacts
            of runs with ``mlflow-artifacts:`` URIs live (MLflow's default: ``./mlartifacts``).
            Artifacts that runs logged to local paths (``./mlruns``) are served from there anyway.
        workers: Server worker processes (MLflow's default is 4; one is plenty for one
            person's browser and starts in about half the time).

    Returns:
        The running :class:`UIServer`; stop it with :meth:`UIServer.stop` or a ``with`` block.

    Raises:
        InvalidParameterError: No store at the URI (see :func:`resolve_store`),
            the port is taken or out of range, the host cannot be bound, or ``workers < 1``.
        InputTypeError: ``port`` or ``workers`` is not a whole number, or ``host`` is not text.
        UIServerError: The server process could not be started.

    Example:
        >>> with start_ui(port=0) as ui:  # doctest: +SKIP
        ...     ui.wait_ready()
        ...     print(ui.url)
        http://127.0.0.1:41623
    """
    _check_arguments(host, port, workers)
    store = resolve_store(tracking_uri)
    check_host(host, stacklevel=2)
    problem = _bind_problem(host, port or 0)
    if problem:
        raise InvalidParameterError(problem)
    port = port or free_port(host)
    command, env = server_command(store, host, port, workers, artifacts_destination)
    fd, log_path = tempfile.mkstemp(prefix="automl-mlflow-ui-", suffix=".log")
    try:
        with os.fdopen(fd, "wb") as log:
            # The keeper (automl._ui_guard) leads the server's group and ends it when this process dies, even by
            # kill -9; it gives the server back SIGINT (a shell's background job ignores it) so stop() is clean.
            process = start_helper([sys.executable, "-m", "automl._ui_guard", *command], env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    except OSError as exc:
        os.unlink(log_path)
        raise UIServerError(f"could not start the MLflow UI ({' '.join(command)}): {exc}; check that "
                            f"{sys.executable} runs and has mlflow installed") from exc
    return UIServer(process, _url(host, port), store, log_path)


def server_command(store: str, host: str, port: int, workers: int = 1,
                   artifacts_destination: str | None = None) -> tuple[list[str], dict[str, str]]:
    """``(argv, environment)`` that start ``mlflow ui`` on ``store``: the URIs go in the environment only.

    Example:
        >>> argv, env = server_command("postgresql://me:pw@db/mlflow", "127.0.0.1", 5000)
        >>> any("pw" in a for a in argv), env["MLFLOW_BACKEND_STORE_URI"]
        (False, 'postgresql://me:pw@db/mlflow')
    """
    command = [sys.executable, "-m", "mlflow", "ui", "--host", host, "--port", str(port), "--workers", str(workers)]
    env = {**SERVER_ENV, "MLFLOW_BACKEND_STORE_URI": store}
    if artifacts_destination:
        env["MLFLOW_ARTIFACTS_DESTINATION"] = artifacts_destination
    return command, env


def _check_arguments(host: object, port: object, workers: object) -> None:
    for name, value in (("port", port), ("workers", workers)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InputTypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}; "
                                 f"e.g. {name}={5000 if name == 'port' else 1}")
    if not isinstance(host, str) or not host.strip():
        raise InputTypeError(f"host must be an interface address such as '127.0.0.1', got {host!r}")
    if port is not None and not 0 <= port <= 65535:  # type: ignore[operator]
        raise InvalidParameterError(f"port must be between 0 and 65535, got {port}; pass --port 0 for a free port")
    if workers is None or workers < 1:  # type: ignore[operator]
        raise InvalidParameterError(f"workers must be at least 1, got {workers}")


def serve(
    tracking_uri: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = 5000,
    *,
    timeout: float = 120.0,
    echo: Callable[[str], object] = print,
) -> int:
    """Run the UI until Ctrl-C (or SIGTERM), then stop it; what ``automl ui`` does.

    Args:
        tracking_uri: The store to show; see :func:`resolve_store`.
        host: Interface to bind; see :func:`start_ui`.
        port: TCP port; 0 or None picks a free one.
        timeout: Seconds to wait for the server to answer ``/health``.
        echo: Where the progress lines go (errors go to stderr).

    Returns:
        The exit code: 130 after Ctrl-C, 143 after SIGTERM or SIGHUP (the server stopped cleanly either way), 1 when
        the server failed or died.

    Example:
        >>> serve(port=0)  # doctest: +SKIP
        MLflow UI: http://127.0.0.1:41623  (store: sqlite:////home/me/project/mlflow.db)
        press Ctrl-C to stop
        0
    """
    # Ctrl-C and SIGTERM both stop the server, even where the shell started us with SIGINT ignored.
    previous = {}
    for sig, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, _raise_terminated),
                         (signal.SIGHUP, _raise_terminated)):  # SIGHUP: its terminal closed
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # pragma: no cover - not the main thread
            pass
    try:
        ui = start_ui(tracking_uri, host=host, port=port)
    except BaseException:
        _restore(previous)
        raise
    try:
        echo(f"starting the MLflow UI on {ui.url} ...")
        ui.wait_ready(timeout=timeout)
        echo(f"MLflow UI: {ui.url}  (store: {redact_url(ui.store)})")
        echo(runs_view_line(ui.url))
        echo("press Ctrl-C to stop")
        while ui.poll() is None:
            time.sleep(0.5)
        print(f"automl: error: the MLflow UI exited with code {ui.poll()}; its output ends:\n{ui.log_tail()}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # the CLI's codes: 130 interrupted (Ctrl-C), 143 terminated
        echo("stopping the MLflow UI ...")
        return 143 if isinstance(exc, Terminated) else 130
    except RuntimeError as exc:
        print(f"automl: error: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            ui.stop()
        finally:
            _restore(previous)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"terminated by signal {signal.Signals(signum).name}")


def _restore(handlers: dict) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

