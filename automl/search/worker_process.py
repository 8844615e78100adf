"""The isolated worker's own side: load a fit's data once, then run trials and refits on request.

This module runs in the spawned worker process (see :mod:`automl.search.isolation` for the
fit's side). Messages, as tuples over a ``multiprocessing`` pipe:

- from the fit: ``("load", source, families, warning_filters)`` (``source`` is ``("fd",)``: the data
  file's descriptor follows on the pipe, see :class:`~automl.search.worker_pool.Payload`; or
  ``("path", path)``), ``("unload",)``,
  ``("trial", family, params, seed, monitored[, extra])``, ``("pack", family, [params, ...], seed, [monitored, ...])``,
  ``("refit", family, params, seed, fraction, stop_at[, extra])`` (``extra``: columns added to the data for this
  request only, e.g. a stack's base predictions, see :func:`with_columns`),
  ``("answer", answer)`` (to an event), ``("keep", max_bytes[, member])`` (send the last trial's fold models,
  or those of the last pack's ``member``-th member, back pickled, if they pickle to at most ``max_bytes``;
  see :mod:`automl.search.kept_models`),
  ``("exit",)``;
- to the fit: ``("loaded", pid)``, ``("load_error", text)``, ``("event", event)`` (a probe,
  fold or epoch of the trial, see :mod:`automl.evaluation.monitor`), ``("done", result)``,
  ``("stopped", reason, kind, fold_scores)``, ``("model", pickled_model)``, ``("unpicklable", text)``,
  ``("kept", pickled_models_or_None)``,
  ``("error", type_name, message, traceback, fatal)``, ``("interrupt",)``.

Example:
    >>> from automl.evaluation.monitor import FoldDone, Go
    >>> class Pipe:
    ...     sent = []
    ...     def send(self, message): self.sent.append(message)
    ...     def recv(self): return ("answer", Go())
    >>> RemoteMonitor(Pipe()).fold(FoldDone(0, 3, 0.5, 0.1))
    Go(share=1.0, end_fold=False)
"""

from __future__ import annotations

import mmap
import os
import pickle
import signal
import traceback
import warnings
from collections.abc import Mapping
from typing import Any, cast

from automl._device import free_accelerator_memory
from automl.data import text_cache
from automl.evaluation.cross_validation import Evaluator, nonfinite_rows, subsample
from automl.evaluation.monitor import Answer, EpochDone, FoldDone, ProbeDone, TrialStopped
from automl.exceptions import NonFinitePredictionError
from automl.search.kept_models import dumps

#: Rows of its own a refitted model predicts before it is used: a model that predicts NaN or inf is a failed refit.
REFIT_CHECK_ROWS = 256

__all__ = ["RemoteMonitor", "serve", "with_columns"]

Loaded = tuple[Evaluator, Any, Any]


class RemoteMonitor:
    """A monitor in the worker that asks the fit's process for every answer.

    Args:
        conn: The worker's end of the pipe.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _ask(self, event: object) -> Answer:
        self.conn.send(("event", event))
        message = self.conn.recv()
        return message[1]

    def probe(self, event: ProbeDone) -> Answer:
        """Ask the fit's monitor."""
        return self._ask(event)

    def fold(self, event: FoldDone) -> Answer:
        """Ask the fit's monitor."""
        return self._ask(event)

    def epoch(self, event: EpochDone) -> Answer:
        """Ask the fit's monitor."""
        return self._ask(event)


def _load_payload(conn: Any, source: tuple[str, ...], families: Mapping[str, str], filters: Any) -> Loaded:
    """Register the families, then read the fit's evaluator and data from the file ``source`` names."""
    from automl.families.registry import get_family, register_family

    fd = -1
    if source[0] == "fd":
        from multiprocessing.reduction import recv_handle

        fd = recv_handle(conn)  # read first: the pipe stays in step whatever fails below

    if filters is not None:
        cast(list[Any], warnings.filters)[:] = list(filters)
    for name, import_path in families.items():
        register_family(name, import_path, replace=True)
        get_family(name)  # a family that only exists in the fit's process fails here, not in a trial
    if fd < 0:
        with open(source[1], "rb") as handle:
            return cast(Loaded, pickle.load(handle))
    try:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
            return cast(Loaded, pickle.loads(mapped))
    finally:
        os.close(fd)


