"""What each ``automl`` sub-command does (the parser is in :mod:`automl.cli.parser`).

Example:
    >>> import argparse
    >>> families(argparse.Namespace())  # doctest: +ELLIPSIS
    lightgbm ...
    0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from automl.cli.board import board_table

__all__ = [
    "demo", "explain", "families", "fit", "leaderboard", "predict", "resume", "spaces_check", "spaces_show", "sweep",
    "ui", "worker",
]

def _report(model: Any, spec: Any) -> None:
    print(board_table(model.leaderboard()))
    ensemble = getattr(model, "ensemble_", None)
    if ensemble:
        members = ", ".join(f"{f} #{t} ({w:.2f})" for f, t, w in zip(ensemble["families"], ensemble["trials"],
                                                                      ensemble["weights"]))
        print(f"final model: an ensemble of {members}; CV {model.metric_.name} {model.best_score_:.5g}")
    print(f"best trial: {model.best_trial_} ({model.best_family_}), CV {model.metric_.name} "
          f"{float(model.leaderboard().dropna(subset=['trial']).iloc[0][model.metric_.name + '_mean']):.5g}")
    if spec.output:
        print(f"model saved to {spec.output}")
    if getattr(model, "storage_", "memory") != "memory":
        from automl.cli.study_lines import study_command

        storage = spec.settings.get("storage")
        print(f"study {model.study_name_!r} in {model.storage_} (continue it: "
              f"{study_command('resume', model.study_name_, storage)}; join it: "
              f"{study_command('worker', model.study_name_, storage)})")
    if getattr(model, "tracking_run_id_", None):
        from automl._redact import redact_url
        from automl.tracking import browse_hint

        print(f"MLflow run {model.tracking_run_id_} in {redact_url(model.tracking_uri_)}; "
              f"{browse_hint(model.tracking_uri_, getattr(model, 'tracking_experiment_id_', None))}")


def _progress(spec: Any) -> Any:
    """The progress display, shown by the command's console (which ends its line before printing)."""
    import warnings

    from automl.cli import output
    from automl.cli.progress import Progress

    out = output.current()
    progress = Progress(out.stream if out else sys.stderr, spec.settings.get("time_budget"), spec.settings.get("n_trials"))
    if out is not None:
        out.progress = progress
        if not out.verbose:  # raised in the trial workers, which get these filters; nothing the user can change
            from sklearn.exceptions import ConvergenceWarning

            warnings.filterwarnings("ignore", category=ConvergenceWarning)
    return progress


def _check_workers(args: argparse.Namespace) -> None:
    """``--workers`` and ``--cluster`` of ``fit``, ``sweep`` and ``resume``, checked before anything is read."""
    from automl.cli.launch import check_workers

    check_workers(args.workers, args.cluster)


def _run(spec: Any, workers: int = 1, cluster: str | None = None) -> int:
    from automl._setting_checks import output_problems
    from automl._spawn import stop_helpers
    from automl.cli import launch, output
    from automl.exceptions import InvalidParameterError
    from automl.sweep import run_sweep

    problems = output_problems(spec.output, spec.overwrite)
    if problems:  # before the search: the model must be savable
        raise InvalidParameterError(problems)
    helpers: Any = _start_workers(spec, workers - 1) if cluster is None else launch.start(spec, workers - 1, cluster)
    progress = _progress(spec)
    failed = True
    try:
        model = run_sweep(spec, callbacks=[progress])
        failed = False
    finally:
        progress.close()
        out = output.current()
        if out is not None:
            out.progress = None
        if cluster is None:
            stop_helpers(helpers, terminate=failed)  # interrupted or failed: the helpers stop now
        else:
            launch.stop(helpers, failed)
    _report(model, spec)
    return 0


def _start_workers(spec: Any, n: int) -> list[subprocess.Popen]:
    """Start ``n`` local ``automl worker`` processes that join the sweep's study; they die with this process,
    and get the storage in ``$AUTOML_STORAGE``, not on their command line (which ``ps`` shows)."""
    from automl._spawn import start_helper, worker_arguments
    from automl.search.storage import STORAGE_ENV
    from automl.cli.launch import name_study

    if n <= 0:
        return []
    command = [sys.executable, "-m", "automl.cli", "worker", *worker_arguments(name_study(spec))]
    storage = spec.settings.get("storage")
    env = {} if storage is None else {STORAGE_ENV: str(os.fspath(storage) if isinstance(storage, os.PathLike)
                                                           else storage)}
    return [start_helper(command, env, stdout=subprocess.DEVNULL) for _ in range(n)]


