"""The command lines the CLI prints to continue or join a study: one definition, read by the
interrupt note (:func:`automl.cli.interrupted_note`) and by ``automl fit``'s closing lines.

Kept apart from :mod:`automl.cli` so that the sub-commands can read it without importing the
package's entry point (and, through it, the parser that imports them).
"""

from __future__ import annotations

import os
import shlex


def study_command(command: str, name: str, storage: object = None) -> str:
    """The ``automl resume`` / ``automl worker`` command line for study ``name`` in ``storage`` (None: the default
    journal), shell-quoted, with a URL's password masked (an ``env:`` reference as it is): what the CLI prints to
    continue or join a study. One definition for every such line.

    Example:
        >>> study_command("resume", "churn v2", "runs.journal")
        "automl resume --study 'churn v2' --storage runs.journal"
        >>> study_command("worker", "s", "postgresql://me:pw@db/x")
        "automl worker --study s --storage 'postgresql://me:***@db/x'"
    """
    from automl._redact import is_env_reference, redact_url

    line = f"automl {command} --study {shlex.quote(name)}"
    text = os.fspath(storage) if isinstance(storage, str | os.PathLike) else None
    if text is not None:
        line += f" --storage {shlex.quote(text if is_env_reference(text) else redact_url(text))}"
    return line
