"""Benchmark tasks: the shared data-set manifest and the outer 80/20 split of BENCHMARKS.md.

``load_tasks()`` reads ``manifest.json`` from the suite folder (default ``../shared/datasets``
relative to the repository root; ``--suite DIR`` in every script overrides it) and returns one
:class:`Task` per data set. ``load_split(task)`` returns ``(train_df, test_df)``: 80 % / 20 %,
``random_state=0``, stratified on the label for classification. Every system fits on the same
train part and is scored once on the same test part.

``lightgbm_frames(train, test, task)`` prepares a copy for the LightGBM peer only: string and
manifest-categorical columns become ``category`` with the categories of the train part, and column
names are sanitised (LightGBM rejects JSON special characters). automl gets the frames untouched.

Run ``python -m benchmarks.tasks [--suite DIR]`` to list the tasks and their split sizes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SUITE = (REPO_ROOT / ".." / "shared" / "datasets").resolve()

# Tie thresholds of BENCHMARKS.md: absolute for AUC and log loss, relative for RMSE.
TIE_ABS = {"roc_auc": 0.0005, "log_loss": 0.001}
TIE_REL = {"rmse": 0.001}
GREATER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}


def relative_gain(metric: str, a: float, b: float) -> float:
    """How much better score ``a`` is than ``b``, as a fraction of ``|b|`` (negative: worse).

    Example:
        >>> round(relative_gain("rmse", 9.0, 10.0), 3), round(relative_gain("roc_auc", 0.9, 1.0), 3)
        (0.1, -0.1)
    """
    sign = 1.0 if GREATER_IS_BETTER[metric] else -1.0
    return sign * (a - b) / abs(b)


@dataclass(frozen=True)
class Task:
    """One data set of the suite, as described by the manifest."""

    name: str
    path: str
    target: str
    task: str  # binary | multiclass | regression
    metric: str  # roc_auc | log_loss | rmse
    categorical_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def secondary(self) -> str:
        """The metric reported alongside: accuracy (classification) or r2 (regression)."""
        return "r2" if self.task == "regression" else "accuracy"


def suite_dir(suite: str | os.PathLike | None = None) -> Path:
    """The suite folder: ``suite`` if given, else ``../shared/datasets`` next to the repository."""
    return Path(suite).expanduser().resolve() if suite else DEFAULT_SUITE


def load_tasks(suite: str | os.PathLike | None = None, names: list[str] | None = None) -> list[Task]:
    """Task records from ``manifest.json``, in manifest order, or in the order of ``names``."""
    folder = suite_dir(suite)
    with open(folder / "manifest.json", encoding="utf-8") as handle:
        manifest = json.load(handle)
    tasks = {}
    for entry in manifest["datasets"]:
        metric = str(entry["metric"]).split()[0]  # "log_loss (+accuracy)" -> "log_loss"
        tasks[entry["name"]] = Task(
            name=entry["name"],
            path=str(folder / entry["file"]),
            target=entry.get("target", manifest.get("target_column", "target")),
            task=entry["task"],
            metric=metric,
            categorical_columns=tuple(entry.get("categorical_columns", [])),
        )
    if not names:
        return list(tasks.values())
    unknown = [n for n in names if n not in tasks]
    if unknown:
        raise SystemExit(f"unknown data sets {unknown}; the suite has {sorted(tasks)}")
    return [tasks[n] for n in names]


def load_split(task: Task, random_state: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train_df, test_df)``: the outer split of the protocol (``random_state=0``; another for the
    outer seeds an issue asks for), target column included."""
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(task.path)
    y = frame[task.target]
    train, test = train_test_split(
        frame, test_size=0.2, random_state=random_state, stratify=y if task.is_classification else None
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def sanitise_names(columns: list[str]) -> list[str]:
    """Column names LightGBM accepts: ``[A-Za-z0-9_]`` only, made unique."""
    seen: set[str] = set()
    out = []
    for column in columns:
        name = re.sub(r"[^0-9A-Za-z_]", "_", str(column)) or "col"
        base, i = name, 1
        while name in seen:
            name, i = f"{base}_{i}", i + 1
        seen.add(name)
        out.append(name)
    return out


def lightgbm_frames(
    train: pd.DataFrame, test: pd.DataFrame, task: Task
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """``(X_train, y_train, X_test, y_test)`` for the LightGBM peer (copies; see module doc)."""
    X_train, y_train = train.drop(columns=[task.target]), train[task.target]
    X_test, y_test = test.drop(columns=[task.target]), test[task.target]
    X_train, X_test = X_train.copy(), X_test.copy()
    for column in X_train.columns:
        dtype = X_train[column].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if column in task.categorical_columns or not numeric:
            values = X_train[column].astype(object).where(X_train[column].notna(), None)
            categories = sorted({v for v in values if v is not None}, key=str)
            kind = pd.CategoricalDtype(categories=categories)
            X_train[column] = X_train[column].astype(object).astype(kind)
            X_test[column] = X_test[column].astype(object).astype(kind)  # unseen -> NaN
    names = sanitise_names(list(X_train.columns))
    X_train.columns = names
    X_test.columns = names
    return X_train, y_train, X_test, y_test


def write_rows(path: str | os.PathLike, fields: list[str], rows: list[dict]) -> None:
    """Write ``rows`` (dicts; keys outside ``fields`` left out) to the CSV ``path``, making its folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="List the benchmark tasks of the manifest and their split sizes.")
    parser.add_argument("--suite", default=None, help=f"folder holding manifest.json (default {DEFAULT_SUITE})")
    parser.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    for task in load_tasks(args.suite, names):
        train, test = load_split(task)
        print(f"{task.name:18s} {task.task:10s} {task.metric:8s} train={len(train):6d} test={len(test):6d} "
              f"cols={train.shape[1] - 1}")


if __name__ == "__main__":
    main()
