"""Sweep files: validation before anything runs, and the settings stored on the study."""

from __future__ import annotations

import pandas as pd
import pytest

from automl.exceptions import InvalidParameterError, SearchSpaceError, StudyNotFoundError
from automl.search.trial_record import StudyRecord
from automl.sweep import check_space_overrides, load_sweep, resume_spec, run_sweep, run_worker, study_leaderboard


@pytest.fixture
def data_file(tmp_path, binary_df):
    binary_df.drop(columns="when").to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv"


def _write(tmp_path, text: str):
    path = tmp_path / "sweep.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_resolves_paths_relative_to_itself(tmp_path, data_file):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "s.yaml"
    path.write_text("data: ../train.csv\ntarget: label\nfamilies: linear,knn\ncv: group:city\n"
                    "search_space: {knn: {n_neighbors: 7}}\nimage_shape: 2x2\nstudy: s\noutput: model\n")
    spec = load_sweep(path)
    assert spec.data == str(data_file.resolve())
    assert spec.output == str((tmp_path / "sub" / "model").resolve())
    assert spec.settings["families"] == ["linear", "knn"]
    assert spec.settings["study_name"] == "s" and spec.settings["image_shape"] == (2, 2)
    assert spec.record()["settings"]["search_space"] == {"knn": {"n_neighbors": 7}}


def test_every_problem_names_the_file_the_key_and_the_rule(tmp_path):
    path = _write(tmp_path, "data: missing.txt\ntime_budgett: 5\nn_trials: 0\ncv: weekly\n"
                  "families: [lightgmb]\nsearch_space: {knn: {n_neighbour: 3}}\nstorage: x.journal\n")
    with pytest.raises(InvalidParameterError) as info:
        load_sweep(path)
    text = str(info.value)
    source = str(path)
    for expected in [
        f"{source}: unknown key 'time_budgett' (did you mean 'time_budget'?)",
        f"{source}: missing key 'target' (required)",
        f"{source}: 'data' must end in .csv",
        f"{source}: cv='weekly' is not understood; cv must be",
        "unknown family 'lightgmb'; did you mean 'lightgbm'?",
        "n_trials must be a positive whole number",
        "'storage' needs 'study_name' too",
        "family 'knn' is not in 'families'",
    ]:
        assert expected in text, expected
    assert list(tmp_path.iterdir()) == [path]  # nothing written


def test_bad_overrides_name_the_parameter(tmp_path, data_file):
    path = _write(tmp_path, "data: train.csv\ntarget: label\nsearch_space: {knn: {n_neighbour: 3, p: 7}}\n")
    with pytest.raises(InvalidParameterError, match=r"unknown parameter 'n_neighbour' .*did you mean 'n_neighbors'"):
        load_sweep(path)
    with pytest.raises(SearchSpaceError, match="o.yaml: search_space\\['knn'\\]: parameter 'n_neighbors': low=10"):
        check_space_overrides({"knn": {"n_neighbors": {"low": 10, "high": 5}}}, "o.yaml")


def test_unreadable_files_are_clear(tmp_path):
    with pytest.raises(InvalidParameterError, match="sweep file not found"):
        load_sweep(tmp_path / "nope.yaml")
    with pytest.raises(InvalidParameterError, match="not valid YAML"):
        load_sweep(_write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(InvalidParameterError, match="a sweep must be a mapping"):
        load_sweep(_write(tmp_path, "- a\n- b\n"))


def test_the_sweep_is_stored_on_its_study_and_resumed_from_it(tmp_path, data_file):
    path = _write(tmp_path, "data: train.csv\ntarget: label\nn_trials: 3\nfamilies: [linear]\ncv: 3\n"
                  "study_name: s\noutput: model\n")
    model = run_sweep(load_sweep(path))
    assert (tmp_path / "model" / "manifest.json").is_file()
    record = StudyRecord.read(model.study_).sweep
    assert record["data"] == str(data_file.resolve()) and "storage" not in record["settings"]
    spec = resume_spec("s", n_trials=2)
    assert spec.settings["n_trials"] == 2 and spec.settings["time_budget"] is None and spec.overwrite
    resumed = run_sweep(spec)
    trials = resumed.leaderboard()["trial"].dropna()  # the ensemble's row, when it wins, has no trial
    assert sorted(trials) == [0, 1, 2, 3, 4]
    # the resumed sampler draws new configurations, not the first run's again
    alphas = [t.params["linear__alpha"] for t in resumed.study_.trials if "linear__alpha" in t.params]
    assert len(alphas) == 5 and len(set(alphas)) == 5, alphas
    board = study_leaderboard("s")
    assert list(board["trial"]) == list(trials)
    assert board["worker"].str.contains(":").all()


def test_a_worker_on_a_finished_sweep_does_nothing_and_one_on_a_missing_study_waits_then_says_so(
    tmp_path, data_file
):
    path = _write(tmp_path, "data: train.csv\ntarget: label\nn_trials: 2\nfamilies: [linear]\ncv: 3\nstudy_name: s\n")
    run_sweep(load_sweep(path))
    result = run_worker("s")
    assert result.n_new_trials == 0
    with pytest.raises(StudyNotFoundError, match="no study named 't'.*studies there: 's'"):
        run_worker("t", wait=0.6)


def test_a_worker_refuses_other_data(tmp_path, data_file):
    path = _write(tmp_path, "data: train.csv\ntarget: label\ntime_budget: 30\nn_trials: 2\nfamilies: [linear]\n"
                  "cv: 3\nstudy_name: s\n")
    run_sweep(load_sweep(path))
    frame = pd.read_csv(data_file)
    frame.loc[0, "x"] = 99.0
    frame.to_csv(tmp_path / "other.csv", index=False)
    from automl.exceptions import StudyMismatchError

    with pytest.raises(StudyMismatchError):
        run_worker("s", data=str(tmp_path / "other.csv"))
