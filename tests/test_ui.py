"""``automl ui``: a real MLflow UI server on a real SQLite store, reached over HTTP."""

from __future__ import annotations

import json
import re
import signal
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from automl.exceptions import InvalidParameterError
from automl.ui import UIServer, _live_members, check_host, free_port, resolve_store, start_ui


def _make_store(folder: Path) -> tuple[str, str, list[str]]:
    """A SQLite store with experiment "demo-study": a parent run, two child runs and an artifact."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("demo-study")  # artifacts in <cwd>/mlruns, as the tracker logs them
    parent = client.create_run(experiment_id, run_name="search")
    client.log_param(parent.info.run_id, "time_budget", "60")
    client.log_metric(parent.info.run_id, "best_roc_auc", 0.93)
    run_ids = [parent.info.run_id]
    for trial, (family, score) in enumerate([("lightgbm", 0.93), ("linear", 0.88)]):
        child = client.create_run(experiment_id, run_name=f"trial-{trial}",
                                  tags={"mlflow.parentRunId": parent.info.run_id})
        client.log_param(child.info.run_id, "family", family)
        client.log_metric(child.info.run_id, "roc_auc_mean", score)
        client.set_terminated(child.info.run_id)
        run_ids.append(child.info.run_id)
    client.log_text(parent.info.run_id, "rank,family\n1,lightgbm\n", "leaderboard.csv")
    client.set_terminated(parent.info.run_id)
    return uri, experiment_id, run_ids


def _api(url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module (creating its tables takes ~10 s), made from inside its folder."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return folder, *_make_store(folder)


def test_real_server_shows_the_runs_and_stops_cleanly(store):
    folder, uri, experiment_id, run_ids = store
    port = free_port()
    server = start_ui(uri, port=port)
    try:
        assert server.url == f"http://127.0.0.1:{port}" and server.store == uri
        server.wait_ready(timeout=90)

        experiment = _api(server.url, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo-study")
        assert experiment["experiment"]["experiment_id"] == experiment_id
        names = {e["name"] for e in _api(server.url, "/api/2.0/mlflow/experiments/search",
                                         {"max_results": 10})["experiments"]}
        assert "demo-study" in names

        runs = _api(server.url, "/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id]})["runs"]
        assert sorted(r["info"]["run_id"] for r in runs) == sorted(run_ids)
        parents = {r["info"]["run_id"]: {t["key"]: t["value"] for t in r["data"].get("tags", [])}
                   .get("mlflow.parentRunId") for r in runs}
        assert parents[run_ids[0]] is None and parents[run_ids[1]] == parents[run_ids[2]] == run_ids[0]
        metrics = {r["info"]["run_name"]: {m["key"]: m["value"] for m in r["data"].get("metrics", [])} for r in runs}
        assert metrics["trial-0"] == {"roc_auc_mean": 0.93} and metrics["trial-1"] == {"roc_auc_mean": 0.88}

        # the artifact the client wrote under <folder>/mlruns is served the way the browser fetches it
        listing = _api(server.url, f"/api/2.0/mlflow/artifacts/list?run_id={run_ids[0]}")
        assert [f["path"] for f in listing["files"]] == ["leaderboard.csv"]
        with urllib.request.urlopen(f"{server.url}/get-artifact?path=leaderboard.csv&run_uuid={run_ids[0]}",
                                    timeout=30) as response:
            assert response.read().decode() == "rank,family\n1,lightgbm\n"
    finally:
        server.stop()

    # Nothing of the group runs any more. Exited workers were re-parented to init, which reaps
    # them when it gets to it (stop waits up to 10 s for that; a loaded machine can take longer),
    # so what may still be listed for the group can only be zombies.
    assert not server.group_alive() and _port_free(port)
    try:
        os.killpg(server.pid, 0)
    except ProcessLookupError:
        pass
    else:
        assert _live_members(server.pid) == [], "a process of the UI group still runs"
    server.stop()  # a second stop is a no-op


def _group(script: str) -> UIServer:
    """A real process group (a shell and a child) wrapped as a UIServer, to exercise waiting and stopping."""
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    with log:
        process = subprocess.Popen(["sh", "-c", script], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return UIServer(process, f"http://127.0.0.1:{free_port()}", "sqlite:///x.db", log.name)


def test_a_server_that_exits_early_is_reported_with_its_output():
    server = _group("echo 'sqlalchemy.exc.DatabaseError: file is not a database' >&2; exit 3")
    with server, pytest.raises(RuntimeError, match="(?s)exited with code 3.*file is not a database"):
        server.wait_ready(timeout=30)
    assert not server.group_alive()


def test_a_server_that_never_answers_times_out_and_is_killed():
    # the shell and its child ignore SIGINT and SIGTERM: stop has to escalate to SIGKILL
    server = _group("trap '' INT TERM; echo listening; sh -c \"trap '' INT TERM; sleep 60\" & wait")
    with pytest.raises(RuntimeError, match="(?s)not ready after 1 s.*listening"):
        server.wait_ready(timeout=1)
    assert server.group_alive()
    started = time.monotonic()
    server.stop(timeout=0.5)
    assert time.monotonic() - started < 10  # not the default 15 s per signal
    with pytest.raises(ProcessLookupError):
        os.killpg(server.pid, 0)


def test_non_loopback_hosts_warn():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert check_host(host) is True
    for host in ("0.0.0.0", "::", "192.168.1.10", "mlflow.example.com"):
        with pytest.warns(UserWarning, match=f"no authentication; binding to {re.escape(host)} exposes every run"):
            assert check_host(host) is False


def test_missing_store_is_an_error_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    expected = f"no MLflow store at {tmp_path / 'mlflow.db'}; run a search first or pass --tracking-uri"
    with pytest.raises(InvalidParameterError) as info:
        resolve_store(None)
    assert str(info.value) == expected
    with pytest.raises(InvalidParameterError, match="no MLflow store at"):
        start_ui(port=0)  # nothing is started
    with pytest.raises(InvalidParameterError, match="no MLflow store at .*other.db"):
        resolve_store("sqlite:///other.db")
    with pytest.raises(InvalidParameterError, match="tracking server, not a store"):
        resolve_store("http://127.0.0.1:5000")

    (tmp_path / "mlflow.db").touch()
    assert resolve_store(None) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_store("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    with pytest.raises(InvalidParameterError, match="elsewhere.db"):
        resolve_store(None)


def test_a_taken_port_is_refused(tmp_path):
    (tmp_path / "mlflow.db").touch()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(InvalidParameterError, match="already in use"):
            start_ui(port=busy.getsockname()[1])


def test_cli_help_and_missing_store(tmp_path):
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "ui", "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--tracking-uri" in out.stdout and "--port" in out.stdout and "automl ui" in out.stdout
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = subprocess.run([str(script), "ui", "--port", "0"], capture_output=True, text=True, cwd=tmp_path,
                         timeout=60, env=env)
    assert out.returncode == 2 and "no MLflow store at" in out.stderr and "--tracking-uri" in out.stderr


def _processes_mentioning(text: str, pids: bool = False) -> list:
    """Command lines (or pids) of the running processes whose command line contains ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(int(cmdline.parent.name) if pids else command)
    return found


