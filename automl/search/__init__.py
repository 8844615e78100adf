"""The search: Optuna study, budget, storage and leaderboard."""

from automl.search.budget import Budget
from automl.search.leaderboard import leaderboard
from automl.search.runner import Search, SearchResult
from automl.search.storage import DEFAULT_STORAGE_FILE, describe_storage, open_storage

__all__ = ["Budget", "DEFAULT_STORAGE_FILE", "Search", "SearchResult", "describe_storage", "leaderboard", "open_storage"]
