"""Saving never destroys what is not a model, swaps atomically under readers and writers, and a pinned digest
catches a folder rewritten whole (issue 18, items 3, 4, 10 and 13). Real files and real processes throughout."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automl
from automl import _folder_swap, model_files

ROOT = Path(__file__).resolve().parents[1]


def _frame(sign: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    return pd.DataFrame({"x": x, "z": rng.normal(size=60), "y": sign * 3 * x + 1 + rng.normal(0, 0.1, 60)})


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two tiny regressors whose predictions differ everywhere, fitted once, and the rows to compare them on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("fit"))
        mp.setenv("AUTOML_TRACKING", "0")
        mp.delenv("AUTOML_STORAGE", raising=False)
        settings = dict(n_trials=1, families=["linear"], cv=2, ensemble=False, isolation="none", n_jobs=1)
        a = automl.fit(_frame(1.0), target="y", **settings)
        b = automl.fit(_frame(-1.0), target="y", **settings)
    X = _frame(1.0).drop(columns="y").head(10)
    assert not np.allclose(a.predict(X), b.predict(X))
    return a, b, X


def _same(model, other, X) -> bool:
    return bool(np.allclose(model.predict(X), other.predict(X)))


def _run_python(code: str, *args: str, timeout: float = 120) -> subprocess.Popen:
    env = dict(os.environ, AUTOML_TRACKING="0", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# --- item 3: overwrite replaces only a model folder --------------------------------------------------------


def test_overwrite_never_deletes_a_folder_that_is_not_a_model(models, tmp_path):
    a, _, _ = models
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(automl.InvalidParameterError, match=r"out.*not an automl model folder.*choose another path"):
        a.save(folder, overwrite=True)
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_overwrite_never_deletes_a_users_file_inside_a_model_folder(models, tmp_path):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(automl.InvalidParameterError, match="notes.txt"):
        b.save(folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"
    assert _same(automl.load(folder), a, X)


def test_a_plain_file_or_a_link_at_the_path_is_refused(models, tmp_path):
    a, _, _ = models
    file = tmp_path / "model"
    file.write_text("data")
    for overwrite in (False, True):
        with pytest.raises(automl.InvalidParameterError, match="is a file"):
            a.save(file, overwrite=overwrite)
    assert file.read_text() == "data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    with pytest.raises(automl.InvalidParameterError, match="symbolic link"):
        a.save(tmp_path / "link", overwrite=True)
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "link",
                                                                                              "model"]


def test_replacing_a_model_folder_leaves_only_the_new_model(models, tmp_path):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)
    inode = folder.stat().st_ino
    b.save(folder, overwrite=True)
    assert _same(automl.load(folder), b, X)
    assert folder.stat().st_ino != inode  # a new folder swapped in, not files rewritten in place
    listed = set(json.loads((folder / "manifest.json").read_text())["files"]) | {"manifest.json"}
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == listed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with pytest.raises(automl.InvalidParameterError, match="already holds an automl model.*overwrite=True"):
        a.save(folder)


def test_a_folder_changed_between_the_check_and_the_swap_is_put_back(models, tmp_path, monkeypatch):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)
    real = _folder_swap.exchange
    calls = []

    def user_writes_just_before_the_swap(source, target):
        if not calls:
            (target / "late.txt").write_text("written after the check")
        calls.append(1)
        real(source, target)

    monkeypatch.setattr(_folder_swap, "exchange", user_writes_just_before_the_swap)
    with pytest.raises(automl.InvalidParameterError, match="changed while the model was being saved.*late.txt"):
        b.save(folder, overwrite=True)
    assert (folder / "late.txt").read_text() == "written after the check"
    (folder / "late.txt").unlink()
    assert _same(automl.load(folder), a, X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_folder_that_cannot_be_put_back_is_kept_never_deleted(models, tmp_path, monkeypatch):
    a, b, _ = models
    folder = tmp_path / "model"
    a.save(folder)
    real = _folder_swap.exchange
    calls = []

    def swap_then_fail_to_swap_back(source, target):
        calls.append(1)
        if len(calls) == 1:
            (target / "late.txt").write_text("precious")
            return real(source, target)
        raise OSError(errno.EIO, "injected failure", str(target))

    monkeypatch.setattr(_folder_swap, "exchange", swap_then_fail_to_swap_back)
    with pytest.raises(OSError, match="injected failure"):
        b.save(folder, overwrite=True)
    kept = [p for p in tmp_path.rglob("late.txt")]
    assert [p.read_text() for p in kept] == ["precious"]  # moved aside by the swap, but not deleted


# --- item 4: failures at the swap, concurrent readers, concurrent writers ---------------------------------


def test_a_failed_swap_leaves_the_old_model_loadable_and_no_leftovers(models, tmp_path, monkeypatch):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)

    def broken(source, target):
        raise OSError(errno.EIO, "injected failure", str(target))

    monkeypatch.setattr(_folder_swap, "exchange", broken)
    with pytest.raises(OSError, match="injected failure"):
        b.save(folder, overwrite=True)
    assert _same(automl.load(folder), a, X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_without_renameat2_a_failed_rename_in_puts_the_old_model_back(models, tmp_path, monkeypatch):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)
    monkeypatch.setattr(_folder_swap, "_rename2", lambda *args: False)  # the fallback: three renames
    real = os.rename

    def fail_moving_in(source, target):
        if Path(target) == folder and str(source).endswith(".saving"):
            raise OSError(errno.EIO, "injected failure", str(target))
        real(source, target)

    monkeypatch.setattr(os, "rename", fail_moving_in)
    with pytest.raises(OSError, match="injected failure"):
        b.save(folder, overwrite=True)
    monkeypatch.setattr(os, "rename", real)
    assert _same(automl.load(folder), a, X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    b.save(folder, overwrite=True)  # and the fallback does replace when nothing fails
    assert _same(automl.load(folder), b, X) and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


READER = """
    import json, sys, time, traceback
    from pathlib import Path
    import numpy as np, pandas as pd
    import automl
    folder, X, expected, stop = sys.argv[1], pd.read_pickle(sys.argv[2]), np.load(sys.argv[3]), Path(sys.argv[4])
    seen, errors, ends = [], [], time.time() + 60
    automl.load(folder).predict(X)  # the first load imports scikit-learn: not part of the race
    Path(sys.argv[5]).write_text("ready")
    while not stop.exists() and time.time() < ends:
        try:
            p = automl.load(folder).predict(X)
            seen.append([i for i in range(len(expected)) if np.allclose(p, expected[i])])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"seen": seen, "errors": errors}))
