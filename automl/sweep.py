"""Sweeps: a fit described by a YAML file (or by CLI flags), stored on its study so workers can join.

A sweep file holds the settings of :func:`automl.fit` plus where the data is and where the model goes::

    data: train.csv            # CSV or Parquet, relative to this file; or https://host/train.csv
    target: income
    time_budget: 600           # and/or n_trials: 200
    cv: 5                      # 5 | 0.2 | group:COLUMN | time:5 | holdout:0.2 | repeated:5x3
    metric: roc_auc
    families: [lightgbm, linear]
    search_space:              # overrides: a range, or a plain value to pin
      lightgbm: {num_leaves: {low: 8, high: 64}, learning_rate: 0.05}
    study_name: income-v1      # stored, resumable, joinable by workers
    storage: postgresql://user@db/studies   # default: the local journal file
    output: model_dir

Everything is validated before anything runs; errors name the file, the key and the rule.
The sweep's settings are stored on the study (the data's URI and the SHA-256 of its bytes,
resolved search space), so ``automl worker --study NAME`` and ``automl resume --study NAME``
need nothing else, and refuse data whose bytes differ (:mod:`automl.data.source`).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "d.csv").write_text("a,y\\n1,0\\n2,1\\n")
    >>> _ = (folder / "s.yaml").write_text("data: d.csv\\ntarget: y\\nn_trials: 3\\n")
    >>> spec = load_sweep(folder / "s.yaml")
    >>> spec.target, spec.settings["n_trials"], spec.data == str(folder / "d.csv")
    ('y', 3, True)
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from automl._suggest import unknown_key_message, unknown_name_message
from automl._warnings import report_stage
from automl.config import SETTINGS, setting_names
from automl.exceptions import InvalidParameterError, StudyNotFoundError

__all__ = [
    "SweepSpec",
    "load_sweep",
    "read_frame",
    "check_space_overrides",
    "resume_spec",
    "resume_sweep",
    "run_sweep",
    "run_worker",
    "study_leaderboard",
    "sweep_from_mapping",
]

#: Keys of a sweep file: where the data is and what to do with the model, then fit's settings
#: (every setting of :mod:`automl.config`, under its name or its alias).
FILE_KEYS = ("data", "target", "groups", "sample_weight", "output", "overwrite")
SETTING_KEYS = tuple(setting_names())
ALIASES = {s.sweep_alias: s.name for s in SETTINGS if s.sweep_alias}
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
#: Seconds a worker waits for the study (and its sweep settings) to appear.
DEFAULT_WAIT = 60.0


@dataclass
class SweepSpec:
    """A validated sweep: the data file, the target and the settings of :func:`automl.fit`.

    Attributes:
        data: Absolute path of the CSV or Parquet file.
        target: Name of the target column.
        settings: Keyword arguments of :func:`automl.fit` (``search_space`` resolved to a mapping).
        groups: Group column, or None.
        output: Folder to save the model in, or None.
        overwrite: Replace an existing model folder.
        source: Where the spec came from (a file path, ``"command line"`` or ``"study NAME"``).
        sample_weight: Column of sample weights, or None.
        data_sha256: SHA-256 of the data file's bytes (set when the sweep starts), or None.
    """

    data: str
    target: str
    settings: dict[str, Any] = field(default_factory=dict)
    groups: str | None = None
    output: str | None = None
    overwrite: bool = False
    source: str = "<dict>"
    sample_weight: str | None = None
    data_sha256: str | None = None

    def record(self) -> dict[str, Any]:
        """The JSON-able form stored on the study: no storage URL (it may hold a password), and no
        tracking URI that holds one (workers and ``resume`` then take theirs from ``--tracking-uri`` or
        ``$MLFLOW_TRACKING_URI``).

        Example:
            >>> SweepSpec("/d.csv", "y", {"n_trials": 2}).record()["settings"]
            {'n_trials': 2}
            >>> SweepSpec("/d.csv", "y", {"tracking_uri": "https://me:pw@mlflow.example"}).record()["settings"]
            {}
        """
        from automl._redact import redact_url

        settings = {k: v for k, v in self.settings.items()
                    if k != "storage" and not (k == "tracking_uri" and redact_url(str(v)) != str(v))}
        if isinstance(settings.get("image_shape"), tuple):
            settings["image_shape"] = list(settings["image_shape"])
        from automl.data.source import data_uri

        return {"data": self.data, "target": self.target, "groups": self.groups, "output": self.output,
                "overwrite": self.overwrite, "settings": settings, "sample_weight": self.sample_weight,
                "data_uri": data_uri(self.data), "data_sha256": self.data_sha256}

    def with_settings(self, **changes: Any) -> SweepSpec:
        """A copy with some settings changed (``None`` values are ignored).

        Example:
            >>> SweepSpec("/d.csv", "y", {"n_trials": 2}).with_settings(n_trials=5, seed=None).settings
            {'n_trials': 5}
        """
        settings = {**self.settings, **{k: v for k, v in changes.items() if v is not None}}
        return SweepSpec(self.data, self.target, settings, self.groups, self.output, self.overwrite, self.source,
                         self.sample_weight, self.data_sha256)


def read_frame(path: str | os.PathLike) -> Any:
    """Read a CSV (optionally gzipped) or Parquet file, or a folder of Parquet files, into a DataFrame (raises
    :class:`~automl.exceptions.InvalidParameterError` when it is missing, of another kind, or unreadable).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"; _ = p.write_text("a,b\\n1,2\\n")
        >>> read_frame(p).shape
        (1, 2)
    """
    from automl.data.tables import read_table  # a CSV's zero-padded codes (007) are read as text

    return read_table(path)


def _data_problems(value: object, base: Path, head: str) -> tuple[str | None, list[str]]:
    if not isinstance(value, str) or not value.strip():
        return None, [f"{head}'data' must be the path of a CSV or Parquet file, got {value!r}"]
    from automl.data.source import is_url, local_path
    from automl.data.tables import is_parquet_folder

    if is_url(value):  # downloaded (and hashed) when the sweep starts
        ok = urllib.parse.urlsplit(value).path.lower().endswith(DATA_SUFFIXES)
        return value, [] if ok else [f"{head}'data' must end in {', '.join(DATA_SUFFIXES)}, got {value!r}"]
    path = Path(local_path(value)).expanduser()
    path = path if path.is_absolute() else base / path
    if path.is_dir():  # a partitioned data set is read as one table
        return str(path.resolve()), [] if is_parquet_folder(str(path)) else [
            f"{head}'data': {str(path)!r} is a folder without Parquet files; give a CSV or Parquet file, or a folder "
            "of Parquet files"]
    problems = []
    if not str(path).lower().endswith(DATA_SUFFIXES):
        problems.append(f"{head}'data' must end in {', '.join(DATA_SUFFIXES)} (or be a folder of Parquet files), "
                        f"got {value!r}")
    elif not path.is_file():
        problems.append(f"{head}'data': file {str(path)!r} not found")
    return str(path.resolve()), problems


def _space_problems(space: object, families: object, base: Path, head: str) -> tuple[object, list[str]]:
    """Resolve ``search_space`` (a mapping or a YAML path) and check it against the built-in spaces."""
    from automl.exceptions import AutoMLError
    from automl.families.pipeline import text_override_problems, with_text_params
    from automl.families.registry import get_family, registered_families

    if space is None:
        return None, []
    if isinstance(space, str):
        import yaml

        from automl.spaces.yaml_files import load_yaml

        path = Path(space).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            space = load_yaml(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            return None, [f"{head}'search_space': cannot read {str(path)!r}: {' '.join(str(exc).split())}"]
    if not isinstance(space, Mapping):
        return None, [f"{head}'search_space' must map family names to parameter overrides, got {space!r}"]
    selected = families if isinstance(families, list) else registered_families()
    problems = []
    for name, overrides in space.items():
        if name not in registered_families():
            problems.append(f"{head}'search_space': {unknown_name_message('family', name, registered_families())}")
            continue
        if name not in selected:
            problems.append(f"{head}'search_space': family {name!r} is not in 'families' {selected}")
            continue
        try:
            family = get_family(name)  # checked as fit checks them: the text encoder's parameters are every family's
            checked = with_text_params(family.space()).with_overrides(overrides, source=f"search_space[{name!r}]",
                                                                      pin_choices=family.pin_choices)
            problems += text_override_problems(checked, list(overrides or {}), f"{head}search_space[{name!r}]: ")
        except AutoMLError as exc:
            problems += [f"{head}{p}" for p in getattr(exc, "problems", [str(exc)])]
    return dict(space), problems


def _settings_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem :func:`automl.config.resolve_settings` finds in a sweep's settings."""
    from automl.config import resolve_settings

    try:
        resolve_settings(settings)
    except InvalidParameterError as exc:
        return list(exc.problems)
    return []


