"""The ``automl`` command run as a user runs it: a real process on a terminal (a pty), a real MLflow
store and journal in tmp_path; what it prints, its exit codes and the files it leaves."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

GOLDEN_MODELS = Path(__file__).resolve().parents[1] / "golden" / "models"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOML_TRACKING", "MLFLOW_LOGGING_LEVEL")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def automl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m automl ...`` with captured output."""
    return subprocess.run([sys.executable, "-m", "automl", *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(), timeout=300)


def automl_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str, str]:
    """``python -m automl ...`` with standard error on a pseudo-terminal, as in a shell: ``(code, stdout, stderr)``."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "automl", *args], stdout=subprocess.PIPE, stderr=slave,
                               stdin=subprocess.DEVNULL, cwd=cwd, env=_env())
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout = process.communicate(timeout=400)[0].decode()
    reader.join(timeout=30)
    os.close(master)
    return process.returncode, stdout, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size if p.is_file() else -1) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict:
    """One tracked fit on the command line: linear and lightgbm, a journal study, a model folder."""
    folder = tmp_path_factory.mktemp("cli_user")
    rng = np.random.default_rng(0)
    n = 160
    frame = pd.DataFrame({"id": [f"{i:05d}" for i in range(n)], "customer": [f"c{i % 40}" for i in range(n)],
                          "a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = np.where(frame["a"] + 0.5 * frame["b"] + rng.normal(scale=0.5, size=n) > 0, "churn", "stay")
    frame.to_csv(folder / "train.csv", index=False)
    code, stdout, stderr = automl_on_a_terminal(
        "fit", "train.csv", "--target", "y", "--families", "linear,lightgbm", "--n-trials", "3", "--cv", "3",
        "--study", "s", "--storage", "studies.journal", "--tracking-uri", f"sqlite:///{folder}/mlflow.db",
        "--output", "model", cwd=folder)
    assert code == 0, stderr
    return {"folder": folder, "stdout": stdout, "stderr": stderr, "frame": frame}


def test_fit_prints_our_warnings_and_stages_and_no_library_chatter(fitted):
    err = fitted["stderr"]
    for noise in ("INFO", "\x1b[", "type hints", "ConvergenceWarning", "alembic", "UserWarning", "Traceback"):
        assert noise not in err, (noise, err)
    # our own warning, as ours, on a line of its own
    assert "\nautoml: warning: column 'id' has a different value in every row" in "\n" + err
    # the trials line is ended before the stages, which show on the progress line
    assert "3/3 trials | best" in err
    for stage in ("refitting the best model", "logging to MLflow", "saving the model to "):
        assert stage in err, err
    lines = err.replace("\r", "\n").split("\n")
    for line in lines:  # nothing glued onto a progress line
        assert "trials | best" not in line or line.strip().startswith(tuple("0123456789")), line
        assert line.count("automl:") <= 1 and (not line.strip() or "automl:" not in line
                                                or line.startswith("automl:")), line


def test_the_console_hides_library_warnings_and_is_undone_after(capsys):
    import logging
    import warnings

    from automl.cli.output import console

    logger = logging.getLogger("automl")
    before = (list(logger.handlers), logger.level, logger.propagate)
    with warnings.catch_warnings():
        warnings.resetwarnings()
        filters, show = list(warnings.filters), warnings.showwarning
        with console(verbose=False):
            exec("import warnings\nfrom sklearn.exceptions import ConvergenceWarning\n"  # noqa: S102
                 "warnings.warn('lbfgs failed to converge', ConvergenceWarning)", {"__name__": "sklearn.linear_model._x"})
            exec("import warnings\nwarnings.warn('column x is constant')", {"__name__": "automl.data.x"})  # noqa: S102
            logging.getLogger("mlflow.store.db.utils").info("Creating initial MLflow database tables...")
        assert warnings.filters == filters and warnings.showwarning is show
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    err = capsys.readouterr().err
    assert err == "automl: warning: column x is constant\n"


def test_a_mistyped_flag_gets_did_you_mean_and_no_abbreviation_is_taken(tmp_path):
    out = automl("fit", "train.csv", "--target", "y", "--n-trails", "3", cwd=tmp_path)
    assert out.returncode == 2
    assert "unrecognized arguments: --n-trails (did you mean --n-trials?)" in out.stderr
    out = automl("leaderboard", "--stu", "s", cwd=tmp_path)  # once an abbreviation of --study
    assert out.returncode == 2 and "--stu (did you mean --study?)" in out.stderr
    out = automl("--verbos", "families", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean --verbose?" in out.stderr
    out = automl("families", "--verbos", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean --verbose?" in out.stderr
    assert listing(tmp_path) == []


def test_the_top_switch_is_taken_after_the_command_too(tmp_path):
    # Once "unrecognized arguments: --verbose (did you mean --verbose?)": -v belonged before the command only.
    from automl.cli import build_parser

    for args in (["--verbose", "families"], ["families", "--verbose"], ["families", "-v"]):
        assert build_parser().parse_args(args).verbose, args
    assert not build_parser().parse_args(["families"]).verbose
    out = automl("families", "--verbose", cwd=tmp_path)
    assert out.returncode == 0 and "unrecognized" not in out.stderr, out.stderr


def test_every_parser_refuses_abbreviations():
    import argparse

    from automl.cli import build_parser

    parsers, seen = [build_parser()], 0
    while parsers:
        parser = parsers.pop()
        seen += 1
        assert parser.allow_abbrev is False, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    assert seen > 10


def test_every_command_that_writes_takes_o_for_output():
    """`automl predict ... -o p.csv` worked but `automl fit ... -o model` was refused as an unknown argument."""
    import argparse

    from automl.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    writing = {name: next(a for a in sub._actions if a.dest == "output")
               for name, sub in commands.items() if any(a.dest == "output" for a in sub._actions)}
    assert {"fit", "demo", "resume", "predict", "explain"} <= set(writing)
    assert {name: action.option_strings for name, action in writing.items()} == {
        name: ["-o", "--output"] for name in writing}


def test_read_only_commands_create_no_file(tmp_path, fitted):
    model = str(fitted["folder"] / "model")
    (tmp_path / "sweep.yaml").write_text("data: t.csv\ntarget: y\nn_trials: 2\n")
    (tmp_path / "t.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))  # --check reads it
    fit_before = listing(fitted["folder"])
    before = listing(tmp_path)
    runs = [
        (["leaderboard", "--storage", "x.journal", "--study", "s"], 2, "x.journal does not exist"),
        (["leaderboard", "--study", "s"], 2, "automl-studies.journal does not exist"),
        (["leaderboard", "--storage", "sqlite:///y.db", "--study", "s"], 2, "y.db does not exist"),
        (["leaderboard", "--storage", "journal:///sub/z.journal", "--study", "s"], 2, "does not exist"),
        (["leaderboard", str(tmp_path)], 2, "manifest.json is missing"),
        (["leaderboard", "nomodel"], 2, "'nomodel' does not exist; pass the folder model.save(...)"),
        (["leaderboard", model], 0, "linear"),
        (["leaderboard", "--study", "t", "--storage", str(fitted["folder"] / "studies.journal")], 2, "no study named 't'"),
        (["predict", "nomodel", "t.csv"], 2, "'nomodel' does not exist"),
        (["predict", model, "t.csv", "--keep-columns", "nothere"], 2, "no column 'nothere'"),
        (["ui"], 2, "no MLflow store"),
        (["sweep", "sweep.yaml", "--check"], 0, "OK"),
        (["spaces", "show", "linear"], 0, ""),
    ]
    for args, code, text in runs:
        out = automl(*args, cwd=tmp_path)
        assert out.returncode == code and text in out.stdout + out.stderr, (args, out.stdout, out.stderr)
        assert listing(tmp_path) == before, args
    assert listing(fitted["folder"]) == fit_before


def test_leaderboard_of_a_model_folder(tmp_path, fitted):
    out = automl("leaderboard", str(fitted["folder"] / "model"), "--top", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].split()[:3] == ["rank", "trial", "family"]
    assert f"more trials (automl leaderboard {fitted['folder'] / 'model'} --top 0 shows all)" in out.stdout
    out = automl("leaderboard", str(GOLDEN_MODELS / "ensemble_binary"), "--top", "0", cwd=tmp_path)
    assert out.returncode == 0 and "ensemble" in out.stdout, out.stderr  # saved before params were JSON
    out = automl("leaderboard", "model", "--study", "s", cwd=fitted["folder"])
    assert out.returncode == 2 and "one of them; got both" in out.stderr


def test_leaderboard_csv_holds_params_as_json_and_reads_back(tmp_path, fitted):
    from automl.persistence import read_leaderboard

    saved = pd.read_csv(fitted["folder"] / "model" / "leaderboard.csv")
    params = [json.loads(text) for text in saved["params"]]
    assert all(isinstance(p, dict) and p for p in params)
    board = read_leaderboard(fitted["folder"] / "model")
    assert board["params"].tolist() == params
    out = automl("leaderboard", str(fitted["folder"] / "model"), "--csv", "board.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [json.loads(t) for t in pd.read_csv(tmp_path / "board.csv")["params"]] == params
    assert read_leaderboard(GOLDEN_MODELS / "linear_multiclass")["params"].map(type).eq(dict).all()


def test_predict_keeps_id_columns_beside_the_predictions(tmp_path, fitted):
    frame = fitted["frame"]
    frame.drop(columns="y").head(20).to_csv(tmp_path / "new.csv", index=False)
    model = str(fitted["folder"] / "model")
    out = automl("predict", model, "new.csv", "-o", "p.csv", "--keep-columns", "id,customer", "--proba", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    written = pd.read_csv(tmp_path / "p.csv", dtype={"id": str})
    assert list(written.columns) == ["id", "customer", "churn", "stay"]
    assert written["id"].tolist() == frame["id"].head(20).tolist()  # "00007" stays "00007"
    assert written["customer"].tolist() == frame["customer"].head(20).tolist()
    out = automl("predict", model, "new.csv", "-o", "q.csv", "--keep-columns", "id,custmer", cwd=tmp_path)
    assert out.returncode == 2
    assert "--keep-columns: new.csv has no column 'custmer' (did you mean 'customer'?)" in out.stderr
    assert not (tmp_path / "q.csv").exists()
