"""A markdown table of budget-benchmark runs side by side: ``python -m benchmarks.budget_table NAME=JSON ...``.

Each JSON is the ``--out`` of :mod:`benchmarks.budget`; each NAME labels its columns (e.g. ``before=...``).
A cell is the wall in seconds, ``OVER`` when it passed ``B x 1.1 + 10``, then the outcome.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str] | None = None) -> None:
    runs = [arg.split("=", 1) for arg in (argv if argv is not None else sys.argv[1:])]
    cells: dict[tuple[str, float], dict[str, str]] = {}
    columns: list[str] = []
    for name, path in runs:
        for row in json.load(open(path))["budget"]:
            column = f"{name}, {row['isolation']}"
            if column not in columns:
                columns.append(column)
            wall = row.get("wall")
            outcome = row.get("outcome") or row.get("error", "")[:40]
            if row.get("source"):
                outcome = f"{outcome}: {row['source']}"
            text = "–" if wall is None else f"{wall:.1f}{' **OVER**' if not row['within'] else ''}"
            cells.setdefault((row["shape"], row["budget"]), {})[column] = f"{text} ({outcome})"
    print("| shape | B (s) | limit (s) | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    for (shape, budget), row in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        print(f"| {shape} | {budget:g} | {budget * 1.1 + 10:.1f} | " + " | ".join(row.get(c, "") for c in columns) + " |")


if __name__ == "__main__":
    main()
