"""The check of each setting's value (the settings table in :mod:`automl.config` names them).

Each check takes ``(name, value)`` and returns the problems, each naming the setting, the value
received and the fix; an empty list when the value is fine.

Example:
    >>> _check_n_trials("n_trials", 0)
    ['n_trials must be a positive whole number, got 0; for example n_trials=40']
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any

from automl._device import device_problems
from automl._sqlite_urls import shared_sqlite_problems, sqlite_folder, sqlite_folder_problems  # noqa: F401 - read here
from automl._suggest import close_names, unknown_name_message
from automl._tracking_checks import (  # noqa: F401 - read here by config and the fit
    FILE_STORE_SWITCH, TRACKING_SCHEMES, _check_model_name, file_store_allowed, tracking_uri_problems,
)
from automl._tasks import TASKS
from automl.exceptions import AutoMLError

#: The values ``pruner``, ``isolation`` and ``task`` take as text.
PRUNERS = ("percentile", "median", "none")
ISOLATION_MODES = ("process", "none")
#: What the final model of a trial is: ``auto`` (a bag where the folds allow it), a ``bag`` of its fold
#: models, or a ``refit`` on all rows.
FINAL_MODELS = ("auto", "bag", "refit")
#: ``target_transform``: ``auto`` (searched among those the target allows) or one transform; the one
#: definition is :data:`automl.data.target.TARGET_SETTINGS` (kept in step by a test).
TARGET_SETTINGS = ("auto", "none", "sqrt", "log", "poisson")
#: ``first_trials``: every family's defaults first, or the learned sequence (:mod:`automl.spaces.zero_shot`).
FIRST_TRIALS = ("defaults", "learned")


def family_list(value: Any) -> Any:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (anything else unchanged, for the check)."""
    if isinstance(value, str):
        return [f.strip() for f in value.split(",") if f.strip()]
    if isinstance(value, tuple):
        return list(value)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _is_whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# -- checks: value -> problems ------------------------------------------------------------------
def _positive(unit: str, example: str, optional: bool = True) -> Callable[[str, Any], list[str]]:
    def check(name: str, value: Any) -> list[str]:
        if value is None or (_is_number(value) and 0 < value < math.inf):
            return []
        tail = " or None" if optional else ""
        return [f"{name} must be a positive number of {unit}{tail}, got {value!r}; for example {example}"]

    return check


def _check_time_budget(name: str, value: Any) -> list[str]:
    if value is None or (_is_number(value) and 0 < value < math.inf):
        return []
    return [f"time_budget must be a positive number of seconds, got {value!r}; for example time_budget=60"]


def _check_n_trials(name: str, value: Any) -> list[str]:
    if value is None or (_is_whole(value) and value >= 1):
        return []
    return [f"n_trials must be a positive whole number, got {value!r}; for example n_trials=40"]


#: The largest seed: the sampler and scikit-learn's folds take seeds below 2**32.
MAX_SEED = 2**32 - 1


def _check_seed(name: str, value: Any) -> list[str]:
    if value is None or (_is_whole(value) and 0 <= value <= MAX_SEED):
        return []
    return [f"seed must be a whole number from 0 to 2**32 - 1 ({MAX_SEED}) or None, got {value!r}; "
            "for example seed=0"]


def _check_n_jobs(name: str, value: Any) -> list[str]:
    if value is None or (_is_whole(value) and value != 0):
        return []
    return [f"n_jobs must be a non-zero whole number (-1: all cores) or None (1, as in scikit-learn), got {value!r}"]


#: scikit-learn's scorer names of automl's metrics (``neg_*``: scikit-learn negates a loss so that greater is better).
_SCORER_NAMES = {"neg_root_mean_squared_error": "rmse", "neg_mean_squared_error": "mse", "neg_mean_absolute_error": "mae",
                 "neg_log_loss": "log_loss", "roc_auc_ovr": "roc_auc"}


def _check_metric(name: str, value: Any) -> list[str]:
    from automl.evaluation.metrics import Metric, available_metrics

    if isinstance(value, str) and value in _SCORER_NAMES:
        return [f"metric={value!r} is scikit-learn's scorer name; automl's is {_SCORER_NAMES[value]!r} (its values keep "
                f"their sign, and the search knows which way is better): metric={_SCORER_NAMES[value]!r}"]
    if isinstance(value, str):
        return [] if value in available_metrics() else [unknown_name_message("metric", value, available_metrics())]
    if value is None or isinstance(value, Metric):
        return []
    if hasattr(value, "_score_func") and hasattr(value, "_sign"):  # a scikit-learn scorer (make_scorer)
        return [f"metric is a scikit-learn scorer ({value!r}), called as scorer(estimator, X, y); give its score "
                "function as automl.Metric(name, fn, greater_is_better=...), or a metric name"]
    if callable(value):
        return _callable_metric_problems(value)
    return [f"metric must be a name, a callable or automl.Metric, got {type(value).__name__}"]