def demo(args: argparse.Namespace) -> int:
    """Fit on a data set bundled with scikit-learn, evaluate, save and reload."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    import automl
    from automl._setting_checks import output_problems
    from automl.exceptions import InvalidParameterError

    if problems := output_problems(args.output, True):  # before the search, as fit: it saves over its last model only
        raise InvalidParameterError(problems)
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["target"])
    print(f"demo: breast cancer (bundled with scikit-learn), {len(train)} training rows, {len(test)} test rows")
    from automl.families.registry import resolve_families

    searched = [f.name for f in resolve_families(None, "binary")]  # what families=None searches
    print(f"searching for {args.time_budget:g} s over {', '.join(searched)} ...")
    model = automl.fit(train, target="target", time_budget=args.time_budget, study_name=args.study, seed=0)
    board = model.leaderboard()
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(board[["rank", "trial", "family", "roc_auc_mean", "roc_auc_std", "fit_time", "state"]].head(10))
    print(f"final model: {model.model_source_}, CV roc_auc {model.best_score_:.4f}")
    print(f"test: {model.evaluate(test)}")
    folder = model.save(args.output, overwrite=True)
    reloaded = automl.load(folder)
    same = (reloaded.predict(test) == model.predict(test)).all()
    print(f"saved to {folder}; reloaded predictions identical: {bool(same)}")
    print(f"study {model.study_name_!r} stored in {model.storage_} (run the demo again to resume it)")
    if getattr(model, "tracking_run_id_", None):
        print(f"MLflow: run {model.tracking_run_id_} in {model.tracking_uri_}; browse it with: automl ui")
    return 0


def _flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (one per setting of :data:`automl.config.SETTINGS`); a ``--no-...``
    flag sets its setting to False. Values are passed as read: the sweep's validation (the same as
    ``automl.fit``'s) parses and checks them."""
    from automl.config import SETTINGS

    out: dict[str, Any] = {}
    for spec in SETTINGS:
        value = getattr(args, spec.flag[2:].replace("-", "_"))
        if spec.flag.startswith("--no-"):
            if value:
                out[spec.name] = False
        elif value is not None:
            out[spec.name] = value
    return out


def fit(args: argparse.Namespace) -> int:
    """Search on a CSV or Parquet file; print the leaderboard; save the model."""
    from automl.sweep import sweep_from_mapping

    _check_workers(args)
    mapping: dict[str, Any] = {"data": args.data, "target": args.target, **_flag_settings(args)}
    if args.sample_weight is not None:
        mapping["sample_weight"] = args.sample_weight
    if args.output is not None:
        mapping["output"] = args.output
    mapping["overwrite"] = bool(args.overwrite)
    spec = args.spec = sweep_from_mapping(mapping, "command line")
    return _run(spec, args.workers, args.cluster)


def sweep(args: argparse.Namespace) -> int:
    """Run the sweep described by a YAML file."""
    from automl.sweep import load_sweep

    _check_workers(args)
    spec = args.spec = load_sweep(args.file)
    if args.check:
        _check_sweep(spec)
        print(f"{args.file}: OK ({spec.target!r} from {spec.data})")
        return 0
    return _run(spec, args.workers, args.cluster)


def _check_sweep(spec: Any) -> None:
    """What a run of ``spec`` checks before its search, without searching or writing: its output folder, then its
    data read and validated with its settings (the target, the weights, the folds, the limits), as ``automl.fit``
    does first (``--check`` once read no data, and said OK to files the run refused)."""
    from automl._fit.problem import checked_settings, prepare_problem
    from automl._setting_checks import output_problems
    from automl.data.source import open_data
    from automl.exceptions import InvalidParameterError
    from automl.sweep import _split, read_frame

    if problems := output_problems(spec.output, spec.overwrite):
        raise InvalidParameterError(problems)
    model, X, y, fit_args = _split(spec, read_frame(open_data(spec.data, spec.data_sha256)[0]))
    groups, weights = fit_args["groups"], fit_args["sample_weight"]
    prepare_problem(checked_settings(model.get_params(deep=False), model._estimator, X, y, groups, weights),
                    X, y, groups, weights)


def resume(args: argparse.Namespace) -> int:
    """Continue a stored sweep with a new budget."""
    from automl.sweep import resume_spec

    _check_workers(args)
    spec = args.spec = resume_spec(
        args.study, args.storage, time_budget=args.time_budget, n_trials=args.n_trials, output=args.output,
        data=args.data,
    )
    return _run(spec, args.workers, args.cluster)


