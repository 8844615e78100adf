"""The checks of the MLflow settings: a store MLflow can use (``tracking_uri``) and a name its model registry
takes (``register_model``); read by :mod:`automl._setting_checks` and ``automl ui``.

Example:
    >>> tracking_uri_problems("sqlite:///mlflow.db"), _check_model_name("register_model", "churn")
    ([], [])
"""

from __future__ import annotations

import os
from typing import Any

from automl._redact import ENV_PREFIX, is_env_reference
from automl._sqlite_urls import sqlite_folder_problems

__all__ = ["FILE_STORE_SWITCH", "TRACKING_SCHEMES", "file_store_allowed", "tracking_uri_problems"]


#: The MLflow store schemes MLflow's own client accepts.
TRACKING_SCHEMES = ("file", "sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks", "databricks-uc",
                    "uc")


#: MLflow 3's switch that lets its client open a folder (file) store, which it otherwise refuses ("in maintenance
#: mode"); read as MLflow reads it (``mlflow.environment_variables.MLFLOW_ALLOW_FILE_STORE``: true/1, false/0).
FILE_STORE_SWITCH = "MLFLOW_ALLOW_FILE_STORE"


def file_store_allowed() -> bool:
    """Whether MLflow's client will open a folder store: ``$MLFLOW_ALLOW_FILE_STORE`` is ``true`` or ``1``."""
    return os.environ.get(FILE_STORE_SWITCH, "").strip().lower() in ("true", "1")


def tracking_uri_problems(uri: Any) -> list[str]:
    """An MLflow store ``uri`` MLflow cannot use: an unknown scheme, a SQLite file in a folder that does not exist,
    or a folder store (a plain path or ``file://``), which MLflow 3 refuses unless ``$MLFLOW_ALLOW_FILE_STORE``
    is true.

    Example:
        >>> tracking_uri_problems("sqlite:///mlflow.db"), tracking_uri_problems("ftp://x")[0][:36]
        ([], "tracking_uri='ftp://x': MLflow canno")
    """
    if not isinstance(uri, str) or not uri.strip():
        return []
    if is_env_reference(uri):  # the URL is read from the variable (README: secrets); a message names the reference
        name = uri[len(ENV_PREFIX):]
        if name not in os.environ:
            return [f"tracking_uri={uri!r} refers to the environment variable {name}, which is not set; set {name} to "
                    f"the store's URL (export {name}=...) or pass the URL itself"]
        return [problem.replace(repr(os.environ[name]), repr(uri)) for problem in tracking_uri_problems(os.environ[name])]
    scheme, sep, rest = uri.partition("://")
    if not sep and uri[:5].lower() == "file:":  # file:./runs, file:/abs/runs
        scheme, sep, rest = "file", ":", uri[5:]
    base = scheme.split("+")[0].lower() if sep else "file"
    if base not in TRACKING_SCHEMES:
        return [f"tracking_uri={uri!r}: MLflow cannot log to a {scheme!r} store; use sqlite:///PATH.db, "
                "http(s)://HOST or postgresql://..."]
    if base == "file" and not file_store_allowed():
        folder = rest if sep else uri
        return [f"tracking_uri={uri!r} is a folder store, which MLflow 3 refuses (its file backend is in maintenance "
                f"mode); use a database store such as sqlite:///{folder.rstrip('/') or 'mlruns'}.db, or set "
                f"{FILE_STORE_SWITCH}=true to log to the folder anyway"]
    return sqlite_folder_problems("tracking_uri", uri) if base == "sqlite" else []


def _check_model_name(name: str, value: Any) -> list[str]:
    """MLflow's rule for a registered model's name (``mlflow.utils.validation._validate_model_name``), checked before
    the search: the registry refused it after the search, and the model was then not logged at all."""
    if value is None or not (isinstance(value, str) and value.strip()):
        return [] if value is None else [f"{name} must be a non-empty string or None, got {value!r}"]
    bad = [c for c in ("/", ":") if c in value]
    if bad or value.strip() in (".", ".."):
        fixed = value.replace("/", "-").replace(":", "-") if bad else "my-model"
        return [f"{name}={value!r}: MLflow's model registry refuses names with '/' or ':' (and '.' or '..'); use "
                f"e.g. {name}={fixed!r}"]
    return []
