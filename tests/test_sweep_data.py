"""The data a sweep's workers read: its URI and the SHA-256 of its bytes, stored on the study.

A worker (or a resume) opens the data by the stored URI, a local path or an http(s) URL served
here by a real ``http.server`` on loopback, or by ``--data PATH``, and refuses bytes whose hash
differs before it runs anything. A study stored before the hash existed is still joined.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import optuna
import pandas as pd
import pytest

from automl.exceptions import InvalidParameterError, StudyMismatchError
from automl.search.storage import open_storage
from automl.search.trial_record import StudyRecord, StudyWriter
from automl.sweep import load_sweep, resume_spec, run_sweep, run_worker

pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


@pytest.fixture
def data_file(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # downloads kept in this test's folder


def _sweep(tmp_path, data: str, n_trials: int = 2):
    path = tmp_path / "sweep.yaml"
    path.write_text(f"data: {data}\ntarget: label\nn_trials: {n_trials}\nfamilies: [linear]\ncv: 3\n"
                    "study_name: s\nisolation: none\nensemble: false\n", encoding="utf-8")
    return load_sweep(path)


def _study():
    return optuna.load_study(study_name="s", storage=open_storage(None, "s"))


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_sweep_stores_the_data_uri_and_hash_and_a_worker_refuses_changed_bytes(tmp_path, data_file):
    run_sweep(_sweep(tmp_path, "train.csv"))
    record = StudyRecord.read(_study()).sweep
    before, original = _sha(data_file), data_file.read_bytes()
    assert record["data_uri"] == data_file.resolve().as_uri() and record["data_sha256"] == before
    # The same rows written again with other number formatting: other bytes, the same parsed values.
    frame = pd.read_csv(data_file)
    frame.to_csv(data_file, index=False, float_format="%.17g")
    after = _sha(data_file)
    assert after != before
    trials = len(_study().trials)
    with pytest.raises(StudyMismatchError) as caught:
        run_worker("s", wait=0)
    message = str(caught.value)
    assert data_file.resolve().as_uri() in message and before[:12] in message and after[:12] in message
    assert "--data PATH" in message and "study_name" in message
    with pytest.raises(StudyMismatchError, match=after[:12]):
        run_sweep(resume_spec("s", n_trials=1))  # a resume reads the same bytes or none
    assert len(_study().trials) == trials  # nothing ran
    (tmp_path / "copy.csv").write_bytes(original)  # --data to an unchanged copy is accepted
    assert run_worker("s", data=str(tmp_path / "copy.csv"), wait=0).n_new_trials == 0
    # and by automl resume too, as the message says (it had no --data)
    resumed = run_sweep(resume_spec("s", n_trials=1, data=str(tmp_path / "copy.csv")))
    assert len(_study().trials) == trials + 1 and resumed.predict(frame.drop(columns="label")).shape == (len(frame),)


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def http_folder(tmp_path):
    """(folder served over HTTP on loopback, its base URL, the paths requested)."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_a_sweep_and_its_worker_read_the_data_over_http_and_refuse_changed_bytes(
        tmp_path, binary_df, http_folder, monkeypatch):
    folder, base, requests = http_folder
    binary_df.drop(columns="when").to_csv(folder / "train.csv", index=False)
    url = f"{base}/train.csv"
    with pytest.raises(InvalidParameterError, match="'data' must end in"):
        _sweep(tmp_path, f"{base}/train.txt")
    run_sweep(_sweep(tmp_path, url))
    record = StudyRecord.read(_study()).sweep
    assert record["data_uri"] == url and record["data_sha256"] == _sha(folder / "train.csv")
    assert requests == ["/train.csv"]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "worker-cache"))  # another machine: nothing cached
    assert run_worker("s", wait=0).n_new_trials == 0
    assert requests == ["/train.csv"] * 2
    assert list((tmp_path / "worker-cache" / "automl" / "data").iterdir()) == [
        tmp_path / "worker-cache" / "automl" / "data" / f"{record['data_sha256']}.csv"]
    run_sweep(resume_spec("s", n_trials=1))  # the cached copy, checked again, is reused
    assert requests == ["/train.csv"] * 2 and len(_study().trials) == 3
    (folder / "train.csv").write_text((folder / "train.csv").read_text() + "\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "third-cache"))
    with pytest.raises(StudyMismatchError, match=f"{url}.*{_sha(folder / 'train.csv')[:12]}.*"
                                                 f"{record['data_sha256'][:12]}"):
        run_worker("s", wait=0)
    assert list((tmp_path / "third-cache" / "automl" / "data").iterdir()) == []  # the changed bytes not kept


def test_a_study_stored_without_a_data_hash_is_still_joined_and_resumed(tmp_path, data_file):
    run_sweep(_sweep(tmp_path, "train.csv"))
    study = _study()
    old = {k: v for k, v in StudyRecord.read(study).sweep.items() if k not in ("data_uri", "data_sha256")}
    StudyWriter(study).sweep(old)  # the record as an earlier version stored it
    assert run_worker("s", wait=0).n_new_trials == 0
    run_sweep(resume_spec("s", n_trials=1))
    assert len(_study().trials) == 3
    StudyWriter(_study()).sweep(old)
    frame = pd.read_csv(data_file)
    frame.loc[0, "x"] = 99.0
    frame.to_csv(data_file, index=False)
    with pytest.raises(StudyMismatchError, match="created for other data or settings"):  # the fingerprint, as before
        run_worker("s", wait=0)