def serve(conn: Any) -> None:
    """The worker's loop: load a fit's data, then run one trial or refit per request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the fit's process's to handle
    loaded: Loaded | None = None
    kept: dict[int | None, Any] = {}  # the last trial's fold models (key None) or its pack members', until
    # the next trial or "keep"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "exit":
            return
        if kind == "unload":  # the fit ended: its data, its kept models and its folds' text encodings go
            loaded = None
            kept.clear()
            text_cache.clear()
        elif kind == "keep":  # ("keep", max_bytes[, member of the last pack])
            payload = dumps(kept.pop(message[2] if len(message) > 2 else None, None))
            conn.send(("kept", payload if payload is not None and len(payload) <= message[1] else None))
        elif kind == "load":
            try:
                loaded = _load_payload(conn, *message[1:])
                conn.send(("loaded", os.getpid()))
            except BaseException as exc:  # noqa: BLE001 - reported to the fit's process
                conn.send(("load_error", f"{type(exc).__name__}: {exc}"))
        elif kind in ("trial", "pack", "refit") and loaded is not None:
            _guarded(conn, loaded, kind, message[1:], kept)


def _guarded(conn: Any, loaded: Loaded, kind: str, args: tuple[Any, ...], kept: dict[int | None, Any]) -> None:
    """Run one request; report its outcome, whatever happens."""
    try:
        if kind == "trial":
            kept.clear()
            kept[None] = _run_trial(conn, loaded, *args)
        elif kind == "pack":
            kept.clear()
            kept.update(enumerate(_run_pack(conn, loaded, *args)))
        else:
            _run_refit(conn, loaded, *args)
    except TrialStopped as stop:
        conn.send(("stopped", stop.reason, stop.kind, stop.fold_scores))
    except MemoryError as exc:
        conn.send(("error", "MemoryError", str(exc) or "out of memory", traceback.format_exc(), True))
        os._exit(3)  # a process that ran out of memory is not trusted with another request
    except KeyboardInterrupt:
        conn.send(("interrupt",))  # raised by the model's own code: the fit stops, as it would in-process
    except BaseException as exc:  # noqa: BLE001 - reported to the fit's process
        fatal = not isinstance(exc, Exception)  # SystemExit and the like: a fresh worker takes the next request
        conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc(), fatal))
    finally:
        free_accelerator_memory()


def with_columns(X: Any, extra: Any) -> Any:
    """``X`` with the columns of the mapping ``extra`` (name -> one value per row) added (``X`` itself when None).

    Example:
        >>> import numpy as np, pandas as pd
        >>> list(with_columns(pd.DataFrame({"a": [1, 2]}), {"b": np.zeros(2)})), with_columns("X", None)
        (['a', 'b'], 'X')
    """
    return X if not extra else X.assign(**extra)


def _run_trial(conn: Any, loaded: Loaded, family: str, params: Any, seed: Any, monitored: bool,
               extra: Any = None) -> Any:
    """Cross-validate; send the result (without its fold models, which stay here); return those models."""
    evaluator, X, y = loaded
    X = with_columns(X, extra)
    monitor = RemoteMonitor(conn) if monitored else None
    result = evaluator.evaluate(family, params, X, y, monitor=monitor, seed=seed, keep_model=True)
    models, result.models = result.models, None
    conn.send(("done", result))
    return models


def _run_pack(conn: Any, loaded: Loaded, family: str, params: Any, seed: Any, monitored: list[bool]) -> list[Any]:
    """Cross-validate a pack; send each member's result (without its fold models, which stay here), or its
    stop or failure as plain values; return the members' fold models."""
    from automl.evaluation.packed_cv import MemberMonitor, evaluate_packed, take_models

    evaluator, X, y = loaded
    remote = RemoteMonitor(conn)
    monitors = [MemberMonitor(i, remote) if on else None for i, on in enumerate(monitored)]
    outcomes = evaluate_packed(evaluator, family, params, X, y, monitors=monitors, seed=seed, keep_models=True)
    models = take_models(outcomes)
    conn.send(("done", [_portable(outcome) for outcome in outcomes]))
    return models


def _portable(outcome: Any) -> Any:
    """A member's outcome as it crosses the pipe (an exception may not pickle)."""
    if isinstance(outcome, TrialStopped):
        return ("stopped", outcome.reason, outcome.kind, outcome.fold_scores)
    if isinstance(outcome, BaseException):
        text = "".join(traceback.format_exception(type(outcome), outcome, outcome.__traceback__))
        return ("error", type(outcome).__name__, str(outcome), text)
    return outcome


def _run_refit(conn: Any, loaded: Loaded, family: str, params: Any, seed: Any, fraction: float,
               stop_at: float | None = None, extra: Any = None) -> None:
    """Fit ``family`` with ``params`` on all rows (or the seeded share ``fraction`` of them; training ends
    at ``stop_at``) and send the fitted pipeline back, pickled here so that a model that does not pickle
    is an error of this refit."""
    evaluator, X, y = loaded
    model = fit_rows(evaluator, with_columns(X, extra), y, family, params, seed, fraction, stop_at)
    payload = dumps(model)
    if payload is None:  # the fit's process then refits in-process
        conn.send(("unpicklable", f"the fitted {family!r} model cannot be pickled"))
        return
    conn.send(("model", payload))


def fit_rows(evaluator: Evaluator, X: Any, y: Any, family: str, params: Mapping[str, Any], seed: int,
             fraction: float = 1.0, stop_at: float | None = None) -> Any:
    """``family`` with ``params`` fitted on all rows of ``X``, or on the seeded, stratified share
    ``fraction`` of them (a sized-down trial's share, or more); a net or a booster ends its training at
    ``stop_at`` (``time.monotonic()``; see :func:`~automl.families.epochs.fit_deadline`)."""
    import numpy as np

    from automl.families.epochs import fit_deadline

    weights = evaluator.weights
    if fraction < 1.0:
        rows = subsample(np.arange(len(y)), y, fraction, seed, evaluator.task != "regression")
        X, y = X.iloc[rows], y[rows]
        weights = None if weights is None else weights[rows]
    with fit_deadline(stop_at):
        model = evaluator.pipeline(family, params, seed).fit(X, y, sample_weight=weights)
    # A trial whose model predicts NaN or inf fails; a refit that does is a failed refit too (the next model
    # takes its place), checked on a few of its own rows rather than discovered at the user's predict.
    sample = X.iloc[:REFIT_CHECK_ROWS]
    bad = nonfinite_rows(model.predict_scores(sample))
    if bad:
        raise NonFinitePredictionError(f"the refit on all rows predicts NaN or inf for {bad} of {len(sample)} of its "
                                       "training rows")
    return model
