"""The pairs of an ``ab.py`` CSV in detail: each fit's own CV gain beside its test gain, by task, and for the runs
whose final model arm A made in a given way (``--source-prefix stack``: the runs where a stack was kept).

    python -m benchmarks.ab_detail benchmarks/ab_runs/stack_60s_seed0.csv --source-prefix stack

Gains are arm A's over arm B's, positive when A is better (AUC as a ratio, log loss and RMSE as B's over A's), as
``ab.py`` counts them. Nothing is re-run: this reads the CSV only.
"""

from __future__ import annotations

import argparse

import pandas as pd

from benchmarks.tasks import relative_gain


def detail(frame: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """One row per (data set, seed) pair that both arms finished: the gains, walls, trials, A's final model."""
    frame = frame[frame["error"].isna() | (frame["error"] == "")]
    modes = list(dict.fromkeys(frame["mode"].astype(str)))
    a = frame[frame["mode"].astype(str) == modes[0]].set_index(["dataset", "seed"])
    b = frame[frame["mode"].astype(str) == modes[1]].set_index(["dataset", "seed"])
    rows = []
    for key in a.index.intersection(b.index):
        x, y = a.loc[key], b.loc[key]
        rows.append({
            "dataset": key[0], "seed": key[1], "task": x["task"],
            "cv_gain_%": 100 * relative_gain(x["metric"], x["cv_score"], y["cv_score"]),
            "test_gain_%": 100 * relative_gain(x["metric"], x["score"], y["score"]),
            "wall_a": x["wall_s"], "wall_b": y["wall_s"], "trials_a": x["n_trials"], "trials_b": y["n_trials"],
            "made_so": bool(prefix) and str(x["model_source"]).startswith(prefix),
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", nargs="+")
    parser.add_argument("--source-prefix", default="", help="arm A's model_source prefix to split the runs by")
    args = parser.parse_args(argv)
    table = detail(pd.concat([pd.read_csv(p) for p in args.csv], ignore_index=True), args.source_prefix)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(3).to_string(index=False))
    cv = table["cv_gain_%"]
    print(f"\nthe fits' own CV, A against B: {(cv > 0.05).sum()} better / {(cv.abs() <= 0.05).sum()} within 0.05 % / "
          f"{(cv < -0.05).sum()} worse, mean {cv.mean():+.3f} %")
    for name, part in table.groupby("task"):
        print(f"{name}: {len(part)} runs, test gain mean {part['test_gain_%'].mean():+.3f} %, "
              f"CV gain mean {part['cv_gain_%'].mean():+.3f} %")
    if args.source_prefix:
        for made, part in table.groupby("made_so"):
            label = f"A's model is a {args.source_prefix}" if made else f"A's model is not a {args.source_prefix}"
            print(f"{label}: {len(part)} runs, test gain mean {part['test_gain_%'].mean():+.3f} % (median "
                  f"{part['test_gain_%'].median():+.3f} %), CV gain mean {part['cv_gain_%'].mean():+.3f} %")
    print(f"walls: A at most {table['wall_a'].max():.1f} s (mean {table['wall_a'].mean():.1f}), B at most "
          f"{table['wall_b'].max():.1f} s (mean {table['wall_b'].mean():.1f}); completed trials, mean: A "
          f"{table['trials_a'].mean():.1f}, B {table['trials_b'].mean():.1f}")


if __name__ == "__main__":
    main()
