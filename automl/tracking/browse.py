"""Where a user sees a tracked search: the MLflow UI's training-runs view of its experiment.

MLflow 3's UI lands on an overview of GenAI traces, empty for automl's runs; the page that shows them is
``<ui>/#/experiments/<id>/runs?workflowType=machine_learning`` (:func:`runs_view_url`). The CLI's
end-of-fit message names it (:func:`browse_hint`), and ``automl ui`` prints it for the experiment of the
latest run (:func:`runs_view_line`).
"""

from __future__ import annotations

import json
import urllib.request

__all__ = ["DEFAULT_UI_URL", "browse_hint", "latest_experiment", "runs_view_line", "runs_view_url"]


def runs_view_url(ui_url: str, experiment_id: str) -> str:
    """The MLflow UI page of an experiment's training runs (not MLflow 3's GenAI overview): the runs
    table, with the primary metric, the parameters and the Dataset column.

    Example:
        >>> runs_view_url("http://127.0.0.1:5000/", "3")
        'http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning'
    """
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


#: Where ``automl ui`` serves by default.
DEFAULT_UI_URL = "http://127.0.0.1:5000"


def browse_hint(tracking_uri: str | None, experiment_id: str | None) -> str:
    """How to see a tracked fit's runs: a tracking server's runs view itself, else ``automl ui`` and the
    page it serves them on (the end-of-fit message of the CLI).

    Example:
        >>> browse_hint("sqlite:///mlflow.db", "1")
        'browse it: automl ui, then http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning'
        >>> browse_hint("https://me:***@mlflow.example/", "7")
        'browse it: https://mlflow.example/#/experiments/7/runs?workflowType=machine_learning'
    """
    from urllib.parse import urlsplit, urlunsplit

    uri = tracking_uri or ""
    parts = urlsplit(uri)
    if experiment_id is not None and parts.scheme in ("http", "https"):
        server = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        return f"browse it: {runs_view_url(server, experiment_id)}"
    command = "automl ui" + _store_flag(uri)
    if experiment_id is None:
        return f"browse it: {command}"
    return f"browse it: {command}, then {runs_view_url(DEFAULT_UI_URL, experiment_id)}"


def _store_flag(uri: str) -> str:
    """`` --tracking-uri URI`` where ``automl ui`` alone would open another store (its default: the variable
    ``MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the working folder); a URL holding a password (shown masked) is
    named through a variable, never on the command line.

    Example:
        >>> _store_flag("sqlite:////data/runs.db")
        ' --tracking-uri sqlite:////data/runs.db'
    """
    import shlex

    from automl._redact import MASK
    from automl.tracking.store import default_tracking_uri

    if not uri or uri in (default_tracking_uri(), "sqlite:///mlflow.db"):
        return ""
    if MASK in uri:
        return " --tracking-uri env:NAME (NAME: a variable holding the store's URL)"
    return f" --tracking-uri {shlex.quote(uri)}"


def _post(url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def latest_experiment(url: str) -> tuple[str, str] | None:
    """``(id, name)`` of the experiment of the most recent run on the UI at ``url`` (the search just
    tracked), else of the newest experiment; None when there is none or the server does not say."""
    try:
        experiments = _post(url, "/api/2.0/mlflow/experiments/search",
                            {"max_results": 1000, "order_by": ["last_update_time DESC"]}).get("experiments", [])
        if not experiments:
            return None
        names = {e["experiment_id"]: e["name"] for e in experiments}
        runs = _post(url, "/api/2.0/mlflow/runs/search", {"experiment_ids": list(names), "max_results": 1,
                                                          "order_by": ["attributes.start_time DESC"]}).get("runs", [])
    except (OSError, ValueError, KeyError):
        return None
    chosen = runs[0]["info"]["experiment_id"] if runs else experiments[0]["experiment_id"]
    return chosen, names.get(chosen, "")


def runs_view_line(url: str) -> str:
    """The line ``automl ui`` prints: the training-runs view of the latest experiment (MLflow's own landing
    page is an overview of GenAI traces).

    Example:
        >>> runs_view_line("http://127.0.0.1:9")  # nothing answers there
        'training runs: http://127.0.0.1:9/#/experiments  (no experiment yet)'
    """
    found = latest_experiment(url)
    if found is None:
        return f"training runs: {url}/#/experiments  (no experiment yet)"
    return f"training runs of experiment {found[1]!r}: {runs_view_url(url, found[0])}"