def sweep_from_mapping(data: object, source: str = "<dict>", base: str | os.PathLike | None = None) -> SweepSpec:
    """Validate a sweep mapping; paths are relative to ``base`` (default: the working directory).

    Raises:
        InvalidParameterError: every problem, each naming the source, the key and the rule.

    Example:
        >>> sweep_from_mapping({"data": "x.csv", "target": "y", "time_budgett": 5}, "s.yaml")
        Traceback (most recent call last):
        ...
        automl.exceptions.InvalidParameterError: 2 problems found:
          - s.yaml: unknown key 'time_budgett' (did you mean 'time_budget'?); allowed keys in a sweep file: ...
          - s.yaml: 'data': file '...x.csv' not found
    """
    head = f"{source}: "
    if not isinstance(data, Mapping):
        raise InvalidParameterError(f"{head}a sweep must be a mapping of keys such as data, target, time_budget; "
                                    f"got {type(data).__name__}")
    base_dir = Path(base) if base is not None else Path.cwd()
    allowed = FILE_KEYS + SETTING_KEYS
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = ALIASES.get(key, key)
        if name not in allowed:
            problems.append(head + unknown_key_message(key, allowed + tuple(ALIASES), "in a sweep file"))
        elif name in values:
            problems.append(f"{head}{key!r} is given twice (as {name!r} and its alias)")
        else:
            values[name] = value
    for key in ("data", "target"):
        if key not in values:
            problems.append(f"{head}missing key {key!r} (required)")
    data_path, more = _data_problems(values["data"], base_dir, head) if "data" in values else (None, [])
    problems += more
    target = values.get("target")
    if "target" in values and (not isinstance(target, str) or not target):
        problems.append(f"{head}'target' must be a column name, got {target!r}")
    for key in ("groups", "sample_weight", "output"):
        if values.get(key) is not None and not isinstance(values[key], str):
            problems.append(f"{head}{key!r} must be a string, got {values[key]!r}")
    if not isinstance(values.get("overwrite", False), bool):
        problems.append(f"{head}'overwrite' must be true or false, got {values['overwrite']!r}")
    settings = {k: values[k] for k in SETTING_KEYS if k in values}
    for name, value in list(settings.items()):
        normalise = next(x.normalise for x in SETTINGS if x.name == name)
        if normalise is not None:
            settings[name] = normalise(value)
    if base is not None and isinstance(settings.get("storage"), str):  # a file's; the command line's stay as typed
        from automl.search.storage import store_relative_to

        settings["storage"] = store_relative_to(settings["storage"], base_dir)
    if settings.get("storage") is not None and not settings.get("study_name"):
        problems.append(f"{head}'storage' needs 'study_name' too (the name of the study in that storage)")
    space, more = _space_problems(settings.get("search_space"), settings.get("families"), base_dir, head)
    problems += more
    if space is not None:
        settings["search_space"] = space
    problems += [f"{head}{p}" for p in _settings_problems({**settings, "search_space": None})]
    if problems:
        raise InvalidParameterError(problems)
    output = values.get("output")
    if output is not None:
        output = str((base_dir / Path(output).expanduser()).resolve())
    return SweepSpec(str(data_path), str(target), settings, values.get("groups"), output,
                     bool(values.get("overwrite", False)), source, values.get("sample_weight"))


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep YAML file (paths in it are relative to the file).

    Raises:
        InvalidParameterError: the file is missing or not YAML, or has problems (all listed).
    """
    import yaml

    from automl.spaces.yaml_files import load_yaml

    source = os.fspath(path)
    try:
        data = load_yaml(Path(source).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidParameterError(f"{source}: sweep file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(f"{source}: cannot read the file ({exc})") from None
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
    return sweep_from_mapping(data, source, Path(source).resolve().parent)


def _split(spec: SweepSpec, frame: Any) -> tuple[Any, Any, Any, Any]:
    """(model, features, target, fit_args) of ``frame`` for ``spec``, through :func:`automl.api.prepare_fit`."""
    from automl.api import prepare_fit

    return prepare_fit(frame, spec.target, groups=spec.groups, sample_weight=spec.sample_weight, **spec.settings)


def run_sweep(spec: SweepSpec, *, callbacks: Sequence[Callable[..., None]] = ()) -> Any:
    """Run a sweep as the main process: search, refit, save to ``spec.output``; return the model.

    The sweep's settings are stored on its study (when it has a name) for workers and ``resume``.
    ``callbacks`` are called as ``callback(study, trial)`` after each trial (e.g. a progress bar).
    """
    from automl._output_claim import claimed_output
    from automl._setting_checks import output_problems

    with claimed_output(spec.output):  # another fit saving there fails now, not after its search
        problems = output_problems(spec.output, spec.overwrite)
        if problems:
            raise InvalidParameterError(problems)
        model = _fit_sweep(spec, callbacks)
        if spec.output:
            report_stage(f"saving the model to {spec.output} ...")
            model.save(spec.output, overwrite=spec.overwrite)
    return model


def _fit_sweep(spec: SweepSpec, callbacks: Sequence[Callable[..., None]]) -> Any:
    """Read the sweep's data and fit its model (the search, the refit; not saved)."""
    from automl._fit.run import run_fit
    from automl.config import resolve_settings
    from automl.data.source import open_data

    # The bytes are hashed once here (a URL downloaded); a resumed sweep's must match its stored hash.
    local, spec.data_sha256 = open_data(spec.data, spec.data_sha256, spec.settings.get("study_name"))
    frame = read_frame(local)
    model, X, y, fit_args = _split(spec, frame)
    settings = resolve_settings(model.get_params(deep=False), model._estimator)
    report = run_fit(settings, type(model), X, y, fit_args["groups"], fit_args["sample_weight"], callbacks=callbacks,
                     sweep=spec.record())
    model._set_fitted(report.attributes, named=True)
    return model


