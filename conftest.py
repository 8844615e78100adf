"""The doctests in ``automl/`` run in an empty temporary folder, so the studies and MLflow stores their
examples create never land in the checkout (the tests under ``tests/`` do the same in their conftest)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _doctest_in_a_temporary_folder(request, tmp_path, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("AUTOML_STORAGE", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
