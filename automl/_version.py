"""The version of automl (read by the package, the saved model's manifest and MLflow tags)."""

__version__ = "0.1.0"
