"""Time ``model.explain`` on 1,000 rows for each family.

    python -m benchmarks.explain_time

fits one model per family (``n_trials=1``, ``cv=2``) on a generated 1,000-row frame (six numeric
columns, one categorical, one date; one numeric column decides the label) and times ``explain`` on
the same 1,000 rows with the default settings (100 background rows, 10 permutations for the
estimate), then prints one row per family: seconds, method and output space.
``python -m benchmarks.explain_time --examples`` prints one example of each table instead.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

FAMILIES = ("lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting", "linear", "knn", "torch_mlp")


def frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """``x0`` decides ``y``; the other columns are noise."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    X["colour"] = rng.choice(["red", "green", "blue", "grey"], n)
    X["day"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    return X.assign(y=np.where(X["x0"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))


def main() -> None:
    import automl

    data = frame()
    X, y = data.drop(columns="y"), data["y"]
    rows = []
    for family in FAMILIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = automl.AutoMLClassifier(n_trials=1, families=[family], cv=2, n_jobs=1).fit(X, y)
            start = time.perf_counter()
            out = model.explain(X)
            seconds = time.perf_counter() - start
        top = out.drop(columns="base_value").abs().mean().idxmax()
        rows.append({"family": family, "seconds": round(seconds, 2), "top column": top,
                     "method": out.attrs["method"].split(":", 1)[1].strip(), "output": out.attrs["output"]})
    print(pd.DataFrame(rows).to_string(index=False))


def examples() -> None:
    """One example of each table: a LightGBM fit on 800 rows of the frame, the other 200 held out."""
    import automl

    data = frame(1000, seed=1)
    train, test = data.iloc[:800], data.iloc[800:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = automl.AutoMLClassifier(n_trials=1, families=["lightgbm"], cv=2, n_jobs=1).fit(
            train.drop(columns="y"), train["y"])
        importance = model.feature_importance(test)
        contributions = model.explain(test.drop(columns="y").head(3))
    print("model.feature_importance(held-out 200 rows):")
    print(importance.round(4).to_string())
    print(f"\nmodel.explain(3 held-out rows): output {contributions.attrs['output']!r}, "
          f"method {contributions.attrs['method']!r}")
    print(contributions.round(4).to_string())


if __name__ == "__main__":
    import sys

    examples() if sys.argv[1:] == ["--examples"] else main()
