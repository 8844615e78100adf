"""Snapshot the public surface the redesign must not change (issue 15's guard rails).

    python -m tests.golden.make_api_snapshot

writes ``tests/golden/api.json``: the signature of ``automl.fit`` (names, defaults), both
estimators' parameters, the fitted attributes after a fit, the leaderboard's columns, every CLI
sub-command with its option strings, and the MLflow run layout of a tracked fit (run names, tag,
param and metric keys, artifacts). ``tests/test_golden_api.py`` rebuilds the same description with
today's code and compares.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _default(value: object) -> object:
    import inspect

    return None if value is inspect.Parameter.empty else repr(value)


def signatures() -> dict:
    import inspect

    import automl

    out = {"fit": {n: _default(p.default) for n, p in inspect.signature(automl.fit).parameters.items()}}
    for cls in (automl.AutoMLClassifier, automl.AutoMLRegressor):
        out[cls.__name__] = {k: repr(v) for k, v in cls().get_params().items()}
    out["load"] = {n: _default(p.default) for n, p in inspect.signature(automl.load).parameters.items()}
    out["public_names"] = sorted(automl.__all__)
    return out


def cli() -> dict:
    import argparse

    from automl.cli import build_parser

    def walk(parser: argparse.ArgumentParser, prefix: str, out: dict) -> None:
        options = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}".strip(), out)
            elif not isinstance(action, argparse._HelpAction):
                options.append({"flags": list(action.option_strings) or [action.dest],
                                "choices": list(action.choices) if action.choices else None,
                                "default": repr(action.default), "required": action.required})
        out[prefix or "automl"] = options

    out: dict = {}
    walk(build_parser(), "", out)
    return out


def fitted_and_mlflow(tmp: Path) -> dict:
    import mlflow

    import automl
    from tests.test_ensemble import _frame

    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    df = _frame(600)
    model = automl.fit(df, target="y", n_trials=6, families=["linear", "random_forest", "knn"], cv=3, study_name="snap",
                       storage=str(tmp / "s.journal"), tracking=True, tracking_uri=uri, n_jobs=1)
    fitted = sorted(k for k in vars(model) if k.endswith("_") and not k.startswith("_"))
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("snap")
    parent = client.get_run(model.tracking_run_id_)
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    trial_runs = [r for r in runs if "automl.trial_number" in r.data.tags]
    ensemble = [r for r in runs if r.info.run_name == "ensemble"]
    complete = [r for r in trial_runs if r.data.tags.get("automl.state") == "complete"]

    def keys(run: object) -> dict:
        return {"tags": sorted(k for k in run.data.tags if not k.startswith("mlflow.") or k == "mlflow.parentRunId"),
                "params": sorted(run.data.params), "metrics": sorted(run.data.metrics)}

    return {
        "fitted_attributes": fitted,
        "leaderboard_columns": list(model.leaderboard().columns),
        "mlflow": {
            "experiment": experiment.name,
            "experiment_tags": sorted(k for k in experiment.tags),
            "parent_run_name": parent.info.run_name,
            "parent": keys(parent),
            "parent_artifacts": sorted(a.path for a in client.list_artifacts(parent.info.run_id)),
            "trial_run_names": sorted(r.info.run_name for r in trial_runs),
            "complete_trial": keys(complete[0]),
            "ensemble": keys(ensemble[0]) if ensemble else None,
            "ensemble_won": bool(model.ensemble_),
        },
    }


def main() -> None:
    import tempfile

    warnings.simplefilter("ignore")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = {"commit": commit, "signatures": signatures(), "cli": cli(), **fitted_and_mlflow(Path(tmp))}
    (HERE / "api.json").write_text(json.dumps(snapshot, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
