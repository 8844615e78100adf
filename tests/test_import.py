"""``import automl`` stays light: torch, lightgbm and mlflow load only where used."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "lightgbm", "mlflow", "catboost", "xgboost")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )
    return set(out.stdout.split())


def test_import_automl_loads_no_heavy_package():
    loaded = _modules_after("import automl")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "sklearn" not in loaded and "optuna" not in loaded


@pytest.mark.parametrize("use", [
    "automl.AutoMLClassifier", "automl.available_families()", "automl.families.get_family('lightgbm')",
    "__import__('automl.cli').cli.build_parser()",
])
def test_first_use_and_registry_still_avoid_heavy_packages(use):
    loaded = _modules_after(f"import automl, automl.families\n{use}")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_public_names_resolve_and_unknown_names_raise():
    import automl

    for name in automl.__all__:
        assert getattr(automl, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        automl.nope  # noqa: B018
