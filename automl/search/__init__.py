"""The search: the Optuna study, its policy and trials, the budget, storage and leaderboard."""

from automl.search.budget import Budget
from automl.search.leaderboard import leaderboard
from automl.search.runner import JoiningRole, MainRole, SearchOutcome, SearchSpec, run_search
from automl.search.storage import DEFAULT_STORAGE_FILE, describe_storage, open_storage

__all__ = [
    "Budget", "DEFAULT_STORAGE_FILE", "JoiningRole", "MainRole", "SearchOutcome", "SearchSpec", "describe_storage",
    "leaderboard", "open_storage", "run_search",
]
