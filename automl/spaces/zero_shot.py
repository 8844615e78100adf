"""The first trials of a search, learned off-suite: a zero-shot portfolio per task.

``search_spaces/zero_shot/first_trials.yaml`` lists, per task, a sequence of configurations
(a family and its parameters) chosen greedily for the best mean normalised cross-validation
score, within a few multiples of each table's LightGBM time, over a corpus of real tables
outside both benchmark suites. ``python -m benchmarks.portfolio`` rebuilds it (the corpus is
``benchmarks/portfolio_corpus.py``); each entry says where it comes from. With
``first_trials="learned"`` (not the default: end to end it did not beat the defaults' order off-suite)
a search queues these first, then every family's defaults and search-space portfolio (:func:`automl.search.first_trials.enqueue_first_trials`).

Example:
    >>> entries = learned_first_trials("regression")
    >>> entries[0].family in builtin_space_names()
    True
    >>> learned_first_trials("ranking")
    ()
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from automl._suggest import unknown_key_message
from automl.exceptions import SearchSpaceError
from automl.spaces.loader import _builtin_dir, _read_yaml, builtin_space_names, load_builtin_space
from automl.spaces.portfolio import TASKS, values_problems

__all__ = ["FirstTrial", "learned_first_trials", "FIRST_TRIALS_FILE"]

#: Where the learned sequences live, inside the built-in search spaces' folder.
FIRST_TRIALS_FILE = ("zero_shot", "first_trials.yaml")
_ENTRY_KEYS = ("family", "name", "params", "source", "worth")


@dataclass(frozen=True)
class FirstTrial:
    """One learned first trial.

    Attributes:
        family: The family's name.
        name: The configuration's name (``default``, a portfolio entry's name, ``random_K``).
        params: ``(parameter, value)`` pairs; parameters left out take the family's defaults.
        source: Where the configuration comes from.
    """

    family: str
    name: str
    params: tuple = ()
    source: str = ""

    @property
    def origin(self) -> str:
        """How the trial is labelled (``automl:origin``): ``zero_shot:<family>:<name>``."""
        return f"zero_shot:{self.family}:{self.name}"


@functools.cache
def learned_first_trials(task: str) -> tuple[FirstTrial, ...]:
    """The learned sequence of first trials for ``task`` (empty for a task it has none for).

    Raises:
        SearchSpaceError: the shipped file is malformed (every problem listed).
    """
    resource = _builtin_dir().joinpath(*FIRST_TRIALS_FILE)
    if not resource.is_file():
        return ()
    source = str(resource)
    data = _read_yaml(resource, source)
    tasks = data.get("tasks") if isinstance(data, Mapping) else None
    if not isinstance(tasks, Mapping):
        raise SearchSpaceError(f"{source}: needs a mapping 'tasks: {{task: [entries]}}'")
    entries, problems = _parse(tasks.get(task) or [], f"{source}: {task} ")
    problems += [f"{source}: unknown task {name!r}; tasks are {list(TASKS)}" for name in tasks if name not in TASKS]
    if problems:
        raise SearchSpaceError(problems)
    return tuple(entries)


def _parse(items: object, head: str) -> tuple[list[FirstTrial], list[str]]:
    if not isinstance(items, list):
        return [], [head + f"must be a list of entries, got {type(items).__name__}"]
    out, problems = [], []
    families = builtin_space_names()
    for i, item in enumerate(items, 1):
        where = f"{head}entry {i}"
        if not isinstance(item, Mapping) or item.get("family") not in families:
            problems.append(f"{where}: needs a family among {families}, got {item!r}")
            continue
        problems += [f"{where}: " + unknown_key_message(k, _ENTRY_KEYS, "in a first trial")
                     for k in item if k not in _ENTRY_KEYS]
        params = item.get("params") or {}
        if not isinstance(params, Mapping):
            problems.append(f"{where}: params must be a mapping, got {params!r}")
            continue
        space = load_builtin_space(item["family"])
        problems += values_problems(params, {p.name: p for p in space.params}, f"{where} ({item['family']})")
        out.append(FirstTrial(item["family"], str(item.get("name", f"#{i}")), tuple(params.items()),
                              str(item.get("source", ""))))
    return out, problems
