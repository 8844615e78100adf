"""Model families: one module per family, a registry keyed by name.

Example:
    >>> from automl.families import available_families
    >>> "linear" in available_families()
    True
"""

from automl.families.base import BuildContext, ModelFamily
from automl.families.registry import (
    available_families,
    get_family,
    register_family,
    unregister_family,
    registered_families,
    resolve_families,
)

__all__ = [
    "BuildContext",
    "ModelFamily",
    "available_families",
    "get_family",
    "register_family",
    "unregister_family",
    "registered_families",
    "resolve_families",
]