"""


def test_readers_never_fail_while_the_folder_is_re_saved(models, tmp_path):
    a, b, X = models
    folder = tmp_path / "model"
    a.save(folder)
    X.to_pickle(tmp_path / "X.pkl")
    np.save(tmp_path / "expected.npy", np.stack([a.predict(X), b.predict(X)]))
    reader = _run_python(READER, str(folder), str(tmp_path / "X.pkl"), str(tmp_path / "expected.npy"),
                         str(tmp_path / "stop"), str(tmp_path / "ready"))
    try:
        deadline = time.time() + 60
        while not (tmp_path / "ready").exists() and time.time() < deadline:
            time.sleep(0.05)
        saves, until, last = 0, time.time() + 2.0, a
        while saves < 30 or time.time() < until:  # at least 30 re-saves, over at least 2 s
            last = b if saves % 2 == 0 else a
            last.save(folder, overwrite=True)
            saves += 1
        (tmp_path / "stop").write_text("")
        out, err = reader.communicate(timeout=60)
    finally:
        reader.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["errors"] == []
    assert len(result["seen"]) >= 10, err
    assert all(len(s) == 1 for s in result["seen"])  # every load is model a or model b, whole
    assert len({s[0] for s in result["seen"]}) == 2  # it did see both models
    assert _same(automl.load(folder), last, X)
    print(f"{saves} re-saves, {len(result['seen'])} loads, none failed")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


WRITER = """
    import sys, time
    from pathlib import Path
    import automl
    me, other, model, root, rounds = sys.argv[1], sys.argv[2], automl.load(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5])
    for r in range(rounds):
        (root / f"ready-{me}-{r}").write_text("")
        while not (root / f"ready-{other}-{r}").exists():
            time.sleep(0.0005)
        try:
            model.save(root / f"target-{r}")
            print(r, "saved", flush=True)
        except automl.InvalidParameterError as exc:
            print(r, "refused", str(exc).replace(chr(10), " "), flush=True)