def _callable_metric_problems(fn: Any) -> list[str]:
    """A metric callable is called ``fn(y_true, y_pred)``: refused when it cannot take those two arguments."""
    import inspect

    try:
        inspect.signature(fn).bind(None, None)
    except TypeError as exc:
        name = getattr(fn, "__name__", type(fn).__name__)
        return [f"metric={name!r} is called as fn(y_true, y_pred), but {exc}; give a callable of two arguments "
                "(greater is better), or wrap it in automl.Metric"]
    except ValueError:  # no signature to read (a builtin): it is tried in the first fold instead
        return []
    return []


def _check_families(name: str, value: Any) -> list[str]:
    from automl.families.registry import registered_families

    if value is None:
        return []
    names = family_list(value)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [f"families must be a list of family names, got {value!r}"]
    if not names:
        return ["families= is empty; name at least one family, or pass None for all installed ones"]
    known = registered_families()
    return [unknown_name_message("family", n, known) for n in names if n not in known]


def _check_search_space(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, (Mapping, str, os.PathLike)):
        return []
    return [f"search_space must be a mapping {{family: {{param: value or range}}}} or a YAML path, "
            f"got {type(value).__name__}"]


def _check_cv(name: str, value: Any) -> list[str]:
    from automl.evaluation.splitters import parse_cv

    try:
        parse_cv(value)
    except AutoMLError as exc:
        return [str(exc)]
    return []


def _check_storage(name: str, value: Any) -> list[str]:
    from automl.search.storage import check_storage

    return check_storage(value)


def _nonempty_text(name: str, value: Any) -> list[str]:
    if value is None or (isinstance(value, str) and value.strip()):
        return []
    return [f"{name} must be a non-empty string or None, got {value!r}"]


#: The longest name MLflow takes for an experiment or a run: a study name names both when tracked.
MAX_STUDY_NAME = 500


def _check_study_name(name: str, value: Any) -> list[str]:
    problems = _nonempty_text(name, value)
    if not problems and value is not None and len(value) > MAX_STUDY_NAME:
        problems.append(f"{name} is {len(value)} characters long; at most {MAX_STUDY_NAME} (MLflow's limit for the "
                        "experiment and run it names): pass a shorter name")
    return problems


def _check_pruner(name: str, value: Any) -> list[str]:
    if isinstance(value, type) and callable(getattr(value, "prune", None)):  # its prune needs an instance
        return [f"pruner must be an optuna pruner object, got the class {value.__name__}; make one, e.g. "
                f"pruner={value.__name__}()"]
    if value is None or value in PRUNERS or (not isinstance(value, str) and callable(getattr(value, "prune", None))):
        return []  # None is "none"; another object must be an Optuna pruner (it has prune(study, trial))
    return [f"pruner must be 'percentile', 'median', 'none' or an optuna pruner (with a prune method), got {value!r}"]