def worker(args: argparse.Namespace) -> int:
    """Join a running sweep and work until its budget or trial target is spent."""
    from automl.search.trial_record import worker_id
    from automl.sweep import run_worker

    result = run_worker(args.study, args.storage, data=args.data, n_trials=args.n_trials, wait=args.wait)
    mine = [r for r in result.trials() if r.worker == worker_id()]
    states: dict[str, int] = {}
    for r in mine:
        states[r.state] = states.get(r.state, 0) + 1
    if not args.quiet:
        detail = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
        print(f"worker {worker_id()}: {len(mine)} trials in study {args.study!r} ({detail})")
    return 0


def leaderboard(args: argparse.Namespace) -> int:
    """Print (or write) the leaderboard of a saved model folder or of a stored study; creates no file
    but ``--csv``."""
    from automl.exceptions import InvalidParameterError
    from automl.persistence import leaderboard_csv, read_leaderboard

    if (args.model is None) == (args.study is None):
        raise InvalidParameterError(
            "automl leaderboard reads a saved model folder (automl leaderboard MODEL_DIR) or a stored study "
            f"(automl leaderboard --study NAME), one of them; got {'both' if args.model else 'neither'}"
        )
    if args.model is not None:
        board = read_leaderboard(args.model)
    else:
        from automl.sweep import study_leaderboard

        board = study_leaderboard(args.study, args.storage)
    if args.csv:
        _write_text(args.csv, leaderboard_csv(board), "the leaderboard")
        print(f"{len(board)} rows written to {args.csv}")
    elif len(board) == 0:
        where = f"model folder {args.model!r}" if args.model is not None else f"study {args.study!r}"
        print(f"{where} has no trials yet (a sweep that is starting has none; its trials appear as they end)")
    else:
        source = f"{args.model}" if args.model is not None else f"--study {args.study}"
        print(board_table(board, args.top, f"automl leaderboard {source} --top 0"))
    return 0


def _write_text(path: str, text: str, what: str) -> None:
    from automl.exceptions import InvalidParameterError

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot write {what} to {path!r}: {exc.strerror or exc}; pass a path in a writable folder"
        ) from None


def _write_table(frame: Any, path: str, what: str) -> None:
    """``frame`` to ``path`` (``-o``): Parquet for a ``.parquet``/``.pq`` path, CSV on standard output for ``-``,
    CSV otherwise; a path that cannot be written is refused, naming ``what``."""
    from automl.data.tables import PARQUET_SUFFIXES
    from automl.exceptions import InvalidParameterError

    try:
        if path == "-":
            _to_stdout(frame)
        elif path.lower().endswith(PARQUET_SUFFIXES):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot write {what} to {path!r}: {exc.strerror or exc}; pass -o PATH in a writable folder"
        ) from None


def _to_stdout(frame: Any) -> None:
    """``frame`` as CSV on standard output; a reader that stops early (``| head``) ends the output quietly."""
    try:
        frame.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    except BrokenPipeError:  # Python's advice: point stdout at devnull, so the flush at exit raises nothing
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _written(what: str, path: str) -> None:
    """Say where the rows went: on standard output after a file, on standard error after ``-o -`` (whose rows
    are on standard output)."""
    if path == "-":
        print(f"{what} standard output", file=sys.stderr)
    else:
        print(f"{what} {path}")


def predict(args: argparse.Namespace) -> int:
    """Predict with a saved model; write a CSV or Parquet file, or CSV to standard output (``-o -``).

    The data file is read with the model's schema: columns that were categories, datetimes or
    timedeltas at fit are read as text (a CSV's ``007`` stays ``007``), so the rows get the same
    predictions as the same frame passed to ``model.predict`` in Python.
    """
    import pandas as pd

    import automl
    from automl.data.tables import read_table
    from automl.exceptions import InvalidParameterError

    model = automl.load(args.model)
    task = getattr(model, "task_", None)
    if args.proba and (task == "regression" or not hasattr(model, "predict_proba")):
        raise InvalidParameterError(
            f"--proba gives class probabilities, but the model in {args.model!r} is a {task} model "
            f"({type(model).__name__}), which predicts values; drop --proba to write its predictions"
        )
    frame = read_table(args.data, schema=model.schema_)
    kept = _kept_columns(frame, args.keep_columns, args.data)
    features = frame.drop(columns=[c for c in kept.columns if c not in set(model.schema_.names)])
    if args.proba:
        out = pd.DataFrame(model.predict_proba(features), columns=[str(c) for c in model.classes_])
    else:
        out = pd.DataFrame({"prediction": model.predict(features)})
    clash = sorted(set(kept.columns) & set(out.columns))
    if clash:
        raise InvalidParameterError(f"--keep-columns {clash} would have the name of an output column; "
                                    "rename the column in the data file or keep the others only")
    out = pd.concat([kept.reset_index(drop=True), out], axis=1)
    _write_table(out, args.output, "the predictions")
    _written(f"{len(out)} predictions written to", args.output)
    return 0


