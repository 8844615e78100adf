"""The registry of model families, keyed by name.

Families are registered by import path (``"package.module:ATTRIBUTE"``), so
registering and listing never import torch or lightgbm: a family module only
imports its heavy package inside its builder.

Example:
    >>> registered_families()[:2]
    ['lightgbm', 'hist_gradient_boosting']
    >>> get_family("random_forest").encoding
    'ordinal'
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Iterable

from automl._suggest import unknown_name_message
from automl._warnings import warn_user
from automl.exceptions import FamilyUnavailableError, InvalidParameterError, UnknownNameError
from automl.families.base import ModelFamily

__all__ = ["register_family", "unregister_family", "registered_families", "get_family", "family_import_path", "available_families", "resolve_families"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: The built-in families' package extras (pyproject.toml) and the modules each one installs.
_EXTRAS = {"tabm": {"tabm", "rtdl_num_embeddings", "torch"}, "torch": {"torch"}, "catboost": {"catboost"},
           "xgboost": {"xgboost"}}
#: The entry-point group an installed package declares its families in (``name = "module:ATTRIBUTE"``).
ENTRY_POINT_GROUP = "automl.families"
_PATHS: dict[str, str] = {}
_LOADED: dict[str, ModelFamily] = {}
_PLUGINS_READ = False


def _paths() -> dict[str, str]:
    """The registry, with the families installed packages declare (read once, on first use: reading the
    installed packages' metadata takes milliseconds that ``import automl`` should not pay)."""
    global _PLUGINS_READ
    if not _PLUGINS_READ:
        _PLUGINS_READ = True
        _read_entry_points()
    return _PATHS


def _read_entry_points() -> None:
    """Register each family an installed package declares under :data:`ENTRY_POINT_GROUP`; a name taken
    already (a built-in's, or one registered in code) keeps its registration, with a warning."""
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name in _PATHS:
            if _PATHS[point.name] != point.value:
                warn_user(f"family {point.name!r} declared by an installed package ({point.value}) is left out: "
                          f"the name is taken by {_PATHS[point.name]}")
            continue
        try:
            register_family(point.name, point.value)
        except InvalidParameterError as exc:
            warn_user(f"the family an installed package declares as {point.name!r} = {point.value!r} is left out: {exc}")


def register_family(name: str, import_path: str, *, replace: bool = False) -> None:
    """Register a family under ``name``, found at ``import_path`` (``"module:ATTR"``).

    Raises:
        InvalidParameterError: the name is malformed or taken, or the path is not ``module:attr``.

    Example:
        >>> register_family("linear", "automl.families.linear:FAMILY", replace=True)
    """
    problems = []
    if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
        problems.append(
            f"family name {name!r} must be lower-case letters, digits and single underscores, "
            "starting with a letter (it prefixes Optuna parameters as name__param)"
        )
    if not isinstance(import_path, str) or import_path.count(":") != 1:
        problems.append(f"import_path {import_path!r} must look like 'package.module:ATTRIBUTE'")
    if name in _paths() and not replace:
        problems.append(f"family {name!r} is already registered (from {_PATHS[name]}); pass replace=True")
    if problems:
        raise InvalidParameterError(problems)
    _PATHS[name] = import_path
    _LOADED.pop(name, None)


def unregister_family(name: str) -> None:
    """Remove a family from the registry (for tests and plugins).

    Raises:
        UnknownNameError: nothing is registered under ``name``.
    """
    if name not in _paths():
        raise UnknownNameError(unknown_name_message("family", name, _PATHS))
    del _PATHS[name]
    _LOADED.pop(name, None)


def registered_families() -> list[str]:
    """Every registered family name, installed or not, in registration order.

    The order is the order in which each family's defaults are tried first:
    strong, fast families lead.
    """
    return list(_paths())


def family_import_path(name: str) -> str:
    """Where the family registered under ``name`` is found (``"module:ATTR"``).

    Raises:
        UnknownNameError: nothing is registered under ``name`` (with close names).

    Example:
        >>> family_import_path("linear")
        'automl.families.linear:FAMILY'
    """
    if name not in _paths():
        raise UnknownNameError(unknown_name_message("family", name, _PATHS))
    return _PATHS[name]


def get_family(name: str) -> ModelFamily:
    """Load the family registered under ``name``.

    Raises:
        UnknownNameError: nothing is registered under ``name`` (with close names).
        FamilyUnavailableError: its module cannot be imported or lacks the attribute.
        InvalidParameterError: the attribute is not a ModelFamily of that name.
    """
    if name not in _paths():
        raise UnknownNameError(unknown_name_message("family", name, _PATHS))
    if name not in _LOADED:
        module_name, attribute = _PATHS[name].split(":")
        try:
            family = getattr(importlib.import_module(module_name), attribute)
        except Exception as exc:  # noqa: BLE001 - a plugin's module may fail in any way; it is the family's fault
            raise FamilyUnavailableError(
                f"family {name!r} is registered from {_PATHS[name]!r}, which could not be loaded "
                f"({type(exc).__name__}: {exc}); make that module importable and give it the attribute, or "
                f"unregister_family({name!r})"
            ) from exc
        if not isinstance(family, ModelFamily) or family.name != name:
            raise InvalidParameterError(
                f"{_PATHS[name]} must be a ModelFamily named {name!r}, got {family!r}"
            )
        _LOADED[name] = family
    return _LOADED[name]


def available_families(task: str | None = None, kind: str | None = None) -> list[str]:
    """Families whose packages are installed, optionally only those for ``task`` and input ``kind``.

    Args:
        task: ``binary``, ``multiclass`` or ``regression`` (None: any).
        kind: ``table`` or ``image`` (None: any). For images, the families made for
            images come first, so their defaults are tried first.

    Example:
        >>> "knn" in available_families("regression")
        True
        >>> "cnn" in available_families("binary", "table")
        False
    """
    out = []
    for name in registered_families():
        try:
            family = get_family(name)
        except (FamilyUnavailableError, InvalidParameterError) as exc:  # one broken plugin leaves the others usable
            warn_user(f"{exc}; it is left out of the families")
            continue
        if family.missing_requirements():
            continue
        if (task is None or family.supports(task)) and (kind is None or kind in family.inputs):
            out.append(name)
    if kind == "image":
        out.sort(key=lambda n: get_family(n).inputs != frozenset({"image"}))
    return out


def resolve_families(
    names: Iterable[str] | None, task: str, kind: str = "table", *, weighted: bool = False
) -> list[ModelFamily]:
    """Turn a ``families=`` argument into families for ``task`` on ``kind`` data; ``None`` means all installed
    families that are searched by default (``ModelFamily.searched_by_default``).

    With ``weighted`` (sample weights given), families whose estimators cannot
    take them are left out of ``None`` and refused by name.

    Raises:
        UnknownNameError: a name is not registered.
        FamilyUnavailableError: a named family needs a package that is missing.
        InvalidParameterError: a named family does not support ``task``, ``kind`` or sample
            weights, or the list is empty.

    Example:
        >>> [f.name for f in resolve_families(None, "binary", weighted=True)][:2]
        ['lightgbm', 'hist_gradient_boosting']
    """
    if names is None:
        found = [get_family(n) for n in available_families(task, kind) if get_family(n).searched_by_default]
        return [f for f in found if f.sample_weight or not weighted]
    if isinstance(names, str):
        names = [names]
    names = list(names)
    problems: list[str] = []
    families = []
    for name in names:
        if name not in _paths():
            problems.append(unknown_name_message("family", name, _PATHS))
            continue
        family = get_family(name)
        missing = family.missing_requirements()
        if missing:
            # The package extra that brings what is missing (automl[tabm] brings torch too).
            bringer = next((m for m in _EXTRAS if m in missing and set(missing) <= _EXTRAS[m]), "")
            extra = f' "automl[{bringer}]"' if bringer else ""
            raise FamilyUnavailableError(
                f"family {name!r} needs {', '.join(missing)}, which is not installed; install it "
                f"(pip install {' '.join(missing)}{' or pip install' + extra if extra else ''}) "
                f"or leave {name!r} out of families="
            )
        if not family.supports(task):
            problems.append(f"family {name!r} does not support a {task} task (it supports {sorted(family.tasks)})")
            continue
        if kind not in family.inputs:
            hint = (
                "; pass images as an array shaped (N, H, W) or (N, H, W, C), or pixel columns with image_shape="
                if "image" in family.inputs else ""
            )
            problems.append(f"family {name!r} models {' and '.join(sorted(family.inputs))} data, not {kind} data{hint}")
            continue
        if weighted and not family.sample_weight:
            problems.append(
                f"family {name!r} cannot train with sample weights; leave it out of families= "
                "or fit without sample_weight="
            )
            continue
        families.append(family)
    if not names:
        problems.append("families= is empty; name at least one family, or pass None for all installed families")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        problems.append(f"families= names {duplicated} more than once; name each family once, e.g. "
                        f"families={list(dict.fromkeys(names))}")
    if problems:
        if all("unknown family" in p for p in problems):
            raise UnknownNameError(problems)
        raise InvalidParameterError(problems)
    return families


def builtin_families() -> list[str]:
    """The built-in families, discovered: every search-space file shipped in ``automl.search_spaces`` whose
    family has a module ``automl.families.<name>`` (defining ``FAMILY``), in the files' ``priority`` order.
    Adding a built-in family is its module and its YAML file, nothing else.

    Example:
        >>> builtin_families()[:3]
        ['lightgbm', 'hist_gradient_boosting', 'random_forest']
    """
    from automl.exceptions import SearchSpaceError
    from automl.spaces.loader import builtin_family_order

    try:
        order = builtin_family_order()
    except SearchSpaceError:  # the YAML files are not installed: the modules that define FAMILY, by name
        import pkgutil

        package = importlib.import_module("automl.families")
        order = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
                 and isinstance(getattr(importlib.import_module(f"automl.families.{m.name}"), "FAMILY", None), ModelFamily)]
    return [name for name in order if importlib.util.find_spec(f"automl.families.{name}") is not None]


for _name in builtin_families():  # straight into the registry: registering reads the installed plugins first
    _PATHS[_name] = f"automl.families.{_name}:FAMILY"
