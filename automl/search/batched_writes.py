"""Several user attributes of a running trial in one store transaction, where the store allows it.

A trial's record (:mod:`automl.search.trial_record`) is a handful of user attributes. Optuna's API
writes one at a time, and on a database each is a transaction of its own: several round trips and a
commit. On an RDB store (PostgreSQL, SQLite, MySQL) :func:`write_trial_attrs` writes all of them in
one transaction. The stored rows are exactly those ``trial.set_user_attr`` writes, so any reader
(plain Optuna, optuna-dashboard, older automl) reads them as before.

The journal file cannot take them in one record: Optuna's replay of a journal requires one
attribute per record, so a batched record would break every reader. There (and in memory, or on
any other store) the attributes are written one by one, as ``trial.set_user_attr`` does.

Why our own code: Optuna has no public call for several attributes at once. This uses
``RDBStorage``'s own per-attribute step without its commit (``_set_trial_attr_without_commit``)
inside one of its sessions; if a later Optuna moves it, :func:`batched_store` says so
(``None``) and the attributes are written one by one, as before (a test checks the batched path
is taken on PostgreSQL and SQLite, so the slowdown would not go unnoticed).

Example:
    >>> import optuna
    >>> study = optuna.create_study()
    >>> trial = study.ask()
    >>> write_trial_attrs(trial, {"a": 1, "b": [2, 3]})
    >>> study.tell(trial, 0.0).user_attrs
    {'a': 1, 'b': [2, 3]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["batched_store", "write_trial_attrs"]


def batched_store(storage: Any) -> Any:
    """The ``RDBStorage`` behind ``storage`` when it can write several attributes in one transaction, else None.

    Example:
        >>> import optuna
        >>> batched_store(optuna.storages.InMemoryStorage()) is None
        True
    """
    backend = getattr(storage, "_backend", storage)  # Optuna wraps an RDBStorage in a _CachedStorage
    try:
        from optuna.storages import RDBStorage
    except ImportError:  # pragma: no cover - sqlalchemy missing: no RDB store can exist
        return None
    if isinstance(backend, RDBStorage) and all(
        hasattr(backend, name) for name in ("_set_trial_attr_without_commit", "scoped_session")
    ):
        return backend
    return None


def write_trial_attrs(trial: Any, attrs: Mapping[str, Any]) -> None:
    """Set the user attributes ``attrs`` of a live Optuna ``trial``: one transaction on an RDB store.

    Args:
        trial: A live ``optuna.Trial`` (not finished).
        attrs: Attribute name -> JSON-serialisable value.
    """
    if not attrs:
        return
    backend = batched_store(trial.storage) if len(attrs) > 1 else None
    if backend is None:
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    with _create_scoped_session(backend.scoped_session, True) as session:
        for key, value in attrs.items():
            backend._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial._trial_id, key, value)
    trial._cached_frozen_trial.user_attrs.update(attrs)  # what trial.set_user_attr keeps for the trial's own reads