def _sweep_of_study(study_name: str, storage: object, wait: float) -> tuple[Any, dict[str, Any]]:
    """The study and its stored sweep record, waiting up to ``wait`` seconds for both to appear (and for the
    storage file: a journal file or SQLite database that does not exist is never created here)."""
    from automl.search.storage import open_study
    from automl.search.trial_record import StudyRecord

    deadline = time.monotonic() + wait
    while True:
        try:
            study, _ = open_study(storage, study_name, direction="maximize", create=False)
            record = StudyRecord.read(study).sweep
            if record is not None:
                return study, record
            missing: Exception = StudyNotFoundError(
                f"study {study_name!r} has no sweep settings stored on it; it was not started by "
                "`automl fit`, `automl sweep` or automl.fit with a study_name (or it is still starting)"
            )
        except StudyNotFoundError as exc:
            missing = exc
        if time.monotonic() >= deadline:
            raise missing
        time.sleep(0.5)


def _spec_of_record(record: Mapping[str, Any], study_name: str, storage: object) -> SweepSpec:
    settings = dict(record.get("settings") or {})
    settings["study_name"] = study_name
    settings["storage"] = storage
    if isinstance(settings.get("image_shape"), list):
        settings["image_shape"] = tuple(settings["image_shape"])
    return SweepSpec(record["data"], record["target"], settings, record.get("groups"), record.get("output"),
                     bool(record.get("overwrite")), f"study {study_name!r}", record.get("sample_weight"),
                     record.get("data_sha256"))


