"""The logged model served by a real ``mlflow models serve``, queried over HTTP as a scoring client does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import automl
from automl._process_group import live_members
from automl.ui import free_port


def _frame(n=120):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"visits": rng.integers(0, 20, n), "spend": rng.normal(size=n), "plan": rng.choice(["a", "b"], n)})
    # free text (a schema role of its own, encoded in the served model too); one note missing
    words = np.array("call about the bill and the new plan was fine or slow today".split())
    df["note"] = [" ".join(rng.choice(words, 6)) + f" ticket {i}" for i in range(n)]
    df.loc[5, "note"] = None
    # a column of each type MLflow would convert before the model's own checks (bool, datetime, timedelta), and a
    # float32 one (MLflow's "float" refused float64 values)
    df["member"] = rng.random(n) > 0.5
    df["since"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    df["wait"] = pd.to_timedelta(rng.integers(0, 90, n), unit="min")
    df["ratio"] = rng.random(n).astype("float32")
    return df.assign(y=np.where(df["spend"] + 0.1 * df["visits"] > 1, "churn", "stay"))


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_ping(url, process, timeout=240):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, "mlflow models serve exited before answering /ping"
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise AssertionError(f"mlflow models serve did not answer /ping within {timeout} s")


def test_the_served_model_gives_named_probabilities_and_takes_a_missing_integer(store_path, tmp_path):
    uri = f"sqlite:///{store_path}"
    df = _frame()
    model = automl.fit(df, target="y", n_trials=1, families=["linear"], cv=2, n_jobs=1, tracking=True,
                       tracking_uri=uri, study_name="serve")
    assert model.schema_.to_dict()["columns"][3]["kind"] == "text"
    rows = df.drop(columns="y").iloc[2:6].astype({"visits": "float64"})  # the last has no note
    rows.loc[rows.index[1], "visits"] = np.nan  # an integer column with a missing value, as a client sends it
    expected = model.predict_proba(rows)
    import mlflow

    from automl.tracking.signature import served_frame

    pyfunc = mlflow.pyfunc.load_model(model.model_uri_)
    # float64 for the float32 column (before: "Can not safely convert float64 to float32"), and the served form of a
    # timedelta column (before: "Can not safely convert timedelta64[us] to <U0")
    as_read = served_frame(rows).astype({"ratio": "float64"})
    assert list(pyfunc.predict(as_read)) == list(model.predict(rows))
    port = free_port()
    # mlflow serve starts `uvicorn` by name: the interpreter's own bin folder first, so the test also runs from a
    # venv that is not activated (`.venv/bin/python -m pytest`)
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": os.getcwd(), "PATH": path}
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "--env-manager", "local", "-m",
         f"runs:/{model.tracking_run_id_}/model", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ping(url, server)
        split = json.loads(rows.to_json(orient="split", index=False, date_format="iso"))
        status, body = _post(f"{url}/invocations", {"dataframe_split": split,
                                                    "params": {"predict_method": "predict_proba"}})
        assert status == 200, body
        served = pd.DataFrame(body["predictions"])
        print("served:\n", served.to_string(), "\nin-process predict_proba:\n", expected)
        assert list(served.columns) == ["churn", "stay"]
        np.testing.assert_allclose(served.to_numpy(), expected, rtol=1e-6)
        status, body = _post(f"{url}/invocations", {"dataframe_split": split})
        assert status == 200 and body["predictions"] == list(model.predict(rows)), body
        status, body = _post(f"{url}/invocations", {"dataframe_split": split, "params": {"predict_method": "x"}})
        assert status == 400 and "predict_method must be one of" in body["message"], body
        # Values the in-process model refuses, refused when served too (before, MLflow's conversions read "false" as
        # True, and numbers for a datetime or a timedelta as nanoseconds, and answered 200)
        for column, value in (("member", "false"), ("since", 1622505600), ("wait", 3600)):
            odd = json.loads(json.dumps(split))
            odd["data"][0][odd["columns"].index(column)] = value
            status, body = _post(f"{url}/invocations", {"dataframe_split": odd})
            assert status == 400 and f"'{column}'" in body["message"], (column, body)
        split["data"][0][split["columns"].index("visits")] = float("inf")  # sent as JSON's Infinity
        status, body = _post(f"{url}/invocations", {"dataframe_split": split})
        assert status == 400 and "column 'visits' holds 1 infinite value(s)" in body["message"], body
    finally:
        _stop_group(server)
        log.close()
    assert live_members(server.pid) == [], "a process of mlflow models serve still runs"


def _stop_group(server):
    """SIGTERM to the server's process group, SIGKILL to what is left of it after 30 s."""
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    end = time.monotonic() + 30
    while live_members(server.pid) and time.monotonic() < end:
        time.sleep(0.2)
    if live_members(server.pid):
        os.killpg(server.pid, signal.SIGKILL)
        time.sleep(1)
