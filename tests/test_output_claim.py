"""Two ``automl fit`` processes with one ``--output``: the second fails before its search, the first saves whole.

Real processes, a real model folder and a wall clock around the second command: the second must not spend its
budget on a search whose model it could not save (it used to learn that only at its save).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import automl
from automl._output_claim import _name, claimed_output
from automl.exceptions import InvalidParameterError, OutputBusyError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the claim is Linux's abstract socket")


def _fit_command(data, out, budget: float) -> list[str]:
    return [sys.executable, "-m", "automl.cli", "fit", str(data), "--target", "y", "--output", str(out),
            "--time-budget", str(budget), "--families", "linear,knn", "--cv", "3", "--no-tracking"]


def _held(out) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.bind(_name(out))
    except OSError:
        return True
    finally:
        probe.close()
    return False


def test_a_second_fit_into_the_same_output_fails_at_once_and_the_first_saves(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    frame["y"] = (frame["a"] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "model"
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    env = {**os.environ, "AUTOML_TRACKING": "0"}
    first = subprocess.Popen(_fit_command(tmp_path / "train.csv", out, 12), cwd=first_dir, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _held(out):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first fit never claimed its output"
            time.sleep(0.05)
        started = time.monotonic()
        second = subprocess.run(_fit_command(tmp_path / "train.csv", out, 12), cwd=second_dir, env=env,
                                capture_output=True, text=True, timeout=120)
        second_wall = time.monotonic() - started
        assert first.poll() is None  # the second ended while the first was still searching
        first_out, first_err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode != 0
    assert "another automl process" in second.stderr and str(out) in second.stderr
    assert second_wall < 12  # not after a search of its own 12 s budget
    assert list(second_dir.iterdir()) == []  # no study journal: its search never started
    assert first.returncode == 0, first_err
    model = automl.load(out)  # the first fit's model, whole
    assert model.predict(frame.drop(columns="y")).shape == (400,)
    assert not _held(out)  # released when the first process ended
    third = subprocess.run(_fit_command(tmp_path / "train.csv", out, 2) + ["--overwrite"], cwd=second_dir, env=env,
                           capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr  # free again


def test_the_claim_is_typed_and_released_when_its_block_ends(tmp_path) -> None:
    with claimed_output(tmp_path / "m"):
        with pytest.raises(OutputBusyError, match="another automl process") as info:
            with claimed_output(tmp_path / "m"):
                pass
        assert isinstance(info.value, InvalidParameterError) and isinstance(info.value, ValueError)
        with claimed_output(tmp_path / "other"):
            pass  # another folder is another claim
    with claimed_output(tmp_path / "m"):
        pass
    with claimed_output(None):
        pass
    assert list(tmp_path.iterdir()) == []  # nothing written