def run_worker(
    study_name: str, storage: object = None, *, data: str | None = None, n_trials: int | None = None,
    wait: float = DEFAULT_WAIT, callbacks: Sequence[Callable[..., None]] = (),
) -> Any:
    """Join a running sweep: run its trials until its budget or trial target is spent.

    Args:
        study_name: The sweep's study.
        storage: Its storage (default: the local journal file).
        data: Path (or URL) of the data on this machine, if not the sweep's own URI.
        n_trials: Stop after this many trials of this worker (default: until the sweep ends).
        wait: Seconds to wait for the study to appear (workers may start first).

    Returns:
        The :class:`~automl.search.SearchOutcome` of this worker's trials.

    Raises:
        StudyNotFoundError: no such study (after waiting), or it holds no sweep settings.
        StudyMismatchError: the data's bytes differ from those the sweep started with (its SHA-256, or for
            a sweep stored without one, the fingerprint of data and settings); nothing is run or written.
        InvalidParameterError: the data is not on this machine, or its URL cannot be read.
    """
    from automl._fit.run import join_fit
    from automl.config import resolve_settings
    from automl.data.source import open_data

    study, record = _sweep_of_study(study_name, storage, wait)
    spec = _spec_of_record(record, study_name, storage)
    source = data if data is not None else str(record.get("data_uri") or record["data"])
    local, _ = open_data(source, record.get("data_sha256"), study_name)
    model, X, y, fit_args = _split(spec, read_frame(local))
    settings = resolve_settings(model.get_params(deep=False), model._estimator)
    return join_fit(settings, X, y, fit_args["groups"], fit_args["sample_weight"], n_trials=n_trials,
                    callbacks=callbacks)


