"""The ``automl`` command line: ``demo``, ``fit``, ``predict``, ``families`` and ``ui``.

Example:
    >>> main(["families"])  # doctest: +ELLIPSIS
    lightgbm ...
    0
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]

_EPILOG = """examples:
  automl demo
  automl fit train.csv --target income --time-budget 60 --output model_dir
  automl fit train.parquet --target price --n-trials 40 --families lightgbm,linear --cv 5
  automl fit digits.csv --target label --image-shape 8x8 --families cnn,torch_mlp --device auto
  automl predict model_dir test.csv -o predictions.csv --proba
  automl families
  automl ui                                   # MLflow UI on ./mlflow.db at http://127.0.0.1:5000
  automl ui --tracking-uri sqlite:///runs/mlflow.db --port 0
"""


def _read_frame(path: str):  # noqa: ANN202 - pandas imported lazily
    import pandas as pd

    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _cv(text: str | None) -> object:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _demo(args: argparse.Namespace) -> int:
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    import automl

    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["target"])
    print(f"demo: breast cancer (bundled with scikit-learn), {len(train)} training rows, {len(test)} test rows")
    print(f"searching for {args.time_budget:g} s over {', '.join(automl.available_families())} ...")
    model = automl.fit(train, target="target", time_budget=args.time_budget, study_name=args.study, seed=0)
    board = model.leaderboard()
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(board[["rank", "trial", "family", "roc_auc_mean", "roc_auc_std", "fit_time", "state"]].head(10))
    print(f"best: {model.best_family_} (trial {model.best_trial_}), CV roc_auc {model.best_score_:.4f}")
    print(f"test: {model.evaluate(test)}")
    folder = model.save(args.output, overwrite=True)
    reloaded = automl.load(folder)
    same = (reloaded.predict(test) == model.predict(test)).all()
    print(f"saved to {folder}; reloaded predictions identical: {bool(same)}")
    print(f"study {model.study_name_!r} stored in {model.storage_} (run the demo again to resume it)")
    if getattr(model, "tracking_run_id_", None):
        print(f"MLflow: run {model.tracking_run_id_} in {model.tracking_uri_}; browse it with: automl ui")
    return 0


def _fit(args: argparse.Namespace) -> int:
    import automl

    frame = _read_frame(args.data)
    model = automl.fit(
        frame,
        target=args.target,
        task=args.task,
        metric=args.metric,
        time_budget=args.time_budget,
        n_trials=args.n_trials,
        cv=_cv(args.cv),
        families=args.families.split(",") if args.families else None,
        search_space=args.space,
        seed=args.seed,
        n_jobs=args.n_jobs,
        study_name=args.study,
        storage=args.storage,
        tracking=False if args.no_tracking else None,
        tracking_uri=args.tracking_uri,
        register_model=args.register_model,
        device=args.device,
        image_shape=_image_shape(args.image_shape),
    )
    print(model.leaderboard().head(20).to_string(index=False))
    if getattr(model, "tracking_run_id_", None):
        print(f"MLflow run {model.tracking_run_id_} in {model.tracking_uri_} (see it with: automl ui)")
    if args.output:
        print(f"model saved to {model.save(args.output, overwrite=args.overwrite)}")
    return 0


def _image_shape(text: str | None) -> tuple[int, ...] | None:
    """``28x28`` or ``32x32x3`` -> a tuple (validated by automl.fit)."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        from automl.exceptions import InvalidParameterError

        raise InvalidParameterError(
            f"--image-shape must look like HEIGHTxWIDTH or HEIGHTxWIDTHxCHANNELS (e.g. 28x28), got {text!r}"
        ) from None


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    import automl

    model = automl.load(args.model)
    frame = _read_frame(args.data)
    if args.proba:
        out = pd.DataFrame(model.predict_proba(frame), columns=[str(c) for c in model.classes_])
    else:
        out = pd.DataFrame({"prediction": model.predict(frame)})
    out.to_csv(args.output, index=False)
    print(f"{len(out)} predictions written to {args.output}")
    return 0


def _families(args: argparse.Namespace) -> int:
    from automl.families import get_family, registered_families

    for name in registered_families():
        family = get_family(name)
        missing = family.missing_requirements()
        status = "installed" if not missing else f"missing {', '.join(missing)}"
        print(f"{name:24s} {status:12s} {family.description}")
    return 0


def _ui(args: argparse.Namespace) -> int:
    from automl.ui import serve

    return serve(args.tracking_uri, host=args.host, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``automl`` command."""
    parser = argparse.ArgumentParser(
        prog="automl",
        description="AutoML model selection: cross-validated Optuna search over model families.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every trial")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="fit on a bundled data set with the embedded defaults")
    demo.add_argument("--time-budget", type=float, default=20.0, help="seconds (default 20)")
    demo.add_argument("--study", default="automl-demo", help="study name (stored in the local journal file)")
    demo.add_argument("--output", default="automl-demo-model", help="folder to save the model in")
    demo.set_defaults(run=_demo)

    fit = sub.add_parser("fit", help="search and fit on a CSV or Parquet file", epilog=_EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("data", help="CSV or Parquet file with the target column")
    fit.add_argument("--target", required=True, help="name of the column to predict")
    fit.add_argument("--task", choices=["binary", "multiclass", "regression"])
    fit.add_argument("--metric", help="metric to optimise (default by task)")
    fit.add_argument("--time-budget", type=float, help="seconds for the whole fit")
    fit.add_argument("--n-trials", type=int, help="number of trials")
    fit.add_argument("--cv", help="5 | 0.2 | repeated:5x3 | group:COLUMN | time:5 | holdout:0.2 (default: 5 folds)")
    fit.add_argument("--families", help="comma-separated family names (default: all installed)")
    fit.add_argument("--space", help="YAML file of search-space overrides {family: {param: ...}}")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--n-jobs", type=int, default=-1)
    fit.add_argument("--study", help="study name (stored, resumable)")
    fit.add_argument("--storage", help="study storage: a .journal path or an RDB URL")
    fit.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")
    fit.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    fit.add_argument("--register-model", help="register the final model in MLflow under this name")
    fit.add_argument("--device", default="auto", help="where nets train: auto (default), cpu, cuda, cuda:N, mps")
    fit.add_argument("--image-shape", help="the columns are image pixels of this shape: HxW or HxWxC (channels last)")
    fit.add_argument("--output", help="folder to save the model in")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    fit.set_defaults(run=_fit)

    predict = sub.add_parser("predict", help="predict with a saved model")
    predict.add_argument("model", help="model folder written by fit --output or model.save")
    predict.add_argument("data", help="CSV or Parquet file")
    predict.add_argument("-o", "--output", default="predictions.csv")
    predict.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    predict.set_defaults(run=_predict)

    families = sub.add_parser("families", help="list the model families and whether they are installed")
    families.set_defaults(run=_families)

    ui = sub.add_parser("ui", help="browse the tracked runs in the MLflow UI (until Ctrl-C)", epilog=_EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ui.add_argument("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)")
    ui.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; the UI has no login)")
    ui.add_argument("--port", type=int, default=5000, help="port (default 5000; 0 picks a free one)")
    ui.set_defaults(run=_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 done, 1 failed, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    from automl.exceptions import AutoMLError

    try:
        return int(args.run(args))
    except AutoMLError as exc:
        print(f"automl: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, TypeError)) else 1
    except KeyboardInterrupt:
        print("automl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
