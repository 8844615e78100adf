"""Passwords in storage URLs and tracking URIs: masked where shown, kept off command lines of real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from automl._redact import hand_over, redact_text, redact_url, take_over
from automl.exceptions import InputTypeError, InvalidParameterError, UIServerError
from automl.search.storage import check_storage, describe_storage, open_study
from automl.ui import UIServer, _live_members, free_port, resolve_store, server_command, start_ui

SECRET = "s3cretPW9"


@pytest.mark.parametrize("url", [
    f"postgresql://me:{SECRET}@db:5432/studies",
    f"postgresql+psycopg://me:{SECRET}@db/studies?sslmode=require",
    f"postgresql://db/studies?user=me&password={SECRET}",
    f"mysql+pymysql://root:{SECRET}@db/x?charset=utf8",
    f"mysql://root:p@ss{SECRET}@db/x",  # an unescaped "@" in the password
    f"postgresql://me:pa/ss{SECRET}@db/x",  # an unescaped "/" in the password
    f"postgresql://db/x?sslpassword={SECRET}&application_name=automl",
    f"https://mlflow.example.com/api?api_key={SECRET}&page=2",
    f"https://h/x?access_token={SECRET}",
    f"https://acct.blob.core.windows.net/c?sv=2024&sig={SECRET}",
    f"s3://bucket/key?X-Amz-Credential=AKIA&X-Amz-Signature={SECRET}",
    f"https://h/x?clientSecret={SECRET}",
    f"https://h/x?PWD={SECRET}&Token={SECRET}",
])
def test_secrets_are_masked_and_the_rest_stays_readable(url):
    shown = redact_url(url)
    assert SECRET not in shown and "***" in shown
    assert shown.split("://")[0] == url.split("://")[0]  # the scheme is kept
    assert SECRET not in redact_text(f"could not connect to '{url}': refused")
    assert SECRET not in describe_storage(url, "s")


@pytest.mark.parametrize("plain", [
    "runs/studies.journal", "/abs/s.log", "journal:///tmp/x.journal", "sqlite:///runs/mlflow.db",
    "file:///data/a@b/mlruns", "postgresql://me@db/studies?sslmode=require&application_name=x",
    "http://host:8080/path/user@x",
])
def test_urls_without_secrets_are_unchanged(plain):
    assert redact_url(plain) == plain


def test_describe_storage_masks_query_passwords_which_it_did_not_before():
    assert describe_storage(f"postgresql://db/studies?password={SECRET}", "s") == "postgresql://db/studies?password=***"


def test_the_literal_secret_is_masked_anywhere_in_a_message():
    url = f"postgresql://me:{SECRET}@db/x"
    assert redact_text(f"authentication failed: password '{SECRET}' rejected", url) == (
        "authentication failed: password '***' rejected")


def test_env_references_hand_a_url_over_without_a_command_line(monkeypatch, tmp_path):
    env: dict[str, str] = {}
    url = f"postgresql://me:{SECRET}@db/studies"
    reference = hand_over(url, env, "AUTOML_STORAGE_URL")
    assert reference == "env:AUTOML_STORAGE_URL" and SECRET not in reference and env["AUTOML_STORAGE_URL"] == url
    assert take_over(reference, env) == url
    with pytest.raises(InvalidParameterError, match="AUTOML_NOT_SET_X, which is not set; set AUTOML_NOT_SET_X"):
        take_over("env:AUTOML_NOT_SET_X")
    assert check_storage("env:AUTOML_NOT_SET_X")[0].startswith("'env:AUTOML_NOT_SET_X' refers to")
    monkeypatch.setenv("MY_STUDIES", str(tmp_path / "s.journal"))
    study, created = open_study("env:MY_STUDIES", "s", direction="maximize")
    assert created and (tmp_path / "s.journal").stat().st_size > 0
    assert describe_storage("env:MY_STUDIES", "s") == f"journal:{tmp_path / 's.journal'}"


def test_the_ui_server_argv_holds_no_url():
    store = f"postgresql://me:{SECRET}@db/mlflow?password={SECRET}"
    argv, env = server_command(store, "127.0.0.1", 5000, 1, f"s3://b/art?token={SECRET}")
    assert not any(SECRET in a for a in argv)
    assert env["MLFLOW_BACKEND_STORE_URI"] == store and SECRET in env["MLFLOW_ARTIFACTS_DESTINATION"]


def test_a_real_ui_server_process_gets_the_url_by_environment_only():
    store = f"postgresql://me:{SECRET}@127.0.0.1:1/mlflow?password={SECRET}"  # nothing listens on port 1
    ui = start_ui(store, port=0)
    try:
        deadline = time.monotonic() + 20
        seen = set()
        while time.monotonic() < deadline and ui.poll() is None and len(seen) < 1:
            for pid in _live_members(ui.pid):
                seen.add(pid)
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                assert SECRET.encode() not in cmdline, cmdline
                assert b"mlflow" in cmdline
            time.sleep(0.1)
        assert seen, "the server process was not seen"
        environ = Path(f"/proc/{ui.pid}/environ").read_bytes().split(b"\0")
        assert f"MLFLOW_BACKEND_STORE_URI={store}".encode() in environ  # the server does get the store
        assert SECRET not in repr(ui)
    finally:
        ui.stop(timeout=5)


def test_ui_errors_are_typed_and_name_the_fix(tmp_path, monkeypatch):
    (tmp_path / "mlflow.db").touch()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(InvalidParameterError, match="port must be between 0 and 65535, got 70000"):
        start_ui(store, port=70000)
    with pytest.raises(InputTypeError, match="port must be a whole number, got str '80'"):
        start_ui(store, port="80")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="workers must be at least 1, got 0"):
        start_ui(store, port=0, workers=0)
    with pytest.raises(InvalidParameterError, match="cannot listen on host 'no-such-host.invalid'.*--host 127.0.0.1"), \
            pytest.warns(UserWarning, match="no authentication"):
        start_ui(store, host="no-such-host.invalid", port=0)
    with pytest.raises(InvalidParameterError, match=r"http://me:\*\*\*@mlflow.example.com is a tracking server"):
        resolve_store(f"http://me:{SECRET}@mlflow.example.com")
    monkeypatch.setenv("MY_TRACKING", store)
    assert resolve_store("env:MY_TRACKING") == store


def test_a_failing_server_is_a_ui_server_error_whose_output_is_masked(tmp_path):
    log = tmp_path / "server.log"
    store = f"postgresql://me:{SECRET}@db/x"
    with open(log, "wb") as handle:
        process = subprocess.Popen(["sh", "-c", f"echo 'cannot connect to {store}' >&2; exit 3"],
                                   stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    server = UIServer(process, f"http://127.0.0.1:{free_port()}", store, str(log))
    with server, pytest.raises(UIServerError, match=r"(?s)exited with code 3.*cannot connect to postgresql://me:\*\*\*@db/x") as info:
        server.wait_ready(timeout=30)
    assert SECRET not in str(info.value) and isinstance(info.value, RuntimeError)


def test_the_cli_ui_masks_the_url_it_prints(tmp_path):
    script = Path(sys.executable).with_name("automl")
    env = {**os.environ, "MY_TRACKING": f"https://me:{SECRET}@mlflow.example.com"}
    out = subprocess.run([str(script), "ui", "--tracking-uri", "env:MY_TRACKING", "--port", "0"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert out.returncode == 2 and "https://me:***@mlflow.example.com is a tracking server" in out.stderr
    assert SECRET not in out.stderr + out.stdout


def test_tracking_uri_env_reference_logs_to_the_store_the_variable_names(monkeypatch, tmp_path):
    # The README's `--tracking-uri env:MY_MLFLOW_URI` was refused as "a folder store" (the reference itself was checked
    # as a path), with the variable set or not, in Python and on the command line.
    import warnings

    import numpy as np
    import pandas as pd

    import automl

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80)}).assign(y=lambda f: (f["a"] > 0).astype(int))
    settings = dict(target="y", n_trials=1, families=["linear"], cv=2, ensemble=False, isolation="none", tracking=True)
    with pytest.raises(InvalidParameterError, match="environment variable AUTOML_TEST_URI, which is not set.*export "
                                                    "AUTOML_TEST_URI="):
        automl.fit(frame, tracking_uri="env:AUTOML_TEST_URI", **settings)
    monkeypatch.setenv("AUTOML_TEST_URI", f"sqlite:///{tmp_path}/runs.db")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.fit(frame, tracking_uri="env:AUTOML_TEST_URI", **settings)
    assert model.model_uri_ is not None and (tmp_path / "runs.db").is_file()
    monkeypatch.setenv("AUTOML_TEST_URI", str(tmp_path))  # a folder: the variable's URL is checked, named by reference
    with pytest.raises(InvalidParameterError, match="tracking_uri='env:AUTOML_TEST_URI' is a folder store"):
        automl.fit(frame, tracking_uri="env:AUTOML_TEST_URI", **settings)


@pytest.mark.parametrize("kind", ["folder", "text file"])
def test_a_sqlite_tracking_path_that_is_a_folder_or_not_a_database_is_refused_before_the_search(kind, tmp_path):
    # Once: a folder made SQLite retry for 101 s before the fit went on untracked; a text file only warned.
    import numpy as np
    import pandas as pd

    import automl

    path = tmp_path / "store"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_text("not a database\n")
    frame = pd.DataFrame({"a": np.arange(60.0)}).assign(y=lambda f: (f["a"] % 2).astype(int))
    started = time.monotonic()
    with pytest.raises(InvalidParameterError, match="names a folder" if kind == "folder" else "not an SQLite database"):
        automl.fit(frame, target="y", n_trials=1, tracking_uri=f"sqlite:///{path}", isolation="none", tracking=True)
    assert time.monotonic() - started < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


@pytest.mark.parametrize("name", ["team/churn", "churn:v2", ".."])
def test_a_registered_model_name_mlflow_refuses_is_refused_before_the_search(name, tmp_path):
    # Once found after the whole search: the registry refused it and the model was not logged at all.
    import numpy as np
    import pandas as pd

    import automl

    frame = pd.DataFrame({"a": np.arange(60.0)}).assign(y=lambda f: (f["a"] % 2).astype(int))
    with pytest.raises(InvalidParameterError, match="registry refuses names with '/' or ':'"):
        automl.fit(frame, target="y", n_trials=1, tracking=True, tracking_uri=f"sqlite:///{tmp_path}/m.db",
                   register_model=name, isolation="none")
    assert list(tmp_path.iterdir()) == []
