"""The one YAML reader of the package: PyYAML's safe loader, refusing a key given twice in a mapping.

Plain PyYAML keeps the last of two equal keys without a word, so a sweep file with ``n_trials`` twice,
or a search space with a parameter twice, ran with a value nobody saw. Sweep files, search spaces,
overrides and the built-in files are all read through :func:`load_yaml`.

Example:
    >>> load_yaml("family: knn\\nparams: {}\\n")
    {'family': 'knn', 'params': {}}
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["DuplicateKeyError", "load_yaml"]


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping gives a key twice (plain PyYAML keeps the last value without a word)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (``<<`` merge keys may be overridden)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: D102 - PyYAML's
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first:
                        raise DuplicateKeyError(
                            f"duplicate key {key!r} at line {line} (first at line {first[key]}): a key may appear "
                            "once in a mapping (YAML would keep only the last value without a word); remove or "
                            "rename one of them")
                    first[key] = line
                except TypeError:  # an unhashable key: PyYAML's own error names it
                    continue
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> object:
    """Parse one YAML document with PyYAML's safe loader, refusing duplicate keys: every YAML file the
    package reads (sweep files, search spaces, overrides) goes through here.

    Raises:
        yaml.YAMLError: the text is not valid YAML; :class:`DuplicateKeyError` (one) when a mapping gives a
            key twice (the message names the key and both lines).

    Example:
        >>> load_yaml("a: 1\\nb: 2\\n")
        {'a': 1, 'b': 2}
        >>> load_yaml("n_trials: 1\\nn_trials: 2\\n")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        automl.spaces.yaml_files.DuplicateKeyError: duplicate key 'n_trials' at line 2 (first at line 1): ...
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
