"""Figures of the code's shape (issue 15): the largest module and function, import cycles, and where each setting is declared.

    python -m benchmarks.architecture [--root DIR]

- largest modules and functions of ``automl/`` in lines (functions: the body without its docstring, and
  the whole definition);
- import cycles between sibling modules at every depth (grimp, as the import-linter contract sees them);
- for each setting of the table, the places that declare it: a ``Setting("name", ...)`` entry, a
  function parameter of that name with a default in a public entry point (``automl.fit``, the
  estimators' ``__init__``), a hand-written ``add_argument`` of its flag, a literal sweep key list.

``--root`` measures another checkout (e.g. the code before the redesign), with the same rules.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from benchmarks.tasks import REPO_ROOT

SETTINGS = (
    "metric", "time_budget", "n_trials", "cv", "families", "search_space", "seed", "n_jobs", "study_name", "storage",
    "pruner", "tracking", "tracking_uri", "register_model", "device", "image_shape", "isolation", "trial_timeout",
    "trial_memory_limit", "ensemble", "task",
)
FLAGS = {name: "--" + name.replace("_", "-") for name in SETTINGS} | {
    "study_name": "--study", "search_space": "--space", "tracking": "--no-tracking", "ensemble": "--no-ensemble"}


def _body(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    documented = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and \
        isinstance(body[0].value.value, str)
    start = body[1].lineno if documented and len(body) > 1 else body[0].lineno
    return int(node.end_lineno or start) - start + 1


def _declarations(tree: ast.AST, path: str) -> dict[str, list[str]]:
    """Where this module declares each setting (see the module docstring)."""
    out: dict[str, list[str]] = {name: [] for name in SETTINGS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Setting" and node.args and \
                isinstance(node.args[0], ast.Constant) and node.args[0].value in out:
            out[node.args[0].value].append(f"{path}:{node.lineno} Setting")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            for arg in node.args:
                for name, flag in FLAGS.items():
                    if isinstance(arg, ast.Constant) and arg.value == flag:
                        out[name].append(f"{path}:{node.lineno} add_argument")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in ("fit", "__init__"):
            args = node.args.args + node.args.kwonlyargs
            defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + list(node.args.defaults) + \
                list(node.args.kw_defaults)
            for arg, default in zip(args, defaults):
                if arg.arg in out and default is not None and path.endswith(("api.py", "estimators.py")):
                    out[arg.arg].append(f"{path}:{node.lineno} {node.name}()")
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SETTING_KEYS" for t in node.targets) and \
                isinstance(node.value, ast.Tuple):
            for element in node.value.elts:
                if isinstance(element, ast.Constant) and element.value in out:
                    out[element.value].append(f"{path}:{node.lineno} SETTING_KEYS")
    return out


def measure(root: Path) -> dict:
    modules, functions = [], []
    declared: dict[str, list[str]] = {name: [] for name in SETTINGS}
    for path in sorted((root / "automl").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(root))
        modules.append((len(text.splitlines()), rel))
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((_body(node), int(node.end_lineno or 0) - node.lineno + 1, f"{rel}:{node.name}"))
        for name, places in _declarations(tree, rel).items():
            declared[name] += places
    return {"modules": sorted(modules, reverse=True), "functions": sorted(functions, reverse=True),
            "declared": declared, "cycles": _cycles(root)}


def _cycles(root: Path) -> list[list[str]]:
    """Sibling modules that import each other in a loop, at every depth of the package."""
    import grimp

    sys.path.insert(0, str(root))
    try:
        graph = grimp.build_graph("automl", exclude_type_checking_imports=True)
    finally:
        sys.path.remove(str(root))
    loops = []
    for package in sorted(m for m in graph.modules if graph.find_children(m)):
        children = sorted(graph.find_children(package))
        for a in children:
            for b in children:
                if a < b and graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True):
                    loops.append([a, b])
    return loops


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(REPO_ROOT))
    args = parser.parse_args(argv)
    figures = measure(Path(args.root))
    print("largest modules:", ", ".join(f"{name} ({n})" for n, name in figures["modules"][:3]))
    print("largest functions (body / whole):", ", ".join(f"{name} ({b} / {w})" for b, w, name in figures["functions"][:3]))
    print(f"modules over 500 lines: {sum(n > 500 for n, _ in figures['modules'])}; "
          f"function bodies over 60 lines: {sum(b > 60 for b, _, _ in figures['functions'])}")
    print(f"import cycles between siblings: {len(figures['cycles'])}", *figures["cycles"][:5])
    counts = {name: len(places) for name, places in figures["declared"].items()}
    print("places each setting is declared:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"max {max(counts.values())}, min {min(counts.values())}")


if __name__ == "__main__":
    main()
