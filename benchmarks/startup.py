"""Start-up benchmark: how long ``import automl`` takes, and proof that it imports nothing heavy.

Each timing is the wall time (``time.perf_counter`` around ``subprocess.run``) of a fresh
interpreter, ``python -c CODE``, repeated ``--runs`` times (default 5); the median is reported:

* ``pass``                                     - the bare interpreter, the baseline;
* ``import automl``                            - the package import (lazy, PEP 562);
* ``import automl; automl.AutoMLClassifier``   - the first real use (loads scikit-learn, pandas ...);
* ``import numpy, pandas, sklearn.base, yaml``  - those dependencies alone, the floor for first use;
* ``automl --help``                            - the console script next to ``sys.executable`` (what a
  shell user waits for before the CLI answers).

Import cost = median(import) - median(pass). Then, in a fresh interpreter, ``import automl`` and
list which of torch, lightgbm, mlflow, sklearn, optuna, pandas are in ``sys.modules`` (torch,
lightgbm and mlflow must be absent), and the same after touching ``automl.AutoMLClassifier``.

    python -m benchmarks.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.tasks import REPO_ROOT

HEAVY = ("torch", "lightgbm", "mlflow", "sklearn", "optuna", "pandas")
MUST_BE_ABSENT = ("torch", "lightgbm", "mlflow")
CASES = {
    "pass": "pass",
    "import automl": "import automl",
    "import automl; automl.AutoMLClassifier": "import automl; automl.AutoMLClassifier",
    # The floor for first use: the third-party modules AutoMLClassifier needs, without automl.
    "dependencies only": "import numpy, pandas, sklearn.base, yaml",
}
# What the console script does for `automl --help`, with the help text swallowed.
CLI_HELP = ("import contextlib, io\nfrom automl.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])")
PROBE = (
    "import sys, json\n"
    "{setup}\n"
    "print(json.dumps({{m: m in sys.modules for m in {heavy!r}}}))\n"
    "print(len(sys.modules))\n"
)


def cli() -> Path:
    """The ``automl`` console script installed next to the interpreter."""
    return Path(sys.executable).parent / "automl"


def time_code(code: str, runs: int, command: list[str] | None = None) -> list[float]:
    """Wall seconds of ``runs`` fresh ``python -c code`` interpreters (or ``command``), after one
    untimed warm-up."""
    command = command or [sys.executable, "-c", code]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def probe(setup: str) -> tuple[dict[str, bool], int]:
    """Which heavy modules a fresh interpreter holds after ``setup``, and how many modules in all."""
    code = PROBE.format(setup=setup, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, capture_output=True,
                         text=True).stdout.splitlines()
    return json.loads(out[0]), int(out[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Median wall time of fresh interpreters running 'import automl' (vs 'pass'), "
        "and which heavy modules the import loads."
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per case (default 5)")
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]} ({sys.executable}), {args.runs} fresh interpreters per case\n")
    print("| command | median ms | min ms | max ms | minus `pass` ms |")
    print("|---|---|---|---|---|")
    medians = {}
    for label, code in CASES.items():
        times = [t * 1000 for t in time_code(code, args.runs)]
        medians[label] = statistics.median(times)
        extra = medians[label] - medians["pass"]
        print(f"| `python -c \"{code}\"` | {medians[label]:.1f} | {min(times):.1f} | {max(times):.1f} | "
              f"{extra:+.1f} |")
    if cli().exists():
        times = [t * 1000 for t in time_code("", args.runs, [str(cli()), "--help"])]
        medians["cli"] = statistics.median(times)
        print(f"| `automl --help` ({cli()}) | {medians['cli']:.1f} | {min(times):.1f} | {max(times):.1f} | "
              f"{medians['cli'] - medians['pass']:+.1f} |")
    else:
        print(f"| `automl --help` | not installed at {cli()} | | | |")
    print(f"\nimport automl costs {medians['import automl'] - medians['pass']:.1f} ms over a bare interpreter; "
          f"first real use (automl.AutoMLClassifier) costs "
          f"{medians['import automl; automl.AutoMLClassifier'] - medians['pass']:.1f} ms, of which "
          f"{medians['dependencies only'] - medians['pass']:.1f} ms is importing numpy, pandas, "
          f"scikit-learn and yaml themselves."
          + (f" `automl --help` answers in {medians['cli']:.1f} ms ({medians['cli'] - medians['pass']:+.1f} ms over "
             "a bare interpreter)." if "cli" in medians else "") + "\n")

    failed = False
    for label, setup in (("after `import automl`", "import automl"),
                         ("after `automl.AutoMLClassifier`", "import automl; automl.AutoMLClassifier"),
                         ("after `automl --help` (automl.cli.main)", CLI_HELP)):
        loaded, count = probe(setup)
        names = ", ".join(f"{m}={'loaded' if v else 'absent'}" for m, v in loaded.items())
        print(f"{label}: {names} ({count} modules in sys.modules)")
        if label.startswith("after `import"):
            bad = [m for m in MUST_BE_ABSENT if loaded[m]]
            if bad:
                failed = True
                print(f"  FAIL: import automl loaded {bad}")
            else:
                print(f"  OK: none of {', '.join(MUST_BE_ABSENT)} loaded by import automl")
    baseline, count = probe("pass")
    print(f"bare interpreter: {count} modules in sys.modules")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
