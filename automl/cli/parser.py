"""The ``automl`` argument parser: every sub-command with its help and examples.

Flags are never abbreviated (``--n`` is not ``--n-trials``: a flag added later would change what an
old command line means), and an unknown flag gets the nearest known ones ("did you mean --n-trials?").

Example:
    >>> build_parser().parse_args(["leaderboard", "--study", "s"]).top
    20
"""

from __future__ import annotations

import argparse
from typing import Any

from automl.cli import commands

__all__ = ["build_parser"]

_EXAMPLES = {
    "main": """examples:
  automl demo
  automl fit train.csv --target income --time-budget 60 --output model_dir
  automl sweep sweep.yaml --workers 2
  automl worker --study income-v1 --storage postgresql://user@db/studies
  automl resume --study income-v1 --time-budget 300
  automl leaderboard --study income-v1
  automl predict model_dir test.csv -o predictions.csv --proba
  automl families; automl spaces show lightgbm; automl spaces check overrides.yaml
  automl ui
exit codes: 0 done, 1 failed, 2 usage or data error (the message says what to fix), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM)
""",
    "fit": """examples:
  automl fit train.csv --target income --time-budget 60 --output model_dir
  automl fit train.parquet --target price --n-trials 40 --families lightgbm,linear --cv 5
  automl fit train.csv --target churn --cv group:customer_id --metric f1 --study churn --time-budget 600
  automl fit train.csv --target y --study big --storage postgresql://me@db/studies --workers 2
  automl fit digits.csv --target label --image-shape 8x8 --families cnn,torch_mlp --device auto
""",
    "sweep": """a sweep file (paths relative to it):
  data: train.csv
  target: income
  time_budget: 600            # and/or n_trials: 200
  cv: 5                       # 5 | 0.2 | group:COLUMN | time:5 | holdout:0.2 | repeated:5x3
  metric: roc_auc
  families: [lightgbm, linear]
  search_space:               # a range, or a plain value to pin the parameter
    lightgbm: {num_leaves: {low: 8, high: 64}, learning_rate: 0.05}
  study_name: income-v1
  storage: automl-studies.journal   # or postgresql://user@host/db for many machines
  output: model_dir
examples:
  automl sweep sweep.yaml
  automl sweep sweep.yaml --check
  automl sweep sweep.yaml --workers 4        # 3 more worker processes on this host
  automl sweep sweep.yaml --workers 9 --cluster tcp://scheduler:8786   # 8 more as Dask tasks
""",
    "worker": """examples:
  automl worker --study income-v1                                   # the local journal file
  automl worker --study income-v1 --storage postgresql://me@db/studies --data /mnt/copy/train.csv
  automl worker --study income-v1 --n-trials 50
""",
    "worker-script": """examples:
  automl worker-script --format slurm --study income-v1 --workers 16 -o workers.sbatch
  automl worker-script --format kubernetes --study income-v1 --workers 8 --image me/automl:1 -o job.yaml
the storage is never written in the file: Slurm reads it from $AUTOML_STORAGE (--storage-env) at sbatch,
Kubernetes from a Secret (--secret, --secret-key)
""",
    "resume": """examples:
  automl resume --study income-v1                     # the budget it started with, once more
  automl resume --study income-v1 --time-budget 300 --output model_v2
""",
    "leaderboard": """examples:
  automl leaderboard model_dir                        # the leaderboard saved with a model
  automl leaderboard --study income-v1
  automl leaderboard --study income-v1 --storage postgresql://me@db/studies --top 0
  automl leaderboard --study income-v1 --csv trials.csv
""",
    "predict": """examples:
  automl predict model_dir test.csv -o predictions.csv
  automl predict model_dir test.parquet -o probabilities.csv --proba
  automl predict model_dir test.csv -o predictions.csv --keep-columns id,customer
  automl predict model_dir test.parquet -o predictions.parquet   # Parquet for a .parquet or .pq name
  automl predict model_dir test.csv -o - | head                   # CSV on standard output
""",
    "explain": """examples:
  automl explain model_dir test.csv -o contributions.csv
  automl explain model_dir test.csv -o contributions.csv --class yes
""",
    "spaces": """examples:
  automl spaces show lightgbm
  automl spaces check overrides.yaml       # {family: {param: value or {low, high, ...}}}
  automl spaces check my_space.yaml        # a whole space: {family: ..., params: ...}
""",
    "ui": """examples:
  automl ui                                   # MLflow UI on ./mlflow.db at http://127.0.0.1:5000
  automl ui --tracking-uri sqlite:///runs/mlflow.db --port 0
""",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser without abbreviations whose "unrecognized arguments" error names the
    nearest flags of the sub-command given (exit code 2, as every usage error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # noqa: D102 - argparse's
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.prog == "automl":  # the top parser: the sub-commands' leftovers end up here
            extras = _top_switches(self, parsed, extras)
            if extras:
                _unknown(self, parsed, extras)
        return parsed, extras


def _top_switches(parser: argparse.ArgumentParser, parsed: argparse.Namespace, extras: list[str]) -> list[str]:
    """Take the top parser's switches (``-v``/``--verbose``) given after the command, as users write them
    (``automl fit data.csv --target y --verbose``); return the arguments still unknown."""
    switches = {flag: action.dest for action in parser._actions if isinstance(action, argparse._StoreTrueAction)
                for flag in action.option_strings}
    for extra in extras:
        if extra in switches:
            setattr(parsed, switches[extra], True)
    return [extra for extra in extras if extra not in switches]


def _unknown(parser: argparse.ArgumentParser, parsed: argparse.Namespace, extras: list[str]) -> None:
    """Exit with the usage of the sub-command given and the flags nearest to each unknown one."""
    from automl._suggest import close_names

    target = parser
    for dest in ("command", "spaces_command"):
        name = getattr(parsed, dest, None)
        subs = [a for a in target._actions if isinstance(a, argparse._SubParsersAction)]
        if name is None or not subs or name not in subs[0].choices:
            break
        target = subs[0].choices[name]
    flags = [f for p in {parser, target} for a in p._actions for f in a.option_strings if f.startswith("--")]
    notes = []
    for extra in extras:
        flag = extra.split("=", 1)[0]
        near = close_names(flag, flags) if flag.startswith("-") else []
        if near:
            notes.append(f"{flag} (did you mean {near[0]}?)")
    detail = "; ".join(notes) if notes else " ".join(extras)
    target.error(f"unrecognized arguments: {detail}; {target.prog} --help lists the options")


def _sub(sub: argparse._SubParsersAction, name: str, help_text: str, run: object, examples: str | None = None):  # noqa: ANN202
    parser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=_EXAMPLES.get(examples or name),
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
    )
    parser.set_defaults(run=run)
    return parser


def _storage(parser: argparse.ArgumentParser) -> None:
    _flag(parser, "storage")


def _flag(parser: argparse.ArgumentParser, name: str, **overrides: Any) -> None:
    """The flag of setting ``name`` as the table declares it (flag, type, choices, help); a command
    may give it its own default, help or ``required``."""
    from automl.config import setting

    spec = setting(name)
    if spec.flag.startswith("--no-"):
        parser.add_argument(spec.flag, action="store_true", help=spec.cli_help)
        return
    kwargs: dict[str, Any] = {"help": spec.cli_help or None}
    if spec.cli_type is not None:
        kwargs["type"] = spec.cli_type
    if spec.cli_choices is not None:
        kwargs["choices"] = list(spec.cli_choices)
    parser.add_argument(spec.flag, **{**kwargs, **overrides})


def _search_options(parser: argparse.ArgumentParser) -> None:
    """One flag per setting of :data:`automl.config.SETTINGS`, then where the model goes."""
    from automl.config import SETTINGS

    for spec in SETTINGS:
        _flag(parser, spec.name)
    parser.add_argument("-o", "--output", help="folder to save the model in")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model folder")


def _workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1,
                        help="processes on this host working on the study (default 1; more need a study name, "
                        "which is made up if missing)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="run the N - 1 helpers of --workers N as tasks on the Dask cluster at this scheduler "
                        "address (tcp://host:8786; pip install 'automl[cluster]'); its machines need a shared "
                        "storage such as PostgreSQL (a journal file serves a cluster on this host only)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``automl`` command."""
    parser = _Parser(
        prog="automl",
        description="AutoML model selection: cross-validated Optuna search over model families.",
        epilog=_EXAMPLES["main"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every trial; tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _sub(sub, "demo", "fit on a bundled data set with the embedded defaults", commands.demo, "main")
    _flag(demo, "time_budget", default=20.0, help="seconds (default 20)")
    _flag(demo, "study_name", default="automl-demo", help="study name (stored in the local journal file)")
    demo.add_argument("-o", "--output", default="automl-demo-model", help="folder to save the model in")

    fit = _sub(sub, "fit", "search and fit on a CSV or Parquet file", commands.fit)
    fit.add_argument("data", help="CSV or Parquet file with the target column")
    fit.add_argument("--target", required=True, help="name of the column to predict")
    fit.add_argument("--sample-weight", metavar="COLUMN",
                     help="column of row weights (used in training and in the CV scores; not a feature)")
    _search_options(fit)
    _workers(fit)

    sweep = _sub(sub, "sweep", "run the sweep described by a YAML file", commands.sweep)
    sweep.add_argument("file", help="sweep YAML file")
    sweep.add_argument("--check", action="store_true", help="only validate the file")
    _workers(sweep)

    _study_commands(sub)
    _model_and_space_commands(sub)
    return parser


def _study_commands(sub: argparse._SubParsersAction) -> None:
    """``worker``, ``resume`` and ``leaderboard``: the commands that work on a stored study."""
    worker = _sub(sub, "worker", "join a running sweep and work until its budget is spent", commands.worker)
    _flag(worker, "study_name", required=True, help="the sweep's study name")
    _storage(worker)
    worker.add_argument("--data", help="path of the sweep's data on this machine (default: the sweep's own path)")
    _flag(worker, "n_trials", help="stop after this many trials (default: until the sweep ends)")
    worker.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the study (and its journal or SQLite file, which the "
                        "worker never creates) to appear (default 60)")
    worker.add_argument("--quiet", action="store_true", help="print nothing at the end")

    _worker_script(sub)

    resume = _sub(sub, "resume", "continue a stored sweep with a new budget", commands.resume)
    _flag(resume, "study_name", required=True, help="the sweep's study name")
    _storage(resume)
    _flag(resume, "time_budget", help="seconds (default: the sweep's own budget)")
    _flag(resume, "n_trials", help="more trials (instead of a time budget)")
    resume.add_argument("-o", "--output", help="folder to save the model in (default: the sweep's own)")
    resume.add_argument("--data", help="path of the sweep's data on this machine, an unchanged copy (default: the "
                                       "sweep's own path)")
    _workers(resume)

    board = _sub(sub, "leaderboard", "the trials of a saved model or of a stored study, best first",
                 commands.leaderboard)
    board.add_argument("model", nargs="?", metavar="MODEL_DIR",
                       help="a saved model folder (fit --output, model.save): the leaderboard saved with it")
    _flag(board, "study_name", help="study name (instead of MODEL_DIR)")
    _storage(board)
    board.add_argument("--top", type=_rows, default=20, help="rows to show (default 20; 0: all)")
    board.add_argument("--csv", help="write every trial and column to this CSV file instead")


def _worker_script(sub: argparse._SubParsersAction) -> None:
    from automl.cli import launch

    script = _sub(sub, "worker-script", "write a Slurm job array or a Kubernetes Indexed Job of automl workers",
                  launch.worker_script)
    script.add_argument("--format", required=True, choices=["slurm", "kubernetes"], help="the batch system")
    _flag(script, "study_name", required=True, help="the sweep's study name")
    script.add_argument("--workers", type=int, required=True, help="array tasks (Slurm) or pods (Kubernetes)")
    _flag(script, "n_trials", help="trials per worker (default: until the sweep ends)")
    script.add_argument("--data", help="path of the sweep's data on the workers' machines (default: the sweep's own)")
    script.add_argument("--cpus", type=int, default=1, help="CPUs per worker (default 1)")
    script.add_argument("--storage-env", default="AUTOML_STORAGE",
                        help="slurm: the variable holding the storage URL when you run sbatch (default AUTOML_STORAGE)")
    script.add_argument("--setup", action="append", metavar="LINE",
                        help="slurm: a shell line run first, e.g. 'source venv/bin/activate' (repeatable)")
    script.add_argument("--image", default="automl:latest", help="kubernetes: image with automl installed")
    script.add_argument("--secret", default="automl-storage", help="kubernetes: Secret holding the storage URL")
    script.add_argument("--secret-key", default="storage", help="kubernetes: its key (default storage)")
    script.add_argument("-o", "--output", help="file to write (default: standard output)")


def _model_and_space_commands(sub: argparse._SubParsersAction) -> None:
    """``predict``, ``families``, ``spaces show|check`` and ``ui``."""
    predict = _sub(sub, "predict", "predict with a saved model", commands.predict)
    predict.add_argument("model", help="model folder written by fit --output or model.save")
    predict.add_argument("data", help="CSV or Parquet file")
    predict.add_argument("-o", "--output", default="predictions.csv",
                         help="file to write: Parquet for a .parquet or .pq name, else CSV; - writes CSV to standard "
                         "output (default predictions.csv)")
    predict.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    predict.add_argument("--keep-columns", metavar="COLUMNS",
                         help="input columns to copy beside the predictions, comma-separated (e.g. id,customer)")

    explain = _sub(sub, "explain", "write each row's contributions of each input column (SHAP values)",
                   commands.explain)
    explain.add_argument("model", help="model folder written by fit --output or model.save")
    explain.add_argument("data", help="CSV or Parquet file (also the background rows of the estimate)")
    explain.add_argument("-o", "--output", default="contributions.csv",
                         help="file to write: Parquet for a .parquet or .pq name, else CSV; - writes CSV to standard "
                         "output (default contributions.csv)")
    explain.add_argument("--class", dest="target_class", metavar="LABEL",
                         help="class explained (default: the positive class; multiclass: each row's predicted class)")

    _sub(sub, "families", "list the model families and whether they are installed", commands.families, "main")

    spaces = _sub(sub, "spaces", "show or check search spaces", None)
    spaces_sub = spaces.add_subparsers(dest="spaces_command", required=True, metavar="ACTION")
    show = _sub(spaces_sub, "show", "print a family's built-in search space as YAML", commands.spaces_show, "spaces")
    show.add_argument("family", help="family name (see automl families)")
    check = _sub(spaces_sub, "check", "validate a search-space or overrides YAML file", commands.spaces_check,
                 "spaces")
    check.add_argument("file", help="YAML file")

    ui = _sub(sub, "ui", "browse the tracked runs in the MLflow UI (until Ctrl-C)", commands.ui)
    _flag(ui, "tracking_uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    ui.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; the UI has no login)")
    ui.add_argument("--port", type=int, default=5000, help="port (default 5000; 0 picks a free one)")


def _rows(text: str) -> int:
    """``--top``: a count of rows, 0 for all (argparse says the rule when it is broken)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of rows, 0 for all; got {text!r}")
    return value
