"""Held-out AUC with and without a free-text column (issue 21): ``python -m benchmarks.text_columns``.

The frame: a review column holds one sentiment word among filler words, and that word decides the
label; two numeric columns are noise. Three fits on the same 600 training rows, each scored once on
the same 300 held-out rows: with the review as free text, without the review, and with the review
forced to a category (what every fit did before free text was told apart).

Example output is quoted in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

POSITIVE = ["great", "excellent", "loved", "perfect", "wonderful", "fantastic"]
NEGATIVE = ["awful", "terrible", "broken", "refund", "disappointing", "worst"]
FILLER = "the a product it was and delivery box item seller price quality this my order".split()


def reviews(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A review decides the label (one sentiment word among filler); two numeric columns are noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    texts = []
    for label in y:
        words = list(rng.choice(FILLER, size=rng.integers(5, 12)))
        words.insert(int(rng.integers(0, len(words))), str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words))
    return pd.DataFrame({"review": texts, "num1": rng.normal(size=n), "num2": rng.normal(size=n),
                         "label": np.where(y == 1, "good", "bad")})


def main() -> None:
    import warnings

    import automl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, default=3, help="outer seeds (data drawn anew for each)")
    args = parser.parse_args()
    print("| seed | variant | held-out AUC | best family | fit s |\n|---|---|---|---|---|")
    for seed in range(args.seeds):
        df = reviews(900, seed)
        train, test = df.iloc[:600], df.iloc[600:]
        for variant, columns, roles in (("review as text", ["review", "num1", "num2"], None),
                                        ("without the review", ["num1", "num2"], None),
                                        ("review as a category", ["review", "num1", "num2"], {"review": "categorical"})):
            started = time.monotonic()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = automl.fit(train[columns + ["label"]], "label", time_budget=args.time_budget, seed=seed,
                                   tracking=False, column_roles=roles)
                proba = model.predict_proba(test[columns])[:, list(model.classes_).index("good")]
            auc = roc_auc_score(test["label"] == "good", proba)
            print(f"| {seed} | {variant} | {auc:.4f} | {model.leaderboard()['family'].iloc[0]} | "
                  f"{time.monotonic() - started:.1f} |", flush=True)


if __name__ == "__main__":
    main()
