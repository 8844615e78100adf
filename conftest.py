"""The doctests in ``automl/`` run in an empty temporary folder, so the studies and MLflow stores their
examples create never land in the checkout (the tests under ``tests/`` do the same in their conftest).

The session ends by checking that no test wrote a store into the checkout (an MLflow folder or database, a
study journal, CatBoost's training folder): a module or session fixture runs before each test's own working
folder is set, so a fit there with a default store would write here.

The session starts by compiling the checkout's bytecode: an editable install has none, and where
``PYTHONDONTWRITEBYTECODE`` is set (as on our CI machines) every process the tests start (trial workers,
CLIs, child fits: hundreds) would otherwise compile the package again, most of a second each.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


#: What a fit with default stores writes into its working folder (and the journal name tests use), besides the
#: default study journal (``automl.search.storage.DEFAULT_STORAGE_FILE``).
STORES = ("mlruns", "mlartifacts", "mlflow.db", "catboost_info", "studies.journal")
_BEFORE: set[Path] = set()


def _stores() -> set[Path]:
    from automl.search.storage import DEFAULT_STORAGE_FILE

    found = set()
    for name in (*STORES, DEFAULT_STORAGE_FILE):
        path = ROOT / name
        if path.exists():
            found.add(path)
            found.update(path.rglob("*") if path.is_dir() else ())
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    for folder in ("automl", "tests", "benchmarks"):
        compileall.compile_dir(ROOT / folder, quiet=2, workers=1)
    _BEFORE.update(_stores())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    written = sorted(str(p.relative_to(ROOT)) for p in _stores() - _BEFORE)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"FAILED: the tests wrote {len(written)} store paths into the checkout "
                                f"(a fit in a module or session fixture?), e.g. {written[:3]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _doctest_in_a_temporary_folder(request, tmp_path, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("AUTOML_STORAGE", raising=False)
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
