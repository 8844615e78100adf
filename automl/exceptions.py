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
    "StorageError",
    "JournalCorruptError",
    "UIServerError",
    "InvalidInputError",
    "SearchSpaceSettingError",
    "UnknownParameterError",
    "FamilyUnavailableSettingError",
    "DataShapeError",
    "ClusterError",
    "ClusterConnectionError",
    "OutputBusyError",
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


class OutputBusyError(InvalidParameterError):
    """A sweep's ``output`` folder is held by another automl process fitting into it now (checked before the search:
    :mod:`automl._output_claim`)."""


class ModelFileError(_ProblemsMixin, AutoMLError, ValueError):
    """A saved model folder is missing, corrupt or was written by incompatible versions."""


class ModelSaveError(AutoMLError, OSError):
    """A model folder cannot be written where asked (a file in the way, no permission, a full disk); the message
    names the path given and the fix, and nothing is left half-written."""


class NotFittedError(AutoMLError, _SklearnNotFittedError):
    """The estimator is used before ``fit``; also a scikit-learn ``NotFittedError``."""


class StorageError(AutoMLError, OSError):
    """A study storage (journal file or database) cannot be opened or read; the message names it and the fix."""


class JournalCorruptError(StorageError, ValueError):
    """A study journal file has a line that is not a complete record before its end (also a ``ValueError``,
    as Optuna's ``JSONDecodeError`` was); the message names the file, the line and the fix."""


class UIServerError(AutoMLError, RuntimeError):
    """The MLflow UI server could not be started, did not answer, or left processes behind; the message says
    which server, why (the end of its output) and what to do."""


class InvalidInputError(DataValidationError, InvalidParameterError):
    """Settings *and* data refused together: one error listing both kinds of problem.

    It is both a :class:`DataValidationError` and an :class:`InvalidParameterError`, so code that
    catches either one still catches it (and it is a ``ValueError``).
    """


class SearchSpaceSettingError(SearchSpaceError, InvalidParameterError):
    """The ``search_space=`` setting of a fit is invalid (an override of a family's space):
    both a :class:`SearchSpaceError` and an :class:`InvalidParameterError`."""


class UnknownParameterError(UnknownNameError, KeyError):
    """A search space has no parameter of that name (the message suggests close names); also a ``KeyError``."""

    def __str__(self) -> str:
        return Exception.__str__(self)  # the message itself, not KeyError's quoted repr


class FamilyUnavailableSettingError(FamilyUnavailableError, InvalidParameterError):
    """``families=`` names a family whose package is not installed, refused before the search: both a
    :class:`FamilyUnavailableError` (an ``ImportError``) and an :class:`InvalidParameterError` (a ``ValueError``)."""


class DataShapeError(InputTypeError, DataValidationError):
    """``X`` has the wrong number of dimensions (a 1-D array, rows of different lengths): a ``ValueError``,
    as scikit-learn raises, and an :class:`InputTypeError` (a ``TypeError``), as automl raised before."""


class ClusterError(AutoMLError, RuntimeError):
    """An ``automl worker`` run as a Dask task (``--cluster``, :func:`automl.cluster.launch_workers`) exited
    non-zero or was lost; the message names the task, its exit code and the end of its output (passwords masked)."""


class ClusterConnectionError(AutoMLError, ConnectionError):
    """The Dask scheduler given (``--cluster ADDRESS``) cannot be reached, or Dask distributed is not installed;
    the message names the address and the fix."""