def explain(args: argparse.Namespace) -> int:
    """Write each row's contributions of each input column (``model.explain``) to a CSV.

    The data file is read with the model's schema, as ``automl predict`` reads it; nothing is
    written when the data is refused.
    """
    import automl
    from automl.data.tables import read_table
    from automl.exceptions import InvalidParameterError

    model = automl.load(args.model)
    frame = read_table(args.data, schema=model.schema_)
    target = None
    if args.target_class is not None:
        classes = list(getattr(model, "classes_", []))
        matches = [c for c in classes if str(c) == args.target_class]
        if not matches:
            raise InvalidParameterError(f"--class {args.target_class!r} is not a class of the model in {args.model!r} "
                                        f"({[str(c) for c in classes] or 'a regression model has none'}); "
                                        "pass one of them, or leave --class out")
        target = matches[0]
    out = model.explain(frame, target=target)
    _write_table(out, args.output, "the contributions")
    _written(f"{len(out)} rows of contributions ({out.attrs['output']}) written to", args.output)
    return 0


def _kept_columns(frame: Any, spec: str | None, source: str) -> Any:
    """The input columns ``--keep-columns`` names (``"id,customer"``), to be written beside the predictions
    (a CSV's as their text, exactly as in the file)."""
    from automl._suggest import close_names
    from automl.data.tables import PARQUET_SUFFIXES
    from automl.exceptions import InvalidParameterError

    names = [n.strip() for n in (spec or "").split(",") if n.strip()]
    columns = [str(c) for c in frame.columns]
    unknown = [n for n in names if n not in columns]
    if unknown:
        problems = []
        for name in unknown:
            near = close_names(name, columns)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(f"--keep-columns: {source} has no column {name!r}{hint}")
        raise InvalidParameterError(problems)
    names = list(dict.fromkeys(names))
    if not names or source.endswith(PARQUET_SUFFIXES):
        return frame[names]
    import pandas as pd

    return pd.read_csv(source, usecols=names, dtype=str, keep_default_na=False)[names]  # copied as written: 007 stays 007


def families(args: argparse.Namespace) -> int:
    """List the registered model families and whether they are installed."""
    from automl.exceptions import FamilyUnavailableError, InvalidParameterError
    from automl.families import get_family, registered_families

    for name in registered_families():
        try:
            family = get_family(name)
        except (FamilyUnavailableError, InvalidParameterError) as exc:
            print(f"{name:24s} {'not loadable':12s} {exc}")
            continue
        missing = family.missing_requirements()
        status = "installed" if not missing else f"missing {', '.join(missing)}"
        named = "" if family.searched_by_default else " (searched when named in --families)"
        print(f"{name:24s} {status:12s} {family.description}{named}")
    return 0


def spaces_show(args: argparse.Namespace) -> int:
    """Print a family's built-in search space as YAML."""
    import yaml

    from automl.families import get_family

    space = get_family(args.family).space()
    print(yaml.safe_dump(space.to_dict(), sort_keys=False).rstrip())
    return 0


def spaces_check(args: argparse.Namespace) -> int:
    """Validate a search-space file: a whole family space, or overrides ``{family: {param: ...}}``."""
    import yaml

    from automl.exceptions import SearchSpaceError
    from automl.spaces import load_space_file
    from automl.spaces.yaml_files import load_yaml
    from automl.sweep import check_space_overrides

    path = Path(args.file)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SearchSpaceError(f"{args.file}: file not found") from None
    except yaml.YAMLError as exc:
        raise SearchSpaceError(f"{args.file}: not valid YAML: {' '.join(str(exc).split())}") from None
    if isinstance(data, dict) and "params" in data:
        space = load_space_file(path)
        print(f"{args.file}: OK, search space of {space.family!r} with {len(space.params)} parameters")
        return 0
    counts = check_space_overrides(data, args.file)
    detail = ", ".join(f"{family} ({n} parameters)" for family, n in counts.items())
    print(f"{args.file}: OK, overrides for {detail}")
    return 0


def ui(args: argparse.Namespace) -> int:
    """Serve the MLflow UI on the tracking store until Ctrl-C."""
    from automl.ui import serve

    return serve(args.tracking_uri, host=args.host, port=args.port)
