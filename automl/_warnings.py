"""Warnings that point at the user's own line, however deep in automl they are raised; the fit's stages.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_user("look out")
    >>> str(caught[0].message)
    'look out'
"""

from __future__ import annotations

import logging
import sys
import warnings

__all__ = ["report_stage", "warn_user"]

_STAGES = logging.getLogger("automl.stage")


def _ours(name: object) -> bool:
    return isinstance(name, str) and (name == "automl" or name.startswith("automl."))


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first caller outside the automl package."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and _ours(frame.f_globals.get("__name__")):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)


def report_stage(text: str) -> None:
    """Say what the fit does now (``"refitting the best model ..."``): an INFO record of logger
    ``automl.stage``, which the command line shows on its progress display (and ``logging`` shows
    wherever the user's configuration sends automl's INFO records).

    Example:
        >>> report_stage("building the ensemble ...")
    """
    _STAGES.info(text)
