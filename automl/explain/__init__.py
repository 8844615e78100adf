"""Explanations of a fitted model: permutation importance of its input columns, and per-row
contributions (SHAP values) of each input column (see :func:`explain` for the output spaces).

Both read the data the way ``predict`` does, so bad input raises what ``predict`` raises. Heavy
packages (``sklearn.inspection``, ``shap``) are imported only when called.
"""

from __future__ import annotations

from automl.explain.contributions import explain
from automl.explain.importance import feature_importance

__all__ = ["explain", "feature_importance"]