def resume_spec(
    study_name: str, storage: object = None, *, time_budget: float | None = None, n_trials: int | None = None,
    output: str | None = None, data: str | None = None,
) -> SweepSpec:
    """The spec that continues a stored sweep: its own settings, with a new budget if given, and its data read from
    ``data`` when given (a copy on this machine: its bytes must be the sweep's).

    Without ``time_budget`` and ``n_trials`` the sweep gets the budget it was started with
    once more. The model is saved (replacing the old one) to ``output`` or the sweep's own folder.

    Raises:
        StudyNotFoundError: no such study, or it holds no sweep settings.
    """
    _, record = _sweep_of_study(study_name, storage, 0.0)
    spec = _spec_of_record(record, study_name, storage)
    if time_budget is not None or n_trials is not None:
        spec.settings["time_budget"], spec.settings["n_trials"] = time_budget, n_trials
    if output is not None:
        spec.output = str(Path(output).resolve())
    if data is not None:
        spec.data = str(Path(data).expanduser().resolve())
    spec.overwrite = True
    return spec


def resume_sweep(
    study_name: str, storage: object = None, *, time_budget: float | None = None, n_trials: int | None = None,
    output: str | None = None, callbacks: Sequence[Callable[..., None]] = (),
) -> Any:
    """Continue a stored sweep (see :func:`resume_spec`); return the refitted model.

    Completed trials are kept; a trial left running by a killed process is failed once its
    heartbeat is stale and run again with the same parameters.
    """
    spec = resume_spec(study_name, storage, time_budget=time_budget, n_trials=n_trials, output=output)
    return run_sweep(spec, callbacks=callbacks)


def check_space_overrides(data: object, source: str, base: str | os.PathLike | None = None) -> dict[str, int]:
    """Check search-space overrides ``{family: {param: value or range}}`` against the built-in spaces.

    Returns:
        Family name → number of parameters overridden.

    Raises:
        SearchSpaceError: every problem, naming the source, the family and the parameter.

    Example:
        >>> check_space_overrides({"knn": {"n_neighbors": {"low": 3, "high": 9}}}, "o.yaml")
        {'knn': 1}
    """
    from automl.exceptions import SearchSpaceError

    _, problems = _space_problems(data, None, Path(base) if base is not None else Path.cwd(), f"{source}: ")
    if problems:
        raise SearchSpaceError(problems)
    return {str(name): len(overrides or {}) for name, overrides in dict(cast(Mapping[str, Any], data)).items()}


def study_leaderboard(study_name: str, storage: object = None) -> Any:
    """The leaderboard of a stored study, read from its storage (any process may be writing it).

    Raises:
        StudyNotFoundError: no such study (the message lists the studies there), or no such storage file
            (none is created).
    """
    from automl.search.leaderboard import stored_leaderboard
    from automl.search.storage import open_study

    study, _ = open_study(storage, study_name, direction="maximize", create=False, read_only=True)
    return stored_leaderboard(study)
