"""Edges of the ``automl`` command found by testers: refused commands exit 2, say the rule, the value and
the fix, and write nothing; interrupts name the study that keeps the trials; ``predict -o`` writes what
its suffix says. The refusals run the real console script in ``tmp_path``; the rest call the functions."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOML_STORAGE", "MLFLOW_TRACKING_URI")}
    env["PYTHONPATH"] = str(ROOT)
    env["AUTOML_TRACKING"] = "0"
    return env


def automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The ``automl`` console script of this interpreter, run in ``cwd``."""
    script = Path(sys.executable).parent / "automl"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "automl"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, env=_env(), timeout=120)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def in_process(*args: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess:
    """:func:`automl.cli.main` run in ``cwd`` in this process (faster than a process: the imports are done)."""
    from automl.cli import main

    before = Path.cwd()
    os.chdir(cwd)
    try:
        code = main(list(args))
    except SystemExit as exc:  # --help
        code = int(exc.code or 0)
    finally:
        os.chdir(before)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)


def refused(done: subprocess.CompletedProcess, *parts: str) -> None:
    """Exit code 2, one ``automl: error:`` line holding every part, a hint, no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("automl: error: "), done.stderr
    for part in parts:
        assert part in done.stderr, (part, done.stderr)


def _csv(folder: Path, name: str = "d.csv", rows: int = 20) -> Path:
    lines = ["a,b,c,y"] + [f"{i},{i % 3},{i * 2 % 7},{i % 2}" for i in range(rows)]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


# -- 1. a study command that is refused creates no storage -------------------------------------------------
@pytest.mark.parametrize("args", [
    ("resume", "--study", "nope", "--time-budget", "5"),
    ("resume", "--study", "nope", "--storage", "sqlite:///r.db"),
    ("worker", "--study", "nope", "--storage", "sqlite:///w.db", "--wait", "1"),
], ids=["resume-default-journal", "resume-sqlite", "worker-sqlite"])
def test_a_study_command_on_a_missing_storage_creates_none(tmp_path, args):
    done = automl(*args, cwd=tmp_path)
    store = "r.db" if "r.db" in args[-1] else "w.db" if "worker" in args else "automl-studies.journal"
    refused(done, "no study named 'nope'", f"the study storage {store} does not exist", "pass the storage the sweep used")
    assert listing(tmp_path) == []


def test_opening_a_study_without_creating_it_never_creates_its_file(tmp_path):
    from automl.exceptions import StudyNotFoundError
    from automl.search.storage import open_study

    for storage in (f"sqlite:///{tmp_path / 'sub' / 's.db'}", str(tmp_path / "sub" / "s.journal")):
        with pytest.raises(StudyNotFoundError, match="does not exist") as info:
            open_study(storage, "s", direction="maximize", create=False)
        assert isinstance(info.value, LookupError)
    assert listing(tmp_path) == []


def test_a_worker_still_waits_for_a_storage_that_does_not_exist_yet(tmp_path):
    from automl.exceptions import StudyNotFoundError
    from automl.sweep import _sweep_of_study

    started = time.monotonic()
    with pytest.raises(StudyNotFoundError, match="does not exist"):
        _sweep_of_study("s", str(tmp_path / "later.journal"), 1.0)
    assert time.monotonic() - started >= 1.0  # it waited, polling, without creating the file
    assert listing(tmp_path) == []


# -- 2. duplicate header names in a CSV ------------------------------------------------------------------
def test_a_csv_with_a_column_name_twice_is_refused_naming_it_and_the_file(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a,a,c,y\n" + "".join(f"{i},{i},{i},{i % 2}\n" for i in range(20)))
    done = in_process("fit", "d.csv", "--target", "y", "--n-trials", "1", "--families", "linear", "--no-tracking",
                      cwd=tmp_path, capsys=capsys)
    refused(done, "d.csv", "duplicate column names", "'a' (2 times)", "rename the columns so each name is used once")
    assert listing(tmp_path) == ["d.csv"]


def test_duplicate_header_names_are_read_as_pandas_reads_the_header(tmp_path):
    from automl.data.tables import read_table
    from automl.exceptions import InvalidParameterError

    quoted = tmp_path / "q.csv"
    quoted.write_text('\n"b","x",b\n1,2,3\n')  # a blank first line and quotes, as pandas skips and strips them
    with pytest.raises(InvalidParameterError, match=r"'b' \(2 times\)") as info:
        read_table(quoted)
    assert isinstance(info.value, ValueError)
    unnamed = tmp_path / "u.csv"
    unnamed.write_text(",,y\n1,2,3\n")  # empty names: pandas names them Unnamed: 0, Unnamed: 1
    assert list(read_table(unnamed).columns) == ["Unnamed: 0", "Unnamed: 1", "y"]


# -- 3. duplicate keys in YAML files ---------------------------------------------------------------------
def test_a_sweep_file_with_a_key_twice_is_refused_naming_the_key_and_its_lines(tmp_path):
    _csv(tmp_path)
    (tmp_path / "s.yaml").write_text("data: d.csv\ntarget: y\nn_trials: 1\nn_trials: 3\n")
    done = automl("sweep", "s.yaml", "--check", cwd=tmp_path)  # the real script: the file is read once, here
    refused(done, "s.yaml", "duplicate key 'n_trials' at line 4 (first at line 3)", "a key may appear once",
            "remove or rename one of them")
    assert listing(tmp_path) == ["d.csv", "s.yaml"]


@pytest.mark.parametrize("text", [
    "linear:\n  C: 1.0\n  C: 2.0\n",
    "family: knn\nparams:\n  p: {type: categorical, choices: [1, 2], default: 2}\n"
    "  p: {type: categorical, choices: [1, 2], default: 1}\n",
], ids=["overrides", "whole-space"])
def test_a_search_space_file_with_a_key_twice_is_refused(tmp_path, monkeypatch, capsys, text):
    from automl.cli import main

    (tmp_path / "sp.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["spaces", "check", "sp.yaml"]) == 2
    err = capsys.readouterr().err
    key, line = ("'C'", 3) if text.startswith("linear") else ("'p'", 4)
    assert f"duplicate key {key} at line {line} (first at line {line - 1})" in err and "remove or rename" in err
    assert listing(tmp_path) == ["sp.yaml"]


def test_every_yaml_reader_of_the_package_refuses_duplicate_keys(tmp_path):
    from automl.exceptions import SearchSpaceError
    from automl.spaces.loader import load_space_file
    from automl.spaces.overrides import load_overrides

    path = tmp_path / "o.yaml"
    path.write_text("knn: {n_neighbors: 3}\nknn: {n_neighbors: 5}\n")
    with pytest.raises(SearchSpaceError, match="duplicate key 'knn' at line 2"):
        load_overrides(str(path))
    with pytest.raises(SearchSpaceError, match="duplicate key 'knn' at line 2"):
        load_space_file(path)
    source = (ROOT / "automl").rglob("*.py")
    readers = [str(p) for p in source if "yaml.safe_load(" in p.read_text() and "worker_scripts" not in p.name]
    assert readers == []  # one loader (automl.spaces.yaml_files.load_yaml) reads every YAML file


# -- 4. --workers below 1 --------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["fit", "d.csv", "--target", "y", "--n-trials", "1", "--workers", "0"],
    ["sweep", "s.yaml", "--workers", "-3"],
    ["resume", "--study", "s", "--workers", "0"],
], ids=["fit", "sweep", "resume"])
def test_workers_below_one_are_refused_on_every_command(tmp_path, monkeypatch, capsys, args):
    from automl.cli import main

    _csv(tmp_path)
    (tmp_path / "s.yaml").write_text("data: d.csv\ntarget: y\nn_trials: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    assert main(args) == 2
    err = capsys.readouterr().err
    value = args[-1]
    assert f"--workers must be a whole number >= 1 (the processes working on the study, this one included); " \
           f"got --workers {value}; pass --workers 1" in err
    assert listing(tmp_path) == ["d.csv", "s.yaml"]


# -- 5. what an interrupt says was kept ------------------------------------------------------------------
@pytest.mark.parametrize(("study", "terminated"), [(True, False), (True, True), (False, False)],
                         ids=["named-ctrl-c", "named-sigterm", "no-study"])
def test_an_interrupt_names_the_study_that_keeps_the_trials(tmp_path, monkeypatch, capsys, study, terminated):
    import automl.sweep
    from automl._spawn import Terminated
    from automl.cli import main

    def interrupted(spec, callbacks=()):  # noqa: ANN001, ANN202 - run_sweep's signature
        raise Terminated() if terminated else KeyboardInterrupt()

    _csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(automl.sweep, "run_sweep", interrupted)
    named = ["--study", "churn", "--storage", "runs.journal"] if study else []
    code = main(["fit", "d.csv", "--target", "y", "--n-trials", "1", "--no-tracking", *named])
    err = capsys.readouterr().err
    assert code == (143 if terminated else 130)
    assert ("automl: terminated (SIGTERM); " if terminated else "automl: interrupted; ") in err
    assert "NAME)" not in err
    if study:
        assert "finished trials are kept in study 'churn' in journal:runs.journal (continue with: automl resume " \
               "--study churn --storage runs.journal)" in err
    else:
        assert "nothing is kept: the search had no study name" in err and "pass --study NAME" in err
    assert listing(tmp_path) == ["d.csv"]


def test_a_helpers_interrupt_line_names_the_storage_its_environment_gave_it(tmp_path, monkeypatch, capsys):
    """A ``--workers`` helper gets its storage in ``$AUTOML_STORAGE``; its SIGTERM line said
    ``automl resume --study s`` (the default journal) where the study was in another file."""
    from automl._spawn import Terminated
    from automl.cli import commands, main

    def terminated(args):  # noqa: ANN001, ANN202
        raise Terminated()

    monkeypatch.setattr(commands, "worker", terminated)
    monkeypatch.setenv("AUTOML_STORAGE", str(tmp_path / "my runs.journal"))
    assert main(["worker", "--study", "s"]) == 143
    err = capsys.readouterr().err
    assert f"(continue with: automl resume --study s --storage '{tmp_path / 'my runs.journal'}')" in err


def test_an_interrupt_of_a_command_that_searches_nothing_claims_no_study(monkeypatch, capsys):
    from automl.cli import commands, main

    def interrupted(args):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "families", interrupted)
    assert main(["families"]) == 130
    assert capsys.readouterr().err == "automl: interrupted\n"


# -- 6. predict -o: Parquet for .parquet, standard output for - -----------------------------------------
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import automl

    folder = tmp_path_factory.mktemp("model")
    model = automl.fit(pd.read_csv(_csv(folder)), target="y", n_trials=1, families=["linear"], cv=2, ensemble=False,
                       tracking=False, isolation="none")
    return Path(model.save(folder / "m"))


def test_predict_writes_parquet_for_a_parquet_name_and_csv_to_stdout_for_a_dash(model_dir, tmp_path, capsys):
    data = _csv(tmp_path, "new.csv", rows=6)
    done = in_process("predict", str(model_dir), "new.csv", "-o", "p.parquet", cwd=tmp_path, capsys=capsys)
    assert done.returncode == 0, done.stderr
    assert pd.read_parquet(tmp_path / "p.parquet").columns.tolist() == ["prediction"]
    assert len(pd.read_parquet(tmp_path / "p.parquet")) == 6
    done = automl("predict", str(model_dir), str(data), "-o", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "prediction" and len(done.stdout.splitlines()) == 7
    assert "6 predictions written to standard output" in done.stderr
    assert listing(tmp_path) == ["new.csv", "p.parquet"]  # no file named -


# -- 7. messages -----------------------------------------------------------------------------------------
def test_the_target_as_the_groups_column_is_refused_as_such(tmp_path, capsys):
    _csv(tmp_path)
    done = in_process("fit", "d.csv", "--target", "y", "--cv", "group:y", "--n-trials", "1", "--no-tracking",
                      cwd=tmp_path, capsys=capsys)
    refused(done, "cv='group:y'", "'y' is the target, and the target cannot be the groups column",
            "pass cv='group:COLUMN' with another column")
    assert "unknown column" not in done.stderr
    assert listing(tmp_path) == ["d.csv"]


def test_a_csv_with_a_header_and_no_rows_is_refused_naming_the_file(tmp_path, capsys):
    (tmp_path / "h.csv").write_text("a,b,y\n")
    done = in_process("fit", "h.csv", "--target", "y", "--n-trials", "1", "--families", "linear", "--no-tracking",
                      cwd=tmp_path, capsys=capsys)
    refused(done, "h.csv", "has a header but no rows", "pass a file with rows")
    assert "X is empty" not in done.stderr
    assert listing(tmp_path) == ["h.csv"]


def test_the_leaderboard_of_a_study_without_trials_says_so(tmp_path, monkeypatch, capsys):
    from automl.cli import main
    from automl.search.storage import open_study

    open_study(str(tmp_path / "s.journal"), "s", direction="maximize")
    before = listing(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "--study", "s", "--storage", "s.journal"]) == 0
    out = capsys.readouterr().out
    assert "study 's' has no trials yet" in out and "Empty DataFrame" not in out
    assert listing(tmp_path) == before


def test_the_help_lists_every_exit_code(tmp_path, capsys):
    done = in_process("--help", cwd=tmp_path, capsys=capsys)
    assert done.returncode == 0
    assert "130 interrupted (Ctrl-C)" in done.stdout and "143 terminated (SIGTERM)" in done.stdout
    assert listing(tmp_path) == []


def test_the_continue_and_join_lines_name_the_storage_and_quote_the_study(tmp_path, monkeypatch, capsys):
    """Printed after a sweep, they are commands to paste: ``--storage`` of a store that is not the default, and a
    study name with a space quoted (they once read ``automl resume --study a b``, without ``--storage``)."""
    from automl.cli import main

    _csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "d.csv", "--target", "y", "--n-trials", "1", "--no-tracking", "--families", "linear",
                 "--cv", "2", "--study", "churn v2", "--storage", "runs.journal"])
    assert code == 0
    out = capsys.readouterr().out
    assert ("continue it: automl resume --study 'churn v2' --storage runs.journal; "
            "join it: automl worker --study 'churn v2' --storage runs.journal") in out


@pytest.mark.parametrize(("uri", "said"), [("foo://bar", "MLflow cannot show a 'foo' store"),
                                           ("DIR", "is a folder store, which MLflow 3 refuses")])
def test_automl_ui_refuses_a_store_mlflow_cannot_serve_before_starting_it(tmp_path, capsys, monkeypatch, uri, said):
    from automl.cli import main

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    assert main(["ui", "--tracking-uri", str(tmp_path) if uri == "DIR" else uri, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


@pytest.mark.parametrize(("line", "said"), [("trial_timeout: 0.5", "below 1 s"), ("target: tgt", "unknown column 'tgt'"),
                                            ("cv: group:5", "needs groups"), ("sample_weight: ww", "'ww'")])
def test_sweep_check_refuses_what_the_run_would_refuse_and_writes_nothing(tmp_path, line, said):
    """``--check`` read no data, and said OK to files whose run then failed."""
    _csv(tmp_path, rows=40)
    body = {"data": "data: d.csv", "target": "target: y", "n_trials": "n_trials: 1", "tracking": "tracking: false"}
    body[line.split(":")[0]] = line
    (tmp_path / "s.yaml").write_text("\n".join(body.values()) + "\n")
    done = automl("sweep", "s.yaml", "--check", cwd=tmp_path)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert listing(tmp_path) == ["d.csv", "s.yaml"]


@pytest.mark.parametrize(("args", "said"), [
    (["--cv", "group:y2", "--sample-weight", "y2"], "is named as both sample_weight and cv='group:y2'"),
    (["--cv", "group:"], "names no group column"),
    (["--cv", "group:5"], "--cv group:COLUMN"),
])
def test_cli_group_folds_refusals_name_a_fix_the_command_line_has(tmp_path, args, said):
    data = _csv(tmp_path, rows=40)
    frame = pd.read_csv(data).assign(y2=lambda f: f["b"])
    frame.to_csv(data, index=False)
    done = automl("fit", "d.csv", "--target", "y", "--n-trials", "1", "--no-tracking", *args, cwd=tmp_path)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert listing(tmp_path) == ["d.csv"]


def test_predict_on_an_empty_file_says_what_a_file_needs(tmp_path, model_dir):
    (tmp_path / "empty.csv").write_bytes(b"")
    done = automl("predict", str(model_dir), "empty.csv", cwd=tmp_path)
    assert done.returncode == 2 and "is empty (not even a header line)" in done.stderr


def test_a_folder_of_parquet_files_is_read_as_one_table_and_another_folder_is_refused_by_name(tmp_path):
    """A Spark or pyarrow data set is a folder of Parquet files (partitioned ``key=value`` folders too); before,
    any folder was "data file not found"."""
    from automl.data.tables import read_table
    from automl.exceptions import InvalidParameterError

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "part": ["a", "a", "b", "b"]})
    frame.to_parquet(tmp_path / "out.parquet", partition_cols=["part"])
    read = read_table(tmp_path / "out.parquet")
    assert sorted(read["x"].tolist()) == [1.0, 2.0, 3.0, 4.0] and len(read) == 4
    (tmp_path / "empty").mkdir()
    for path, said in ((tmp_path / "empty", "is a folder with no Parquet file in it"),
                       (tmp_path / "gone.parquet", "not found")):
        with pytest.raises(InvalidParameterError, match=f"'{path}' {said}; pass the path of a CSV or Parquet file"):
            read_table(path)


def test_a_folder_given_as_data_is_searched_for_parquet_files_only_so_far(tmp_path, monkeypatch):
    """A folder given by mistake (a home folder) was walked to its end, every file of every subfolder, before the
    error; the search now stops after a bounded number of file names."""
    from automl.data import tables
    from automl.exceptions import InvalidParameterError

    for i in range(5):
        (tmp_path / f"note{i}.txt").write_text("x")
    (tmp_path / "deep").mkdir()
    pd.DataFrame({"x": [1.0]}).to_parquet(tmp_path / "deep" / "late.parquet")
    assert tables.is_parquet_folder(str(tmp_path))
    monkeypatch.setattr(tables, "_FOLDER_NAMES_READ", 3)
    with pytest.raises(InvalidParameterError, match="is a folder with no Parquet file in it"):
        tables.read_table(tmp_path)
