"""Held-out AUC with and without a free-text column (issue 21): ``python -m benchmarks.text_columns``.

The frame: a review column holds one sentiment word among filler words, and that word decides the
label; two numeric columns are noise. Three fits on the same 600 training rows, each scored once on
the same 300 held-out rows: with the review as free text, without the review, and with the review
forced to a category (what every fit did before free text was told apart). Then a harder frame
(:func:`rare_word_reviews`, 2,000 rows to fit, 1,000 held out) where each sentiment word is rare,
beside a plain TF-IDF + logistic regression.

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


def rare_word_reviews(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A harder frame: 10–30 words from a 3,000-word vocabulary, plus one or two of 300 positive or
    300 negative words (random six-letter strings, so no spelling gives the class away); a numeric
    noise column. Each sentiment word is rare: the main themes of the texts (an SVD) miss them."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    words = list(dict.fromkeys("".join(rng.choice(letters, 6)) for _ in range(5000)))
    vocabulary, positive, negative = words[:3000], words[3000:3300], words[3300:3600]
    y = rng.integers(0, 2, n)
    texts = []
    for label in y:
        chosen = list(rng.choice(vocabulary, size=rng.integers(10, 30)))
        for _ in range(rng.integers(1, 3)):
            chosen.insert(int(rng.integers(0, len(chosen))), str(rng.choice(positive if label else negative)))
        texts.append(" ".join(chosen))
    return pd.DataFrame({"text": texts, "num": rng.normal(size=n), "label": np.where(y == 1, "good", "bad")})


def _reference_auc(train: pd.DataFrame, test: pd.DataFrame, column: str) -> float:
    """A plain text classifier beside automl: TF-IDF (sublinear, unigrams) + logistic regression, C=10."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(sublinear_tf=True).fit(train[column])
    model = LogisticRegression(C=10, max_iter=1000).fit(vectoriser.transform(train[column]), train["label"] == "good")
    return roc_auc_score(test["label"] == "good", model.decision_function(vectoriser.transform(test[column])))


def main() -> None:
    import warnings

    import automl

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", type=float, default=30.0)
    parser.add_argument("--seeds", type=int, default=3, help="outer seeds (data drawn anew for each)")
    args = parser.parse_args()
    print("| seed | frame | variant | held-out AUC | best family | fit s |\n|---|---|---|---|---|---|")
    for seed in range(args.seeds):
        df = reviews(900, seed)
        train, test = df.iloc[:600], df.iloc[600:]
        hard = rare_word_reviews(3000, seed)
        hard_train, hard_test = hard.iloc[:2000], hard.iloc[2000:]
        print(f"| {seed} | rare words | TF-IDF + logistic regression (reference) | "
              f"{_reference_auc(hard_train, hard_test, 'text'):.4f} | – | – |", flush=True)
        for frame, variant, columns, roles in (
                ("reviews", "review as text", ["review", "num1", "num2"], None),
                ("reviews", "without the review", ["num1", "num2"], None),
                ("reviews", "review as a category", ["review", "num1", "num2"], {"review": "categorical"}),
                ("rare words", "text column as text", ["text", "num"], None)):
            train, test = (hard_train, hard_test) if frame == "rare words" else (df.iloc[:600], df.iloc[600:])
            started = time.monotonic()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = automl.fit(train[columns + ["label"]], "label", time_budget=args.time_budget, seed=seed,
                                   tracking=False, column_roles=roles)
                proba = model.predict_proba(test[columns])[:, list(model.classes_).index("good")]
            auc = roc_auc_score(test["label"] == "good", proba)
            print(f"| {seed} | {frame} | {variant} | {auc:.4f} | {model.leaderboard()['family'].iloc[0]} | "
                  f"{time.monotonic() - started:.1f} |", flush=True)


if __name__ == "__main__":
    main()
