"""Did you mean ...?" suggestions for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(name: object, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates that look like ``name`` (case-insensitive).

    Example:
        >>> close_names("lightgmb", ["lightgbm", "knn"])
        ['lightgbm']
    """
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    text = str(name).lower()
    matches = difflib.get_close_matches(text, list(lowered), n=n, cutoff=0.6)
    # A prefix or substring match is also a good hint ("rf" -> "random_forest" is not, "forest" is).
    for low in lowered:
        if len(text) >= 3 and text in low and low not in matches:
            matches.append(low)
    return [lowered[m] for m in matches[:n]]


def unknown_name_message(kind: str, name: object, candidates: Iterable[str]) -> str:
    """Build the message for an unknown ``kind`` called ``name``.

    Example:
        >>> unknown_name_message("metric", "roc_aux", ["roc_auc", "accuracy"])
        "unknown metric 'roc_aux'; did you mean 'roc_auc'? Known metrics: accuracy, roc_auc."
    """
    candidates = sorted(candidates)
    hints = close_names(name, candidates)
    message = f"unknown {kind} {name!r}"
    if hints:
        message += "; did you mean " + " or ".join(repr(h) for h in hints) + "?"
    else:
        message += "."
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    message += f" Known {plural}: " + ", ".join(candidates) + "."
    return message


def unknown_key_message(key: object, allowed: Iterable[str], where: str) -> str:
    """Build the message for an unknown key of a mapping (YAML files, sweep files).

    Example:
        >>> unknown_key_message("lowe", ("low", "high"), "in an override")
        "unknown key 'lowe' (did you mean 'low'?); allowed keys in an override: low, high"
    """
    allowed = tuple(allowed)
    hint = close_names(key, allowed)
    tail = " (did you mean " + " or ".join(repr(h) for h in hint) + "?)" if hint else ""
    return f"unknown key {key!r}{tail}; allowed keys {where}: {', '.join(allowed)}"


def listed(names: Iterable[object], limit: int = 20) -> str:
    """``names`` as a list for a message, the first ``limit`` of them and how many more (a 784-pixel frame's names
    made a message of 10,000 characters).

    Example:
        >>> listed(["a", "b", "c"], limit=2), listed(["a"])
        ("['a', 'b'] and 1 more", "['a']")
    """
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{names[:limit]}{more}"
