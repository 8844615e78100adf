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


_PACK_SIZE = """
from types import SimpleNamespace
from automl._fit.run import _pack_size
net = SimpleNamespace(packable=True)
problem = SimpleNamespace(settings=SimpleNamespace(pack_nets="auto", device="auto"), families=[net])
print("packs", _pack_size(problem))
"""


def test_deciding_net_packs_without_a_gpu_driver_imports_no_torch():
    # Packs of nets only pay on CUDA; asking torch costs an `import torch` before the first trial (about
    # 1.6 s on one core), so without a GPU driver the fit's process must decide without it.
    from automl._device import gpu_ruled_out

    if not gpu_ruled_out():
        pytest.skip("this machine has a GPU driver: torch must be asked")
    out = subprocess.run([sys.executable, "-c", _PACK_SIZE + "import sys\nprint('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["packs", "1", "False"], out.stdout


def test_the_gpu_check_reads_the_nvidia_and_amd_drivers(monkeypatch):
    import automl._device as device

    monkeypatch.setattr(device.sys, "platform", "linux")
    monkeypatch.setattr(device.os.path, "exists", lambda path: False)
    monkeypatch.setattr(device.ctypes, "CDLL", lambda name: object())  # a driver library loads
    assert device.gpu_ruled_out() is False

    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(device.ctypes, "CDLL", missing)
    assert device.gpu_ruled_out() is True
    monkeypatch.setattr(device.os.path, "exists", lambda path: path == "/dev/kfd")  # AMD's driver (ROCm)
    assert device.gpu_ruled_out() is False
