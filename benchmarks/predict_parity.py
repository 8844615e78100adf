"""Predictions, warnings and errors on odd frames, from this checkout and from another version, side by side.

A change to the predict path (the schema's conversion, level matching, column names) must not change what a fitted
model says about any frame it accepts, nor which frames it refuses and how. Each version fits the same two models
(regression and binary, seed 0, LightGBM and linear, 3 folds, in-process) on a frame of every column kind, then
predicts on 28 variants of it: dtype drift (numbers as text, ints as floats with NaN, booleans as ints,
categoricals as text, uint64, int32, nullable ``Int64``), unseen levels, infinities, extra, missing and duplicated
columns, zero, one and 2,400 rows, a non-range index. Each answer is rounded to 1e-10. Exit status 1 when any
answer differs.

    python -m benchmarks.predict_parity --code /tmp/oldcode      # /tmp/oldcode/automl -> another commit's automl
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.budget import CODE, run_child

_CHILD = """
import json
from benchmarks.predict_parity import answers
print(json.dumps(answers()))
"""


def _frames() -> tuple[pd.DataFrame, pd.Series, np.ndarray, dict[str, pd.DataFrame]]:
    rng = np.random.default_rng(0)
    n = 240
    base = pd.DataFrame({
        "num": rng.normal(size=n),
        "int": rng.integers(0, 50, n),
        "big": np.arange(2**60, 2**60 + n, dtype="int64"),
        "flag": rng.integers(0, 2, n).astype(bool),
        "city": rng.choice(["Oslo", "Rome", "Lima", "007", "101"], n),
        "code": pd.Series(rng.choice([101, 102, 7], n), dtype=object),
        "cat": pd.Categorical(rng.choice(["lo", "hi", "mid"], n)),
        "nullable": pd.array(rng.integers(0, 5, n), dtype="Int64"),
        "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "f32": rng.normal(size=n).astype("float32"),
    })
    base.loc[::7, "num"] = np.nan
    base.loc[::11, "city"] = None
    y_reg = base["num"].fillna(0) * 2 + base["int"] / 10 + (base["city"] == "Rome") + rng.normal(size=n) * 0.1
    y_cls = np.where(y_reg > y_reg.median(), "yes", "no")

    def variants(X):
        one = X.head(1)
        out = {
            "same": X, "one_row": one, "reordered": X[X.columns[::-1]],
            "extra_col": X.assign(extra=1.0),
            "num_as_object_text": X.assign(num=X["num"].map(lambda v: None if pd.isna(v) else str(v)).astype(object)),
            "int_as_float_nan": X.assign(int=X["int"].astype(float).where(X.index % 5 != 0)),
            "flag_as_int": X.assign(flag=X["flag"].astype(int)),
            "num_as_bool": X.assign(num=X["num"] > 0),
            "city_unseen": X.assign(city=X["city"].where(X.index % 3 != 0, "Paris")),
            "city_as_category": X.assign(city=X["city"].astype("category")),
            "code_as_float": X.assign(code=X["code"].astype(float)),
            "code_as_text": X.assign(code=X["code"].astype(str)),
            "code_as_int64": X.assign(code=X["code"].astype("int64")),
            "cat_new_level": X.assign(cat=pd.Categorical(np.where(X.index % 4 == 0, "new", X["cat"].astype(str)))),
            "cat_as_text": X.assign(cat=X["cat"].astype(str)),
            "nullable_as_float": X.assign(nullable=X["nullable"].astype(float)),
            "f32_as_float64": X.assign(f32=X["f32"].astype("float64")),
            "big_as_uint": X.assign(big=X["big"].astype("uint64")),
            "num_inf": X.assign(num=X["num"].where(X.index % 9 != 0, np.inf)),
            "duplicate_col": pd.concat([X, X[["num"]]], axis=1),
            "missing_col": X.drop(columns=["int"]),
            "num_as_string_dtype": X.assign(num=X["num"].astype("str")),
            "zero_rows": X.iloc[:0],
            "many_rows": pd.concat([X] * 10, ignore_index=True),
            "nonrange_index": X.set_index(X.index * 3 + 5),
            "int_as_int32": X.assign(int=X["int"].astype("int32")),
            "all_nan_num": X.assign(num=np.nan),
            "when_as_text": X.assign(when=X["when"].astype(str)),
        }
        return out

    return base, y_reg, y_cls, variants(base)


def answers() -> dict[str, Any]:
    """Each (task, variant): the rounded predictions, or the error; the warnings."""
    import automl

    base, y_reg, y_cls, frames = _frames()
    results: dict[str, Any] = {}
    for task, y in (("reg", y_reg), ("cls", y_cls)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = automl.fit(base.assign(y=y), "y", n_trials=2, families=["lightgbm", "linear"], cv=3,
                               isolation="none", tracking=False, seed=0)
        for name, X in frames.items():
            key = f"{task}:{name}"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = model.predict_proba(X)[:, 1] if task == "cls" else model.predict(X)
                    results[key] = {"out": [None if pd.isna(v) else round(float(v), 10) for v in np.asarray(out)]}
                except Exception as exc:  # noqa: BLE001 - the error is the answer
                    results[key] = {"error": f"{type(exc).__name__}: {exc}"[:400]}
            results[key]["warnings"] = sorted({str(w.message)[:200] for w in caught})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", required=True, help="a folder holding the other version's automl package")
    parser.add_argument("--pin", type=int, default=None)
    args = parser.parse_args(argv)
    ours = run_child(_CHILD, [], args.pin, 1800)
    CODE[:] = [args.code]
    theirs = run_child(_CHILD, [], args.pin, 1800)
    for side in (ours, theirs):
        if set(side) == {"error", "process_wall"}:  # the child itself failed
            raise SystemExit(side["error"])
    ours.pop("process_wall"), theirs.pop("process_wall")
    differ = [key for key in ours if ours[key] != theirs.get(key)]
    for key in differ:
        print(f"{key}: this checkout {json.dumps(ours[key])[:300]}\n    other {json.dumps(theirs.get(key))[:300]}")
    refused = sum("error" in answer for answer in ours.values())
    print(f"{len(ours)} answers ({refused} refusals), {len(differ)} differ")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
