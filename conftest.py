"""The doctests in ``automl/`` run in an empty temporary folder, so the studies and MLflow stores their
examples create never land in the checkout (the tests under ``tests/`` do the same in their conftest).

The session starts by compiling the checkout's bytecode: an editable install has none, and where
``PYTHONDONTWRITEBYTECODE`` is set (as on our CI machines) every process the tests start (trial workers,
CLIs, child fits: hundreds) would otherwise compile the package again, most of a second each.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def pytest_sessionstart(session: pytest.Session) -> None:
    for folder in ("automl", "tests", "benchmarks"):
        compileall.compile_dir(ROOT / folder, quiet=2, workers=1)


@pytest.fixture(autouse=True)
def _doctest_in_a_temporary_folder(request, tmp_path, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("AUTOML_STORAGE", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
