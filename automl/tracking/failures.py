"""What a tracked fit promised to log and did not: named on the parent run, said once.

A part of the tracked search (``trial runs``, ``files``, ``plots``, ``model``, ``signature``,
``results``, ``run status``) that fails or is left out at the deadline is recorded as
``(part, reason)``. :func:`final_status` decides the parent run's status: FINISHED only
when everything was logged; FAILED when a part failed; KILLED when parts were only left
out because the tracking deadline came. :func:`failure_tags` gives the tags that name
them, and :func:`warning_text` the one warning a fit emits about them.

Example:
    >>> failures = [("plots", "ValueError: boom"), ("model", "out of time: not written")]
    >>> final_status("FINISHED", failures), failure_tags(failures)["automl.logging_failed"]
    ('FAILED', 'plots,model')
    >>> final_status("FINISHED", [("model", "out of time: not written")])
    'KILLED'
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["OUT_OF_TIME", "failure_tags", "final_status", "warning_text"]

#: How every reason for a part left out at the deadline begins.
OUT_OF_TIME = "out of time"
_MAX_TAG = 5000

Failure = tuple[str, str]


def _by_part(failures: Sequence[Failure]) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    for part, text in failures:
        reason = " ".join(str(text).split())  # one line (an MLflow error may quote a whole frame)
        reason = reason if len(reason) <= 300 else reason[:297] + "..."
        reasons = parts.setdefault(part, [])
        if reason not in reasons:
            reasons.append(reason)
    return parts


def final_status(status: str, failures: Sequence[Failure]) -> str:
    """The parent run's status: the fit's ``status``, unless a FINISHED fit did not log everything."""
    if status != "FINISHED" or not failures:
        return status
    return "KILLED" if all(reason.startswith(OUT_OF_TIME) for _, reason in failures) else "FAILED"


def failure_tags(failures: Sequence[Failure]) -> dict[str, str]:
    """``automl.logging_failed`` (the parts) and ``automl.tracking_incomplete`` (each part and why)."""
    parts = _by_part(failures)
    detail = "; ".join(f"{part}: {' | '.join(reasons)}" for part, reasons in parts.items())
    return {"automl.logging_failed": ",".join(parts)[:_MAX_TAG], "automl.tracking_incomplete": detail[:_MAX_TAG]}


def warning_text(run_id: str, shown_uri: str, status: str, failures: Sequence[Failure]) -> str:
    """The one warning about a run that is incomplete (``status``: the run's status as closed).

    Example:
        >>> warning_text("abc", "sqlite:///m.db", "FAILED", [("plots", "a.png: ValueError: x")])[:61]
        'MLflow run abc in sqlite:///m.db is incomplete (marked FAILED'
    """
    parts = _by_part(failures)
    lines = "; ".join(f"{part} not logged ({' | '.join(reasons)[:600]})" for part, reasons in parts.items())
    return (f"MLflow run {run_id} in {shown_uri} is incomplete (marked {status}, tag automl.logging_failed="
            f"{','.join(parts)!r}): {lines}. The fit itself is not affected.")
