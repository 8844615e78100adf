"""The settings of a fit, declared once.

:data:`SETTINGS` is the one table of the settings that ``automl.fit``, both estimators, sweep files and ``automl
fit`` share: name, default, check, help text, command-line flag and sweep-file key. From it come the estimators'
``__init__`` signatures and docstrings, ``automl.fit``'s signature, the sweep keys, the command-line flags and the
README's settings table (a test keeps the README in step). Every value is checked here, all problems at once,
before anything is read or written (:func:`resolve_settings`).

Example:
    >>> settings = resolve_settings({"time_budget": 30, "cv": "5"}, estimator="regressor")
    >>> settings.time_budget, settings.cv.folds, settings.pruner
    (30, 5, 'percentile')
    >>> resolve_settings({"time_budget": -5, "cv": "kfold:1"}, estimator="regressor")
    Traceback (most recent call last):
    ...
    automl.exceptions.InvalidParameterError: 2 problems found:
      - time_budget must be a positive number of seconds, got -5; for example time_budget=60
      - cv='kfold:1': needs at least 2 folds, got 1
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from automl._setting_checks import (  # noqa: F401 - the table names every check
    FINAL_MODELS, FIRST_TRIALS, ISOLATION_MODES, PRUNERS, TARGET_SETTINGS, TASKS, _ROLES, _check_column_roles, _check_cv, _check_device, _check_final_model, _check_pack_nets, pack_nets_value, _check_families, _check_first_trials, _check_image_shape, _check_isolation, _check_metric, _check_n_jobs, _check_n_trials, _check_pos_label, _check_pruner, _check_search_space, _check_seed, _check_storage, _check_study_name, _check_target_transform, _check_task, _check_time_budget, _check_tracking, _check_bool, _check_auto_bool, _nonempty_text, _check_model_name, _auto_word, _yes_no, _positive, _roles_value, family_list,
)
from automl._setting_checks import isolation_limit_problems, shared_sqlite_problems, stack_problems
from automl._suggest import unknown_name_message
from automl.exceptions import InputTypeError, InvalidParameterError

__all__ = [
    "DEFAULT_TIME_BUDGET", "SAME", "SETTINGS", "FitSettings", "Setting", "estimator_docs", "estimator_signature",
    "fit_signature", "readme_table", "resolve_settings", "setting", "setting_names",
]

#: Seconds of a fit given neither ``time_budget`` nor ``n_trials``.
DEFAULT_TIME_BUDGET = 60.0


# -- command-line values -> setting values ---------------------------------------------------------
def _image_shape(value: Any) -> Any:
    """``"28x28"`` or ``[28, 28, 1]`` -> a tuple (anything else unchanged, for the check)."""
    if isinstance(value, str):
        try:
            return tuple(int(part) for part in value.lower().split("x"))
        except ValueError:
            return value
    if isinstance(value, list):
        return tuple(value)
    return value


def _cv_value(value: Any) -> Any:
    """A one-shot iterator of ``(train, test)`` pairs (a generator) read once into a list, so that every
    check reads the same pairs; anything else unchanged.

    Example:
        >>> _cv_value(iter([([0], [1])])), _cv_value(5)
        ([([0], [1])], 5)
    """
    if isinstance(value, Iterator) and not hasattr(value, "split"):
        return list(value)
    return value


#: :attr:`Setting.fit_default` of a setting whose default is the same for every entry point.
SAME = "<same>"


@dataclass(frozen=True)
class Setting:
    """One setting of a fit.

    Attributes:
        name: The keyword argument.
        default: Its default value.
        check: ``check(name, value) -> problems`` for the value alone.
        doc: What it means (docstrings and the README table).
        shown_default: The default as the README table shows it.
        flag: Its command-line flag (``--time-budget``); a ``--no-...`` flag turns a setting off.
        cli_type: How the flag's text is read (``float``, ``int``; None: kept as text).
        cli_choices: The values the flag accepts, if a closed list.
        cli_help: The flag's help text.
        sweep_alias: Another key a sweep file may use (``study`` for ``study_name``).
        normalise: Turns an accepted spelling into the canonical value (``"a,b"`` -> a list).
        classifier_only: Only ``AutoMLClassifier`` (and ``automl.fit``) take it.
        budget_note: Shown after the doc in the README: what holds with ``isolation="none"``.
        fit_default: The default of the one-call entry points (``automl.fit``, sweep files, ``automl fit``)
            where it differs from the estimator classes' ``default`` (:data:`SAME`: it does not).
    """

    name: str
    default: Any
    check: Callable[[str, Any], list[str]]
    doc: str
    shown_default: str
    flag: str
    cli_help: str
    cli_type: Callable[[str], Any] | None = None
    cli_choices: tuple[str, ...] | None = None
    sweep_alias: str | None = None
    normalise: Callable[[Any], Any] | None = None
    classifier_only: bool = False
    fit_default: Any = SAME

    def default_for(self, estimator: str) -> Any:
        """The default of ``estimator``: ``"classifier"``/``"regressor"`` (the classes), or ``"any"`` (``fit``).

        Example:
            >>> setting("tracking").default_for("classifier"), setting("tracking").default_for("any")
            (False, None)
        """
        return self.default if estimator != "any" or self.fit_default == SAME else self.fit_default


SETTINGS: tuple[Setting, ...] = (
    Setting("metric", None, _check_metric,
            "Metric to optimise: a name (``roc_auc``, one-vs-rest for multiclass, ``log_loss``, ``accuracy``, "
            "``balanced_accuracy``, ``f1``/``precision``/``recall`` (binary) and their ``_macro`` / ``_weighted`` "
            "forms, ``rmse``, ``mse``, ``mae``, ``r2``), a callable ``fn(y_true, y_pred)`` (greater is better, "
            "original labels; one that scores a perfect prediction below a trivial one, a loss, is refused before the "
            "search) or ``automl.Metric(...)``.",
            "roc_auc / log_loss / rmse", "--metric",
            "metric to optimise (default by task: roc_auc, log_loss, rmse)"),
    Setting("time_budget", None, _check_time_budget,
            "Seconds for the whole fit: search, ensemble, refits and tracking. With process isolation the fit "
            "ends within ``time_budget * 1.1 + 10`` seconds: every trial and refit runs in the worker process "
            "and is killed at its deadline, falling back to a model already refitted. With "
            "``isolation=\"none\"`` the budget is best effort (nothing can be killed).",
            "60 s when `n_trials` is not given either", "--time-budget",
            "seconds for the whole fit, refit included", cli_type=float),
    Setting("n_trials", None, _check_n_trials,
            "Trials to run in this call (on a resumed study: more trials).",
            "–", "--n-trials", "number of trials", cli_type=int),
    Setting("cv", None, _check_cv,
            "Cross-validation: None (5 folds, stratified for classification, a class with fewer than 5 but at least 2 rows "
            "tolerated with a warning, and no more folds than the largest class has rows; 5 × 2 on at most 2,500 rows with every "
            "class of 5 or more; under a time budget repeated only up to 500 cells (rows × columns, × classes when multiclass, a "
            "free-text column a cell per 25 characters) per second of budget, 3 folds above 2,000, and one 10 % holdout from "
            "30,000 on at least 100,000 rows; not for a named study), a number of folds ``k`` (every class needs ``k`` rows), a "
            "holdout fraction ``0.2``, ``\"kfold:5\"``, ``\"repeated:5x3\"``, ``\"group:5\"``, ``\"group:COLUMN\"`` (groups from that "
            "column; it, ``\"group\"`` and the default with groups: 5 folds, or one per group if fewer), ``\"time:5\"``, "
            "``\"holdout:0.2\"``, a scikit-learn splitter or an iterable of ``(train, test)`` index arrays (as scikit-learn's "
            "``check_cv`` takes). A number may be given as text (``\"5\"``): every entry point reads the same grammar.",
            "None: 5 folds (5 × 2 on small data, 3 or a holdout on a short budget)", "--cv",
            "5 | 0.2 | kfold:5 | repeated:5x3 | group:COLUMN | time:5 | holdout:0.2 (default: 5 folds)",
            normalise=_cv_value),
    Setting("families", None, _check_families,
            "Family names to search (default: all installed); see ``automl.available_families()``. "
            "On the command line, comma-separated.",
            "all installed", "--families", "comma-separated family names (default: all installed)",
            normalise=family_list),
    Setting("search_space", None, _check_search_space,
            "Overrides ``{family: {param: value or {low, high, log, default, choices}}}`` or a YAML file of "
            "them; a plain value pins the parameter.",
            "–", "--space", "YAML file of search-space overrides {family: {param: ...}}", sweep_alias="space"),
    Setting("seed", 0, _check_seed,
            "Seeds the sampler and the folds; trial N's models get a seed derived from ``seed`` and N (the refit uses "
            "the winning trial's). The same ``seed`` and ``n_trials`` give the same leaderboard and predictions on the "
            "CPU (a test checks it, nets included). ``None``: the sampler is not seeded (its configurations differ from "
            "run to run); folds and models take seed 0 (a sweep's processes share folds).", "0", "--seed", "", cli_type=int),
    Setting("n_jobs", -1, _check_n_jobs,
            "Threads per model (-1: every core the process may run on, its CPU affinity as `taskset` or a "
            "container sets it; OpenMP and BLAS pools are capped to it as well; None: 1, as in scikit-learn).",
            "-1", "--n-jobs", "threads per model (default -1: every core this process may run on)", cli_type=int),
    Setting("study_name", None, _check_study_name,
            "Name of the study; with it the study is stored (by default in ``automl-studies.journal``) and a "
            "later fit with the same name resumes it.",
            "–", "--study", "study name: stored, resumable, joinable by workers", sweep_alias="study"),
    Setting("storage", None, _check_storage,
            "Where the study is stored: a ``.journal`` path, an RDB URL (``sqlite:///…``, ``postgresql://…``), "
            "a journal in PostgreSQL (``journal+postgresql://…``, the fastest shared store) or an Optuna storage.",
            "local journal file", "--storage",
            "study storage: a .journal path (default: ./automl-studies.journal or $AUTOML_STORAGE), "
            "sqlite:///FILE, postgresql://USER@HOST/DB or journal+postgresql://USER@HOST/DB"),
    Setting("pruner", "percentile", _check_pruner,
            "``\"percentile\"`` (stop trials in the worst quarter after 2 folds, and after any fold a trial 1.5 x as "
            "far from a perfect score as the best on the same folds), ``\"median\"``, ``\"none\"`` (no trial stopped on its scores) "
            "or an Optuna pruner.",
            "`\"percentile\"`", "--pruner", "", cli_choices=PRUNERS),
    Setting("tracking", False, _check_tracking,
            "Log to MLflow: True, False, None (on, unless the environment variable ``AUTOML_TRACKING`` is "
            "``0``/``false``) or a tracker object (see ``automl.tracking``). ``automl.fit``, sweep files and "
            "``automl fit`` track by default (None); ``AutoMLClassifier``/``AutoMLRegressor`` do not (False), "
            "so that the clones a scikit-learn meta-estimator (``GridSearchCV``, ``cross_val_score``) fits "
            "log no run or model per fold: pass ``tracking=True`` to track one.",
            "on for `automl.fit` and the CLI (None); `False` for the estimator classes", "--no-tracking",
            "do not log to MLflow", fit_default=None),
    Setting("tracking_uri", None, _nonempty_text,
            "MLflow store; default ``$MLFLOW_TRACKING_URI``, else MLflow 3's own default ``sqlite:///mlflow.db`` "
            "in the working directory. A folder store (a plain path, ``file:``) is refused before the fit, as MLflow "
            "3 refuses it, unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set.",
            "`sqlite:///mlflow.db`", "--tracking-uri",
            "MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)"),
    Setting("register_model", None, _check_model_name,
            "Register the final model in the MLflow model registry under this name.",
            "–", "--register-model", "register the final model in MLflow under this name"),
    Setting("log_input_example", False, _check_bool,
            "Log five training rows with the MLflow model as its input example (off by default: they are your "
            "data, and anyone who can read the run can read them). The model's signature is logged either way, "
            "from the training frame's column types.",
            "`False`", "--log-input-example",
            "yes: log five training rows with the MLflow model as its input example (default: no)",
            cli_type=_yes_no),
    Setting("device", "auto", _check_device,
            "Where the nets train: ``\"auto\"`` (CUDA, then MPS, then the CPU), ``\"cpu\"``, ``\"cuda\"``, "
            "``\"cuda:N\"`` or ``\"mps\"``; ``\"cuda\"`` for a search with nets on a machine without a CUDA driver "
            "is refused before the search.",
            "`\"auto\"`", "--device", "where nets train: auto (default), cpu, cuda, cuda:N, mps"),
    Setting("image_shape", None, _check_image_shape,
            "``(height, width[, channels])`` when the features are pixel columns (channels last, row-major); "
            "not needed for image arrays shaped ``(N, H, W)`` or ``(N, H, W, C)``. On the command line "
            "``28x28``.",
            "–", "--image-shape", "the columns are image pixels of this shape: HxW or HxWxC",
            normalise=_image_shape),
    Setting("isolation", "process", _check_isolation,
            "``\"process\"``: trials and the final refits run in a separate worker process, started with spawn "
            "and reused; a trial or refit that crashes it (segfault, abort), raises ``MemoryError``, runs past "
            "``trial_timeout`` or its deadline, or goes over ``trial_memory_limit`` fails with its reason, the "
            "worker is replaced and the fit goes on. ``\"none\"``: in the fit's own process (for debuggers; a "
            "crash then ends the fit, and the time budget is best effort).",
            "`\"process\"`", "--isolation",
            "process (default): trials run in a reused worker process that is replaced when a "
            "trial crashes it or passes a limit; none: in this process", cli_choices=ISOLATION_MODES),
    Setting("trial_timeout", None, _positive("seconds", "trial_timeout=600"),
            "Seconds one trial (or refit) may run before its worker is killed and it is recorded as failed "
            "(None: no limit of its own; a time budget still stops it). At least 1; needs "
            "``isolation=\"process\"`` (refused with ``\"none\"``, where nothing can be killed).",
            "–", "--trial-timeout", "seconds one trial may run before it is killed and failed", cli_type=float),
    Setting("trial_memory_limit", None, _positive("MiB", "trial_memory_limit=4096"),
            "Resident memory in MiB a trial's (or refit's) worker may reach before it is killed "
            "(None: three quarters of the machine's memory). At least 256; needs ``isolation=\"process\"``.",
            "¾ of the machine's memory", "--trial-memory-limit",
            "MiB a trial's process may use before it is killed (default: 3/4 of the machine's memory)",
            cli_type=float),
    Setting("ensemble", True, _check_bool,
            "Blend the best trials by greedy ensemble selection (Caruana et al. 2004) on their out-of-fold "
            "predictions; when the blend's cross-fitted CV score beats the best single trial chosen the same way "
            "(per fold, without look-ahead), its members are refitted on all rows and ``predict`` uses it. "
            "False: the best single trial, always.",
            "`True`", "--no-ensemble",
            "keep the best single trial (default: blend the best trials when that scores better)"),
    Setting("stack", "auto", _check_auto_bool,
            "A second level over the blend (stacked generalisation, as AutoGluon stacks its models): the best-ranked "
            "booster's configuration whose second level fits the time left (else the best trial's, when no booster "
            "completed) is cross-validated again, on the same folds, on the data "
            "plus the blend's members' out-of-fold predictions as columns; greedy selection blends it with the members, "
            "and when that blend's cross-fitted score beats the first blend's, the second level is refitted on all rows "
            "and ``predict`` feeds it the members' predictions and blends the two levels. The search keeps time for it "
            "(about three refits of the configuration it copies under 3 folds, times its columns over the data's: each "
            "member adds one column, or K - 1 for K classes; at most a fifth of the budget); a second level that "
            "scores worse, fails or runs "
            "late leaves the first blend in place. ``\"auto\"``: stack whenever there is a blend (``ensemble=True``); "
            "``True``: the same, and refused with ``ensemble=False``; ``False``: never. Left out for a holdout, "
            "``time:K`` folds, capped validation rows, image data or data with a column named ``__stack_...``. Its CV "
            "score is slightly optimistic: its training rows' new columns come from models that saw its validation rows.",
            "`\"auto\"`", "--stack",
            "a second-level model over the blend when it scores better: auto (default: whenever there is a blend), "
            "yes or no",
            cli_type=_auto_word),
    Setting("calibrate", "auto", _check_auto_bool,
            "Temperature scaling of the final model's class probabilities (``softmax(log p / T)``, as AutoGluon "
            "calibrates), ``T`` fitted on its out-of-fold predictions. ``\"auto\"``: kept when the metric is log loss "
            "and the final model scores better with it on cross-fitted folds (each fold's ``T`` fitted on the other "
            "folds' rows); ``True``: kept for any classification metric (refused for regression); ``False``: never. "
            "``model.calibration_`` says what was tried.",
            "`\"auto\"`", "--calibrate",
            "temperature-scale the final model's probabilities: auto (default: when the metric is log loss and "
            "CV says it helps), yes or no",
            cli_type=_auto_word),
    Setting("final_model", "auto", _check_final_model,
            "What ``predict`` uses of a chosen trial. ``\"refit\"``: its configuration refitted on all rows. "
            "``\"bag\"``: the models its cross-validation already fitted, one per fold, averaged (no refit, "
            "k times slower to predict; the trial's out-of-fold predictions are exactly this model's, so the "
            "ensemble is chosen and scored on the models it uses). ``\"auto\"``: the refit, or the bag when "
            "the refit is not expected to end in the time left or fails (crash, memory, deadline). The fold "
            "models of the 10 best trials are kept for it (those of the best only with ``\"refit\"``, the "
            "last resort); a trial whose fold models are too large to keep is refitted.",
            "`\"auto\"`", "--final-model",
            "refit: one model refitted on all rows; bag: the chosen trial's fold models, averaged; auto "
            "(default): the refit, or the bag when the refit does not fit in the time left or fails",
            cli_choices=FINAL_MODELS),
    Setting("pack_nets", "auto", _check_pack_nets,
            "Most trials of a net family (``torch_mlp``, ``tabm``) trained together as one packed model: a "
            "trial's companions share its shape, the sampler picks their learning rate and weight decay (and "
            "gradient clipping, patience and epochs where searched), and each member is a trial of its own (its "
            "own pruning, record, fold models and MLflow run). 1: every trial alone. ``\"auto\"``: 8 when the "
            "nets train on CUDA, else 1 (on one CPU core, at 20,000 rows, a pack of eight ``torch_mlp`` defaults "
            "trained 2.6 times faster than one after another and one of TabM's defaults 0.66 times as fast; "
            "whether packs help a CPU search is not measured). Packs form when no queued trial waits and the "
            "leader can be packed (AdamW or Adam, a constant or cosine schedule); under a time budget only after "
            "a first result, sized to half the search time left; with sample weights or a probe (large data) the "
            "members run one after another.",
            "`\"auto\"`", "--pack-nets",
            "most net trials trained as one packed model: auto (default: 8 on CUDA, else 1) or a number",
            normalise=pack_nets_value),
    Setting("target_transform", "auto", _check_target_transform,
            "Regression: the scale the models learn the target on, their predictions mapped back (scores are "
            "always in the target's units). ``\"auto\"``: searched with the other parameters among "
            "``\"none\"``, ``\"sqrt\"`` and ``\"log\"`` (log1p) when no target value is negative (else "
            "``\"none\"``); the first family's defaults are tried with each, and the families' portfolios then run on the "
            "scale that scored best there. A transform by name pins it (refused "
            "for a target with a negative value, or for classification). ``\"poisson\"`` (pinned only) is the "
            "target as it is under the family's own Poisson loss, a log link that predicts the mean: LightGBM and "
            "HistGradientBoosting take it, the other families learn the target as it is.",
            "`\"auto\"`", "--target-transform",
            "regression: learn the target as is (none), its square root (sqrt), log1p (log), or as is under a "
            "Poisson loss (poisson); auto (default): searched among the first three", cli_choices=TARGET_SETTINGS),
    Setting("first_trials", "defaults", _check_first_trials,
            "The trials a new search queues before the sampler takes over. ``\"defaults\"``: every family's "
            "defaults, in the families' order, then their search-space portfolios. ``\"learned\"``: first the "
            "sequence for the task learned off-suite (``search_spaces/zero_shot/first_trials.yaml``: "
            "configurations chosen greedily for their cross-validation score, for their time, over a corpus of "
            "real tables; those of families not searched are skipped; none for images), then the same. Not the "
            "default: on 24 off-suite tables at 60 s it won 7, tied 7 and lost 10 against ``\"defaults\"``.",
            "`\"defaults\"`", "--first-trials",
            "defaults (default): every family's defaults first; learned: the sequence learned off-suite first",
            cli_choices=FIRST_TRIALS),
    Setting("task", None, _check_task,
            "``\"binary\"``, ``\"multiclass\"``, ``\"regression\"`` or None (inferred from the target). "
            "``AutoMLClassifier`` takes binary or multiclass.",
            "inferred", "--task", "", cli_choices=TASKS, classifier_only=True),
    Setting("pos_label", None, _check_pos_label,
            "The positive class of a binary target: f1, precision, recall, the precision-recall curve and "
            "roc_auc's orientation are about it. None: the minority class of the training target (on a tie, "
            "the second label in sorted order, scikit-learn's default). ``classes_`` and the columns of "
            "``predict_proba`` stay in sorted order; the fitted ``pos_label_`` says which class it is.",
            "the minority class", "--pos-label", "the positive class of a binary target (default: the minority class)",
            classifier_only=True),
    Setting("column_roles", None, _check_column_roles,
            "Force the role of string columns: ``{column: \"text\" or \"categorical\"}``. Without it a column of "
            "strings is free text when at least 30 % of its filled values are distinct and they hold 2.5 words or more on average "
            "(at least 20 filled rows), else a category. Free text is encoded inside each training fold "
            "(TF-IDF then a truncated SVD, searched). On the command line ``review=text,code=categorical``.",
            "detected", "--column-roles", "force string columns' roles: COLUMN=text|categorical,... "
            "(default: detected)", normalise=_roles_value),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """The setting called ``name``.

    Example:
        >>> setting("cv").flag
        '--cv'
    """
    return _BY_NAME[name]


def setting_names(estimator: str = "any") -> list[str]:
    """The settings of ``estimator`` (``"classifier"``, ``"regressor"``; ``"any"``: all of them), in table order.

    Example:
        >>> "task" in setting_names("classifier"), "task" in setting_names("regressor")
        (True, False)
    """
    return [s.name for s in SETTINGS if estimator != "regressor" or not s.classifier_only]


class FitSettings(Mapping[str, Any]):
    """Every setting of a fit, checked and in canonical form (a read-only mapping with attribute access).

    Build it with :func:`resolve_settings`. ``cv`` is a parsed
    :class:`~automl.evaluation.splitters.CVSpec`; ``families`` a list or None; ``image_shape``
    a tuple or None; ``raw`` keeps the values as given (the MLflow params, the fingerprint).
    """

    def __init__(self, values: Mapping[str, Any], raw: Mapping[str, Any], estimator: str) -> None:
        self._values = dict(values)
        self.raw = dict(raw)
        self.estimator = estimator

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"FitSettings({self._values!r})"

    @property
    def budget_seconds(self) -> float | None:
        """The fit's time budget: ``time_budget``, or :data:`DEFAULT_TIME_BUDGET` when neither a
        budget nor ``n_trials`` was given."""
        if self.time_budget is None and self.n_trials is None:
            return DEFAULT_TIME_BUDGET
        return None if self.time_budget is None else float(self.time_budget)

    @property
    def stacks(self) -> bool:
        """Whether the fit puts a second level over its blend: ``stack`` is True, or ``"auto"`` with
        ``ensemble=True`` (the data may still leave it out: :func:`automl._fit.stack.stack_cv`)."""
        return bool(self.ensemble) and self.stack in (True, "auto")

    @property
    def tracking_on(self) -> bool:
        """Whether the fit is tracked (``tracking`` True or a tracker; None: unless ``AUTOML_TRACKING`` says no)."""
        if self.tracking is None:
            return os.environ.get("AUTOML_TRACKING", "1").strip().lower() not in {"0", "false", "no", "off"}
        return self.tracking is not False


def resolve_settings(params: Mapping[str, Any], estimator: str = "any") -> FitSettings:
    """Check every setting in ``params`` (the missing ones take their defaults), all problems at once.

    Args:
        params: Setting name -> value.
        estimator: ``"classifier"``, ``"regressor"`` or ``"any"`` (``automl.fit`` and sweep files).

    Raises:
        InvalidParameterError: the problems, one per line, each naming the setting, the value and the fix.
        InputTypeError: ``params`` names a setting that does not exist (with "did you mean").
    """
    names = setting_names(estimator)
    unknown = [k for k in params if k not in names]
    if unknown:
        raise InputTypeError([unknown_name_message("setting", k, names) for k in unknown])
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name in names:
        spec = _BY_NAME[name]
        value = params.get(name, spec.default_for(estimator))
        value = str(value) if isinstance(value, str) else value  # a SecretURL (the estimator's) read as the URL
        if spec.normalise is not None:
            value = spec.normalise(value)
        problems += spec.check(name, value)
        values[name] = value
    if estimator == "classifier" and values.get("task") == "regression":
        problems.append("AutoMLClassifier cannot do regression; use AutoMLRegressor or task=None")
    problems += isolation_limit_problems(values) + stack_problems(values) + shared_sqlite_problems(values)
    if problems:
        raise InvalidParameterError(problems)
    from automl.evaluation.splitters import parse_cv

    values["cv"] = parse_cv(values["cv"])
    return FitSettings(values, {n: params.get(n, _BY_NAME[n].default_for(estimator)) for n in names}, estimator)


# -- what is generated from the table -------------------------------------------------------------
def _parameters(names: list[str], estimator: str) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [inspect.Parameter(n, kw, default=_BY_NAME[n].default_for(estimator)) for n in names]


def estimator_signature(estimator: str) -> inspect.Signature:
    """The ``__init__`` signature of ``AutoMLClassifier`` / ``AutoMLRegressor`` (keyword-only settings)."""
    self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([self, *_parameters(setting_names(estimator), estimator)], return_annotation=None)


def fit_signature() -> inspect.Signature:
    """The signature of :func:`automl.fit`: the data arguments, then every setting (``task`` first)."""
    kw = inspect.Parameter.KEYWORD_ONLY
    names = [n for n in setting_names() if n != "task"]
    head = [
        inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("target", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
        inspect.Parameter("task", kw, default=None),
        inspect.Parameter("groups", kw, default=None),
        inspect.Parameter("sample_weight", kw, default=None),
    ]
    return inspect.Signature([*head, *_parameters(names, "any")])


def estimator_docs(estimator: str) -> str:
    """The ``Args:`` section of an estimator's docstring, from the table."""
    import textwrap

    lines = ["    Args:"]
    for name in setting_names(estimator):
        body = textwrap.wrap(_BY_NAME[name].doc, 92)
        lines.append(f"        {name}: {body[0]}")
        lines += [f"            {line}" for line in body[1:]]
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    """The README's settings table (markdown), from the table; a test keeps the README in step."""
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for spec in SETTINGS:
        flag = f" (`{spec.flag}`)" if spec.flag else ""
        rows.append(f"| `{spec.name}`{flag} | {spec.shown_default} | {spec.doc.replace('``', '`')} |")
    return "\n".join(rows) + "\n"