"""


def test_two_writers_to_one_new_path_one_wins_the_other_gets_a_typed_error(models, tmp_path):
    a, b, X = models
    a.save(tmp_path / "src-a")
    b.save(tmp_path / "src-b")
    rounds = 4
    runs = tmp_path / "runs"
    runs.mkdir()
    procs = [_run_python(WRITER, "a", "b", str(tmp_path / "src-a"), str(runs), str(rounds)),
             _run_python(WRITER, "b", "a", str(tmp_path / "src-b"), str(runs), str(rounds))]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        outs.append({int(line.split()[0]): line.split()[1] for line in out.strip().splitlines()})
    for r in range(rounds):
        results = [outs[0][r], outs[1][r]]
        assert sorted(results) == ["refused", "saved"], (r, results)
        winner = a if results[0] == "saved" else b
        assert _same(automl.load(runs / f"target-{r}"), winner, X)
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".")]  # no staging folder left


# --- item 13: a pinned digest ------------------------------------------------------------------------------


def test_a_pinned_digest_catches_a_folder_rewritten_with_its_manifest(models, tmp_path, caplog):
    a, b, X = models
    folder = tmp_path / "model"
    with caplog.at_level("INFO", logger="automl.persistence"):
        a.save(folder)
    digest = automl.model_digest(folder)
    assert digest == "sha256:" + hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert digest in caplog.text  # save tells the user the digest to pin
    assert _same(automl.load(folder, digest=digest), a, X)
    assert _same(automl.load(folder, digest=digest.removeprefix("sha256:").upper()), a, X)
    wrong = "sha256:" + "0" * 64
    with pytest.raises(automl.ModelFileError, match=f"{digest}.*{wrong}"):
        automl.load(folder, digest=wrong)
    with pytest.raises(automl.InvalidParameterError, match="64 hex digits"):
        automl.load(folder, digest="abc")
    # An attacker swaps in another model.pkl and rewrites its hash in the manifest: the hashes cannot tell...
    b.save(tmp_path / "evil")
    (folder / "model.pkl").write_bytes((tmp_path / "evil" / "model.pkl").read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.pkl"] = hashlib.sha256((folder / "model.pkl").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert _same(automl.load(folder), b, X)
    with pytest.raises(automl.ModelFileError, match="not the pinned"):  # ...the pinned digest can
        automl.load(folder, digest=digest)


def test_model_digest_refuses_a_damaged_folder(models, tmp_path):
    a, _, _ = models
    folder = tmp_path / "model"
    a.save(folder)
    with open(folder / "leaderboard.csv", "a") as handle:
        handle.write("x")
    with pytest.raises(automl.ModelFileError, match="leaderboard.csv.*SHA-256"):
        automl.model_digest(folder)


# --- item 10 (manifest part): every malformed manifest is a ModelFileError naming the file and the field -----

MALFORMED = [
    ("files", []), ("files", "model.pkl"), ("files", None), ("files", {"model.pkl": 1}),
    ("files", {"model.pkl": None}), ("files", {"model.pkl": "abc"}), ("files", {"model.pkl": ["x"]}),
    ("format_version", True), ("format_version", "2"), ("format_version", 2.0), ("format_version", None),
    ("format_version", -1), ("format_version", []), ("format_version", {}),
    ("requires", "torch"), ("requires", {"torch": 1}), ("requires", [1]), ("requires", [None]),
    ("requires", [""]), ("requires", ["../x"]), ("requires", [["torch"]]),
    ("versions", []), ("versions", "numpy"), ("versions", {"numpy": 1}), ("versions", {"numpy": []}),
    ("best", []), ("best", "linear"), ("best", {"family": 3}), ("best", {"family": ["linear"]}),
    ("classes", "ab"), ("schema", []), ("study", "s"), ("task", 1), ("metric", []), ("estimator", None),
]


@pytest.fixture
def saved(models, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    models[0].save(folder)
    return folder, json.loads((folder / "manifest.json").read_text())


@pytest.mark.parametrize(("field", "value"), MALFORMED, ids=[f"{f}={v!r}" for f, v in MALFORMED])
def test_a_malformed_manifest_field_is_a_model_file_error_naming_it(saved, monkeypatch, field, value):
    folder, manifest = saved
    manifest[field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))

    def refuse(*args, **kwargs):
        raise AssertionError("unpickled a model with a malformed manifest")

    monkeypatch.setattr(model_files.pickle, "load", refuse)
    with pytest.raises(automl.ModelFileError) as caught:
        automl.load(folder)
    assert "manifest.json" in str(caught.value) and field in str(caught.value)


@pytest.mark.parametrize("text", ["[]", '"x"', "3", "null", "{", "\xff\xfe", ""])
def test_a_manifest_that_is_not_an_object_is_a_model_file_error(saved, text):
    folder, _ = saved
    (folder / "manifest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(automl.ModelFileError, match="manifest.json"):
        automl.load(folder)


def test_fuzzed_manifests_load_or_raise_a_typed_error(saved):
    folder, manifest = saved
    values = [None, True, 0, -1, 1.5, "", "x", "../x", [], [1], ["x"], ["no_such.sub"], {}, {"a": 1}, {"a": None}]
    keys = ["files", "format_version", "requires", "versions", "best", "classes", "schema", "study", "task",
            "metric", "target", "created", "python", "estimator"]
    outcomes = {"loaded": 0, "refused": 0}
    for key in keys:
        for value in values:
            for shape in ("top", "nested"):
                changed = json.loads(json.dumps(manifest))
                if shape == "top":
                    changed[key] = value
                else:
                    changed["best"] = {**changed["best"], "family": value} if key == "best" else changed["best"]
                    changed.setdefault("versions", {})[key] = value
                (folder / "manifest.json").write_text(json.dumps(changed))
                try:
                    automl.load(folder)
                    outcomes["loaded"] += 1
                except (automl.ModelFileError, automl.FamilyUnavailableError):
                    outcomes["refused"] += 1
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 10
