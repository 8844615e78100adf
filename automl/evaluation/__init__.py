"""Evaluation: metrics, cross-validation schemes and the fold loop."""

from automl.evaluation.cross_validation import CVResult, Evaluator, TrialStopped
from automl.evaluation.metrics import Metric, available_metrics, default_metric, get_metric, report_metrics
from automl.evaluation.splitters import CVPlan, make_cv_plan

__all__ = [
    "CVPlan",
    "CVResult",
    "Evaluator",
    "Metric",
    "TrialStopped",
    "available_metrics",
    "default_metric",
    "get_metric",
    "make_cv_plan",
    "report_metrics",
]
