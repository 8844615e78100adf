"""The CLI's closing hint opens the store the fit logged to (once ``automl ui`` alone, which opens ./mlflow.db)."""

from __future__ import annotations

import os

from automl.tracking.browse import browse_hint


def test_the_hint_names_the_store_unless_automl_ui_opens_it_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    other = "sqlite:////data/other folder/m.db"
    assert browse_hint(other, "3").startswith("browse it: automl ui --tracking-uri 'sqlite:////data/other folder/m.db'"
                                              ", then http://127.0.0.1:5000/#/experiments/3/runs")
    here = f"sqlite:///{os.path.join(str(tmp_path), 'mlflow.db')}"
    assert browse_hint(here, "3").startswith("browse it: automl ui, then ")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", other)
    assert browse_hint(other, None) == "browse it: automl ui"
    masked = "postgresql://me:***@db/runs"
    assert "***" not in browse_hint(masked, "1") and "--tracking-uri env:NAME" in browse_hint(masked, "1")
    assert browse_hint("https://me:***@mlflow.example/", "7").startswith("browse it: https://mlflow.example/#/")
