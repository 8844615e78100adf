"""A torn or corrupt study journal, on real files: repaired before any write, or refused with the file and line."""

from __future__ import annotations

import json
import subprocess
import time
import sys
import warnings
from pathlib import Path

import optuna
import pytest

import automl
from automl.exceptions import AutoMLError, InvalidParameterError, JournalCorruptError, StorageError
from automl.search.storage import open_study
from automl.sweep import load_sweep, run_sweep


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _complete_trials(path: Path, name: str = "s") -> list[optuna.trial.FrozenTrial]:
    """The study's complete trials, read by plain Optuna (not by the code under test)."""
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(JournalFileBackend(str(path))))
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def _tear(path: Path, how: str) -> bytes:
    """Damage the end of the journal as a crash or a full disk would; return the bytes made torn."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    if how == "chop":  # the last append was cut short: its record loses its end and the newline
        cut = data[:-20]
        path.write_bytes(cut)
        return cut[cut.rfind(b"\n") + 1:]
    fragment = b'{"op_code":5,"worker_id":"dead-worker","trial_id":0,"val'
    path.write_bytes(data + fragment)  # a partial record after the last complete one
    return fragment


def _fit(storage: str, n_trials: int, binary_df):
    return automl.fit(binary_df.drop(columns="when"), target="label", storage=storage, study_name="s",
                      n_trials=n_trials, families=["linear"], isolation="none", cv=2, seed=0)


@pytest.mark.parametrize("how", ["chop", "partial"])
def test_a_torn_tail_is_set_aside_and_the_python_api_resumes_the_study(tmp_path, binary_df, how):
    journal = tmp_path / "s.journal"
    _fit(str(journal), 2, binary_df)
    before = _complete_trials(journal)
    torn = _tear(journal, how)
    with pytest.warns(UserWarning, match=rf"{journal}.*torn record \({len(torn)} bytes.*moved to {journal}.torn"):
        _fit(str(journal), 4, binary_df)
    assert journal.read_bytes().endswith(b"\n")
    for line in _lines(journal)[:-1]:
        json.loads(line)  # every line is a whole record: nothing was glued to the fragment
    assert torn in (tmp_path / "s.journal.torn").read_bytes()  # nothing lost
    after = _complete_trials(journal)
    assert len(after) > len(before) >= 1
    assert {t.number for t in before} <= {t.number for t in after}
    # A second open finds a sound journal: no warning, nothing more set aside.
    aside = (tmp_path / "s.journal.torn").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_study(str(journal), "s", direction="maximize", create=False)
    assert (tmp_path / "s.journal.torn").read_bytes() == aside


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path, binary_df):
    journal = tmp_path / "s.journal"
    _fit(str(journal), 2, binary_df)
    n = len(_complete_trials(journal))
    journal.write_bytes(journal.read_bytes()[:-1])  # only the final newline is missing
    study, _ = open_study(str(journal), "s", direction="maximize", create=False)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == n
    assert journal.read_bytes().endswith(b"}\n") and not (tmp_path / "s.journal.torn").exists()


def test_the_cli_resume_repairs_a_torn_journal_and_appends(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "s.yaml").write_text("data: train.csv\ntarget: label\nn_trials: 2\nfamilies: [linear]\ncv: 2\n"
                                     "study_name: s\nstorage: s.journal\nisolation: none\ntracking: false\n")
    run_sweep(load_sweep(tmp_path / "s.yaml"))
    journal = tmp_path / "s.journal"
    before = _complete_trials(journal)
    torn = _tear(journal, "partial")
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "resume", "--study", "s", "--storage", "s.journal", "--n-trials", "2"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "torn record" in out.stderr and "s.journal.torn" in out.stderr
    assert torn in (tmp_path / "s.journal.torn").read_bytes()
    after = _complete_trials(journal)
    assert len(after) == len(before) + 2


def test_a_corrupt_middle_line_is_refused_naming_the_file_the_line_and_the_fix(tmp_path, binary_df):
    journal = tmp_path / "s.journal"
    _fit(str(journal), 2, binary_df)
    lines = _lines(journal)
    bad = 3
    lines[bad - 1] = lines[bad - 1][:15]  # a record cut short, with records after it
    journal.write_bytes(b"\n".join(lines))
    original = journal.read_bytes()
    with pytest.raises(JournalCorruptError) as info:
        _fit(str(journal), 3, binary_df)
    message = str(info.value)
    assert str(journal) in message and f"line {bad}" in message and f"head -n {bad - 1} {journal}" in message
    assert isinstance(info.value, AutoMLError) and isinstance(info.value, ValueError)
    assert journal.read_bytes() == original  # refused: nothing written, nothing truncated
    script = Path(sys.executable).with_name("automl")
    out = subprocess.run([str(script), "leaderboard", "--study", "s", "--storage", str(journal)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode != 0 and "JSONDecodeError" not in out.stderr.splitlines()[0]
    assert f"corrupt at line {bad}" in out.stderr and str(journal) in out.stderr


def test_a_journal_of_valid_json_that_is_not_optuna_names_the_file(tmp_path):
    journal = tmp_path / "s.journal"
    journal.write_bytes(b'{"hello": 1}\n{"op_code": 0}\n')
    with pytest.raises(InvalidParameterError, match=rf"{journal}.*not a journal record"):  # refused before opening
        open_study(str(journal), "s", direction="maximize")
    assert journal.read_bytes() == b'{"hello": 1}\n{"op_code": 0}\n'
    journal.write_bytes(b'{"op_code": 0}\n{"hello": 1}\n')  # a journal broken in its middle: opened, then named
    with pytest.raises(StorageError, match=rf"{journal}"):
        open_study(str(journal), "s", direction="maximize")


@pytest.mark.filterwarnings("ignore:Query string argument")
def test_an_unreachable_database_is_a_typed_error_without_the_password(tmp_path):
    url = f"sqlite:///{tmp_path}/no/such/folder/x.db?password=hunter22"
    with pytest.raises(StorageError) as info:
        open_study(url, "s", direction="maximize")
    assert "hunter22" not in str(info.value) and "password=***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_record_being_written_under_the_lock_is_not_taken_for_a_torn_one(tmp_path, binary_df):
    import threading

    from optuna.storages.journal import JournalFileSymlinkLock

    journal = tmp_path / "s.journal"
    _fit(str(journal), 1, binary_df)
    n = len(_complete_trials(journal))
    record = json.dumps({"op_code": 2, "worker_id": "other-writer", "study_id": 0, "user_attr": {"k": 1}},
                        separators=(",", ":")).encode() + b"\n"
    lock = JournalFileSymlinkLock(str(journal))
    lock.acquire()  # another process is appending: it holds the lock and has written half its record
    with open(journal, "ab") as handle:
        handle.write(record[:10])
    opened: list = []
    reader = threading.Thread(target=lambda: opened.append(open_study(str(journal), "s", direction="maximize", create=False)))
    reader.start()
    time.sleep(1.0)
    assert reader.is_alive() and not opened  # waiting for the lock, not cutting the record
    with open(journal, "ab") as handle:
        handle.write(record[10:])
    lock.release()
    reader.join(timeout=30)
    assert opened and not (tmp_path / "s.journal.torn").exists()
    assert journal.read_bytes().endswith(record)
    assert opened[0][0].user_attrs["k"] == 1 and len(_complete_trials(journal)) == n


def test_a_peer_that_dies_mid_append_while_the_study_is_open_does_not_break_the_next_write(tmp_path, binary_df):
    journal = tmp_path / "s.journal"
    _fit(str(journal), 1, binary_df)
    study, _ = open_study(str(journal), "s", direction="maximize", create=False)
    fragment = b'{"op_code":8,"worker_id":"peer-killed-mid-write","trial_id":0,"user_a'
    with open(journal, "ab") as handle:  # the peer's append, cut short (it released nothing: no lock was taken)
        handle.write(fragment)
    with pytest.warns(UserWarning, match="torn record"):
        study.set_user_attr("after", 1)  # this process's next append
    assert fragment in (tmp_path / "s.journal.torn").read_bytes()
    from optuna.storages.journal import JournalFileBackend

    reread = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    assert reread.user_attrs["after"] == 1
