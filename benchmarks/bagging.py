"""Issue 16, item 1: bagged fold models against one refit on all rows, on data outside the suites.

The A/B run of :mod:`benchmarks.ab` with ``final_model=bag`` against ``final_model=refit``: for each
off-suite table and outer seed the same ``automl.fit`` runs twice side by side, one pinned core each,
and each scores once on its 20 % test part; at the end the bag's wins / ties / losses and the mean
relative difference.

``python -m benchmarks.bagging --budget 30 --seeds 0,1``
"""

from __future__ import annotations

import sys

from benchmarks.ab import main as ab_main


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ab_main(["--setting", "final_model", "--values", "bag,refit", *argv])


if __name__ == "__main__":
    main()
