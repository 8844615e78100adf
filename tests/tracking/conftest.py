"""Fixtures of the tracking tests: a real MLflow SQLite store, its tables made once per module."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """An empty MLflow SQLite store, made once (creating its tables takes seconds)."""
    import mlflow

    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store_path(empty_store, tmp_path):
    """A fresh copy of the empty store, this test's own."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return tmp_path / "mlflow.db"