def test_cli_serves_until_ctrl_c(store):
    folder = store[0]
    port = free_port()
    script = Path(sys.executable).with_name("automl")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # started the way `automl ui &` is in a script: with SIGINT ignored, which the server would inherit
    cli = subprocess.Popen([str(script), "ui", "--port", str(port)], cwd=folder, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        lines = []
        for line in cli.stdout:
            lines.append(line)
            if "press Ctrl-C to stop" in line:
                break
        banner = "".join(lines)
        assert re.search(rf"MLflow UI: http://127.0.0.1:{port}  \(store: sqlite:///.*/mlflow.db\)", banner), banner
        # The page to open: the training-runs view of the experiment of the latest run, not the GenAI overview.
        experiment_id = store[2]
        assert (f"training runs of experiment 'demo-study': http://127.0.0.1:{port}/#/experiments/{experiment_id}"
                f"/runs?workflowType=machine_learning") in banner, banner
        assert _api(f"http://127.0.0.1:{port}", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo-study")
        keeper = set(_processes_mentioning("automl._ui_guard", pids=True))  # it ignores SIGINT by design
        server_pids = [p for p in _processes_mentioning(f"--port {port}", pids=True) if p not in keeper]
        assert server_pids and keeper
        for pid in server_pids:  # the server got SIGINT back, so stop() ends it cleanly with SIGINT
            mask = int(next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                            if line.startswith("SigIgn:")).split()[1], 16)
            assert not mask & (1 << (signal.SIGINT - 1)), f"process {pid} ignores SIGINT"
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=90) == 130, cli.stderr.read()  # the CLI's code for interrupted
        assert "stopping the MLflow UI" in cli.stdout.read()
    finally:
        if cli.poll() is None:
            cli.kill()
    assert _port_free(port)
    assert _processes_mentioning(f"--port {port}") == []  # the server and its workers are gone too


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_the_server_ends_with_automl_ui_however_automl_ui_ends(store, how):
    """``kill -9`` of ``automl ui`` used to leave the MLflow server (in a session of its own) answering on its port;
    SIGTERM stopped it but exited 0, where the CLI says 143."""
    folder = store[0]
    port = free_port()
    script = Path(sys.executable).with_name("automl")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    cli = subprocess.Popen([str(script), "ui", "--port", str(port)], cwd=folder, env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in cli.stdout:
            if "press Ctrl-C to stop" in line:
                break
        assert _api(f"http://127.0.0.1:{port}", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo-study")
        assert _processes_mentioning(f"--port {port}")
        if how == "kill -9":
            cli.kill()
            cli.wait(timeout=30)
        else:
            cli.terminate()
            assert cli.wait(timeout=90) == 143, cli.stderr.read()
        deadline = time.monotonic() + 60
        while _processes_mentioning(f"--port {port}") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_mentioning(f"--port {port}") == []
        assert _port_free(port)
    finally:
        if cli.poll() is None:
            cli.kill()
        for pid in _processes_mentioning(f"--port {port}", pids=True):
            os.kill(pid, signal.SIGKILL)