def _check_tracking(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if all(hasattr(value, m) for m in ("on_start", "on_trial", "finish")):
        return []
    return [f"tracking must be True, False, None or a tracker with on_start/on_trial/finish, got {value!r}"]


def _check_device(name: str, value: Any) -> list[str]:
    return device_problems(value)


def _check_image_shape(name: str, value: Any) -> list[str]:
    from automl.data.images import image_shape_problems

    if isinstance(value, str):  # text that _image_shape could not read
        return [f"image_shape must be (height, width) or (height, width, channels) of positive whole numbers, or "
                f"text HEIGHTxWIDTH[xCHANNELS] such as 28x28; got {value!r}"]
    return image_shape_problems(value)


def _check_isolation(name: str, value: Any) -> list[str]:
    if value in ISOLATION_MODES:
        return []
    return [f"isolation must be 'process' (trials in a worker process) or 'none' (in this process), got {value!r}"]


def _did_you_mean(value: Any, choices: tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for a misspelt choice (empty when nothing is close)."""
    hints = close_names(value, choices) if isinstance(value, str) else []
    return "; did you mean " + " or ".join(repr(h) for h in hints) + "?" if hints else ""


def _one_of(choices: tuple[str, ...], rule: str) -> Callable[[str, Any], list[str]]:
    """The check of a setting that takes one of ``choices`` as text; ``rule`` says what each means."""
    def check(name: str, value: Any) -> list[str]:
        if value in choices:
            return []
        return [f"{name} must be {rule}, got {value!r}{_did_you_mean(value, choices)}"]

    return check


_check_final_model = _one_of(FINAL_MODELS, "'auto', 'bag' (the trial's fold models, averaged) or 'refit' (one model "
                                           "refitted on all rows)")
_check_target_transform = _one_of(TARGET_SETTINGS, "'auto' (searched among those the target allows), 'none', "
                                                   "'sqrt', 'log' (log1p) or 'poisson' (a Poisson loss)")
_check_first_trials = _one_of(FIRST_TRIALS, "'defaults' (every family's defaults first, in the families' order) or "
                                            "'learned' (the sequence learned off-suite first)")


#: The largest pack of net trials (``pack_nets``): more members than this share one GPU's time poorly.
MAX_PACK_NETS = 64


def _check_pack_nets(name: str, value: Any) -> list[str]:
    if value == "auto" or (_is_whole(value) and 1 <= value <= MAX_PACK_NETS):
        return []
    return [f"pack_nets must be 'auto' or a whole number from 1 (every net trial alone) to {MAX_PACK_NETS}, "
            f"got {value!r}; for example pack_nets=8"]


def pack_nets_value(value: Any) -> Any:
    """``pack_nets`` as given on a command line or in a sweep file: ``"auto"`` or a whole number.

    Example:
        >>> pack_nets_value("8"), pack_nets_value("auto"), pack_nets_value(4)
        (8, 'auto', 4)
    """
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}


def _yes_no(text: str) -> bool:
    """A command-line ``yes``/``no`` (``true``/``false``, ``1``/``0``, ``on``/``off``) as a bool.

    Example:
        >>> _yes_no("yes"), _yes_no("False")
        (True, False)
    """
    word = str(text).strip().lower()
    if word in _YES | _NO:
        return word in _YES
    raise ValueError(f"expected yes or no, got {text!r}")


_yes_no.__name__ = "yes/no"  # argparse says: invalid yes/no value: 'maybe'


def _auto_word(text: str) -> Any:
    """A command-line ``--stack`` or ``--calibrate``: ``auto``, or a yes/no word as a bool.

    Example:
        >>> _auto_word("auto"), _auto_word("yes"), _auto_word("off")
        ('auto', True, False)
    """
    return "auto" if str(text).strip().lower() == "auto" else _yes_no(text)


_auto_word.__name__ = "auto/yes/no"  # argparse says: invalid auto/yes/no value: 'maybe'


def _check_auto_bool(name: str, value: Any) -> list[str]:
    """``stack`` and ``calibrate``: ``"auto"``, True or False.

    Example:
        >>> _check_auto_bool("calibrate", "yes")
        ["calibrate must be 'auto', True or False, got 'yes'; for example calibrate=False"]
    """
    if (isinstance(value, str) and value == "auto") or isinstance(value, bool):
        return []
    return [f"{name} must be 'auto', True or False, got {value!r}; for example {name}=False"]


def _check_bool(name: str, value: Any) -> list[str]:
    return [] if isinstance(value, bool) else [f"{name} must be True or False, got {value!r}; for example {name}=True"]


def stack_problems(values: Mapping[str, Any]) -> list[str]:
    """``stack=True`` stacks over the blend, so it needs ``ensemble=True``.

    Example:
        >>> stack_problems({"stack": True, "ensemble": False})[0][:44]
        'stack=True needs ensemble=True (the second l'
    """
    if values.get("stack") is True and values.get("ensemble") is False:
        return ["stack=True needs ensemble=True (the second level reads the blend's members' predictions); "
                "drop stack=True (the default, stack='auto', stacks only when there is a blend), or keep ensemble=True"]
    return []


def _check_task(name: str, value: Any) -> list[str]:
    if value is None or value in TASKS:
        return []
    return [f"task must be {', '.join(map(repr, TASKS))} or None (inferred), got {value!r}"]


def isolation_limit_problems(values: Mapping[str, Any]) -> list[str]:
    """``trial_timeout`` / ``trial_memory_limit`` with ``isolation="none"``: nothing in the fit's own
    process can be stopped, so the limits cannot be kept (refused rather than ignored).

    Example:
        >>> isolation_limit_problems({"isolation": "none", "trial_timeout": 2})  # doctest: +ELLIPSIS
        ["trial_timeout=2 cannot be enforced with isolation='none': ...; use isolation='process' ..."]
    """
    timeout, memory = values.get("trial_timeout"), values.get("trial_memory_limit")
    if values.get("isolation") != "none" or (timeout is None and memory is None):
        return []
    from automl.search.isolation import limits_refused_without_isolation

    return [limits_refused_without_isolation(timeout, memory)]


def output_problems(path: Any, overwrite: bool = False) -> list[str]:
    """Why a model could not be saved to the folder ``path`` after the search (checked before it).

    Example:
        >>> import tempfile
        >>> output_problems(tempfile.mkdtemp()), output_problems(None)
        ([], [])
    """
    from pathlib import Path

    if path is None:
        return []
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        return [f"output must be a folder path, got {path!r}"]
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        return [f"output {str(target)!r} is a file, not a folder; choose another path"]
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        return [f"output {str(target)!r} already exists and is not empty; the search would run and its model "
                "could not be saved there: choose another folder, or pass --overwrite to replace it"]
    if target.is_dir() and any(target.iterdir()):
        from automl._model_folder import not_a_model

        why = not_a_model(target)  # overwrite replaces a saved model only, never a folder of other files
        if why:
            return [f"output {str(target)!r} {why}; overwrite replaces only a saved automl model: choose another "
                    "folder"]
    parent = next((p for p in (target, *target.parents) if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return [f"output {str(target)!r} cannot be created: {str(parent)!r} is not a writable folder; choose "
                "another path"]
    return []


#: Below these, every trial fails: a trial's worker needs about 200 MiB before any model (Python, numpy,
#: pandas, scikit-learn: measured 196 MiB resident), and a second to start and fit one fold.
MIN_TRIAL_MEMORY_MB = 256.0
MIN_TRIAL_TIMEOUT_S = 1.0


def limit_problems(trial_timeout: Any, trial_memory_limit: Any) -> list[str]:
    """A ``trial_timeout`` or ``trial_memory_limit`` no trial can stay within (checked before the search).

    Example:
        >>> limit_problems(None, 1.0)[0][:40]
        'trial_memory_limit=1.0 MiB is below the '
    """
    out = []
    if _is_number(trial_memory_limit) and 0 < trial_memory_limit < MIN_TRIAL_MEMORY_MB:
        out.append(f"trial_memory_limit={trial_memory_limit!r} MiB is below the {MIN_TRIAL_MEMORY_MB:g} MiB a trial's "
                   "worker needs before any model (Python, numpy, pandas, scikit-learn), so every trial would be "
                   f"killed; give at least {MIN_TRIAL_MEMORY_MB:g}, e.g. trial_memory_limit=4096, or None")
    if _is_number(trial_timeout) and 0 < trial_timeout < MIN_TRIAL_TIMEOUT_S:
        out.append(f"trial_timeout={trial_timeout!r} s is below {MIN_TRIAL_TIMEOUT_S:g} s, too short for any trial to "
                   "start and fit a fold; give at least 1, e.g. trial_timeout=600, or None")
    return out


def _check_pos_label(name: str, value: Any) -> list[str]:
    if value is None or isinstance(value, (str, numbers.Number, bool)) or type(value).__module__ == "numpy":
        return []
    return [f"{name} must be a class label (a string, number or bool) or None, got {type(value).__name__} {value!r}; "
            f"for example {name}='churn'"]


_ROLES = ("text", "categorical")  # automl.data.text.ROLES (a test keeps them in step)


def _roles_value(value: Any) -> Any:
    """``"review=text,code=categorical"`` (the command line) -> a dict; anything else unchanged.

    Example:
        >>> _roles_value("review=text, code=categorical")
        {'review': 'text', 'code': 'categorical'}
    """
    if not isinstance(value, str):
        return value
    pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        return value  # the check says what is wrong
    return {name.strip(): role.strip() for name, role in pairs}


def _check_column_roles(name: str, value: Any) -> list[str]:
    example = f"for example {name}={{'review': 'text'}} (on the command line --column-roles review=text)"
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{name} must map column names to a role ({' or '.join(_ROLES)}), got {value!r}; {example}"]
    problems = []
    for column, role in value.items():
        if not isinstance(column, str) or role not in _ROLES:
            problems.append(f"{name}[{column!r}]={role!r}: the role must be one of {list(_ROLES)}; {example}")
    return problems
