"""Data layer: validation at the edge, task inference, the frozen schema and per-fold preprocessing."""

from automl.data.preprocessing import TabularPreprocessor
from automl.data.schema import ColumnSpec, Schema
from automl.data.task import encode_labels, infer_task
from automl.data.validation import TrainingData, coerce_features, feature_problems, validate_training_data

__all__ = [
    "ColumnSpec",
    "Schema",
    "TabularPreprocessor",
    "TrainingData",
    "coerce_features",
    "encode_labels",
    "feature_problems",
    "infer_task",
    "validate_training_data",
]
