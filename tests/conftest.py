"""Shared fixtures: tiny seeded data, and every test in its own working directory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path, monkeypatch):
    """Run each test in an empty folder so default stores never touch the checkout."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUTOML_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # MLflow tracking is on by default for users; tests that check it turn it on explicitly.
    monkeypatch.setenv("AUTOML_TRACKING", "0")
    return tmp_path


def mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Features of every supported kind, with gaps, and a learnable signal in ``x``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "ratio": pd.array(rng.random(n), dtype="Float64"),
            "flag": rng.random(n) > 0.5,
            "city": pd.Series(rng.choice(["oslo", "rome", "lima"], n), dtype="str"),
            "colour": pd.Categorical(rng.choice(["red", "blue"], n)),
            "note": pd.Series(rng.choice(["a", "b", None], n), dtype=object),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        }
    )
    frame.loc[::7, "count"] = pd.NA
    frame.loc[::11, "ratio"] = pd.NA
    frame.loc[::5, "city"] = None
    return frame


@pytest.fixture
def binary_df() -> pd.DataFrame:
    frame = mixed_frame()
    frame["label"] = np.where(frame["x"] + 0.3 * frame["flag"] > 0, "yes", "no")
    return frame


@pytest.fixture
def multiclass_df() -> pd.DataFrame:
    frame = mixed_frame(150, seed=1)
    frame["label"] = pd.cut(frame["x"], [-np.inf, -0.5, 0.5, np.inf], labels=["low", "mid", "high"]).astype(str)
    return frame


@pytest.fixture
def regression_df() -> pd.DataFrame:
    frame = mixed_frame(120, seed=2)
    frame["label"] = 3.0 * frame["x"] + frame["flag"].astype(float) + np.random.default_rng(3).normal(0, 0.1, 120)
    return frame


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the whole session (see tests/services.py)."""
    from tests.services import PostgresServer

    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a fresh, empty PostgreSQL database."""
    return postgres_server.new_database()


@pytest.fixture(scope="session")
def mlflow_server(postgres_server):
    """A real ``mlflow server`` on a PostgreSQL store with served artifacts, for the whole session
    (see tests/services.py); skipped or failed like ``postgres_server`` when PostgreSQL is missing."""
    from tests.services import MlflowServer

    server = MlflowServer(postgres_server)
    yield server
    server.stop()
