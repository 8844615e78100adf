"""The learning tasks automl knows, declared once.

Every module that checks or lists a task (the ``task`` setting, metrics, families, portfolio entries, the
conformance suite) reads this tuple, so a message listing the tasks cannot drift from the rule it states.

Example:
    >>> from automl._tasks import TASKS
    >>> TASKS
    ('binary', 'multiclass', 'regression')
"""

__all__ = ["TASKS"]

TASKS = ("binary", "multiclass", "regression")
