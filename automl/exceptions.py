"""Exceptions raised by automl.

Every exception subclasses :class:`AutoMLError` *and* the built-in (or
scikit-learn) exception that callers already catch, so ``except ValueError``
keeps working around code that calls automl.

Example:
    >>> from automl.exceptions import InvalidParameterError
    >>> issubclass(InvalidParameterError, ValueError)
    True
"""

from __future__ import annotations

from collections.abc import Iterable

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "NonFinitePredictionError",
    "AutoMLError",
    "InvalidParameterError",
    "DataValidationError",
    "InputTypeError",
    "SearchSpaceError",
    "UnknownNameError",
    "FamilyUnavailableError",
    "AllTrialsFailedError",
    "BudgetExhaustedError",
    "RefitFailedError",
    "StudyMismatchError",
    "StudyNotFoundError",
    "ModelFileError",
    "NotFittedError",
]


class AutoMLError(Exception):
    """Base class of every error raised by automl."""


class _ProblemsMixin(Exception):
    """Carries a list of problems and renders them one per line."""

    problems: list[str]

    def __init__(self, problems: str | Iterable[str]) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} problems found:\n{lines}"
        super().__init__(message)


class InvalidParameterError(_ProblemsMixin, AutoMLError, ValueError):
    """An argument passed to an automl function or estimator is invalid."""


class DataValidationError(_ProblemsMixin, AutoMLError, ValueError):
    """The data (features, target, groups) cannot be used as given."""


class InputTypeError(_ProblemsMixin, AutoMLError, TypeError):
    """An argument has the wrong type (for example a list where a DataFrame is needed)."""


class SearchSpaceError(_ProblemsMixin, AutoMLError, ValueError):
    """A search-space definition (YAML file or mapping) is invalid."""


class UnknownNameError(_ProblemsMixin, AutoMLError, ValueError):
    """A name (family, metric, ...) is not registered; the message suggests close names."""


class FamilyUnavailableError(AutoMLError, ImportError):
    """A model family needs a package that is not installed."""


class NonFinitePredictionError(AutoMLError, ValueError):
    """A model predicted NaN or infinity (its trial fails; the search goes on)."""


class AllTrialsFailedError(AutoMLError, RuntimeError):
    """Every trial of a search failed; the message groups the reasons by family."""


class BudgetExhaustedError(AutoMLError, RuntimeError):
    """The time budget ran out before any trial completed."""


class RefitFailedError(AutoMLError, RuntimeError):
    """Every finalist's refit on all rows failed (crashed, raised or ran out of time); the message lists why."""


class StudyMismatchError(_ProblemsMixin, AutoMLError, ValueError):
    """A stored study was created for other data or settings than the ones given."""


class StudyNotFoundError(AutoMLError, LookupError):
    """No study of the given name exists in the storage (the message lists the ones that do)."""


class ModelFileError(_ProblemsMixin, AutoMLError, ValueError):
    """A saved model folder is missing, corrupt or was written by incompatible versions."""


class NotFittedError(AutoMLError, _SklearnNotFittedError):
    """The estimator is used before ``fit``; also a scikit-learn ``NotFittedError``."""
