"""The architecture, checked as code: the import-layer contract with no cycles, ruff, the type checker,
and the size of modules and functions.

The contract and the tools' settings are in pyproject.toml ([tool.importlinter], [tool.ruff], [tool.mypy]).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "automl"
#: Most lines of a module, and of a function's body (its docstring left out).
MODULE_LINES = 500
FUNCTION_LINES = 60


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_import_layers_hold_and_nothing_imports_in_a_loop():
    done = _run(_tool("lint-imports"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_ruff_finds_nothing():
    done = _run(_tool("ruff"), "check", "automl", "--output-format", "concise")
    assert done.returncode == 0, done.stdout[-4000:]


def test_the_type_checker_finds_nothing():
    done = _run(_tool("mypy"))
    assert done.returncode == 0, done.stdout[-4000:]


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from its first statement after the docstring to its end."""
    body = node.body
    documented = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(
        body[0].value.value, str)
    start = body[1].lineno if documented and len(body) > 1 else body[0].lineno
    return int(node.end_lineno or start) - start + 1


def _functions() -> list[tuple[int, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((_body_lines(node), f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(out, reverse=True)


def test_modules_stay_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {name: n for name, n in sizes.items() if n > MODULE_LINES}
    assert not over, f"modules over {MODULE_LINES} lines: {over}"


def test_functions_stay_short():
    over = [f"{name} ({n} lines)" for n, name in _functions() if n > FUNCTION_LINES]
    assert not over, f"functions over {FUNCTION_LINES} lines (docstrings left out): {over}"


def test_every_package_is_in_the_distribution():
    """A non-editable install (``pip install .``, a wheel) holds only the packages pyproject.toml lists: every
    folder of ``automl`` with an ``__init__.py`` must be listed (``automl._fit`` once was not, so a wheel could
    not fit)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts) for path in PACKAGE.rglob("__init__.py")}
    assert found - listed == set()
