"""The model file format: a pickle of the estimator with its weights kept out of the pickle.

``dump`` writes ``model.pkl``, and beside it:

- ``weights.pt``: every torch tensor of the model (the nets' parameters and
  buffers), a plain ``{key: tensor}`` dict that ``load`` reads with
  ``torch.load(weights_only=True)``, so the weights never go through pickle;
- ``lightgbm/booster_N.txt``: every LightGBM booster in LightGBM's own text
  model format (``Booster.model_to_string``), rebuilt with ``Booster(model_str=...)``.

The pickle keeps the rest (scikit-learn pipelines, encoders, our estimators),
and points at those files by name. Unpickling still runs code: load only
folders you trust (``automl.load`` checks every file's SHA-256 first, then
loads those same bytes with :func:`load_files`).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> dump({"a": [1, 2]}, folder)
    ['model.pkl']
    >>> load(folder, {"model.pkl"})
    {'a': [1, 2]}
"""

from __future__ import annotations

import contextvars
import io
import pickle
import sys
import types
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from pathlib import Path
from typing import Any

from automl.exceptions import ModelFileError

__all__ = ["BOOSTER_DIR", "PICKLE_FILE", "WEIGHTS_FILE", "ReadIterator", "UnsavedCallable", "dump", "load",
           "load_files", "loadable_elsewhere", "picklable_setting"]

PICKLE_FILE = "model.pkl"
WEIGHTS_FILE = "weights.pt"
BOOSTER_DIR = "lightgbm"

#: While loading: the files' verified bytes, the names it may read, and the tensors once read.
_LOADING: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("automl_loading", default=None)


def loadable_elsewhere(fn: types.FunctionType) -> bool:
    """Whether another process can load ``fn`` by its name (pickle saves a function as its module and name): not a
    lambda, not a function defined inside another, not one defined in the script or notebook that ran (``__main__``).

    Example:
        >>> import os.path
        >>> loadable_elsewhere(os.path.join), loadable_elsewhere(lambda x: x)
        (True, False)
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return False
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is fn


def _describe(fn: types.FunctionType) -> str:
    where = "a lambda" if fn.__name__ == "<lambda>" else f"{fn.__qualname__!r}"
    return f"{where} defined in {fn.__module__}"


class UnsavedCallable:
    """Stands, in a saved model, for a function another process could not load (a metric callable defined in a
    script, a notebook, a lambda or inside another function): the model saves, loads and predicts everywhere, and
    only a call of that function raises :class:`~automl.exceptions.ModelFileError`, naming it and the fix. Before
    this, such a metric saved and then failed every load in another process (``mlflow models serve`` included) with
    pickle's ``AttributeError``, or failed the save itself (a lambda).

    Example:
        >>> UnsavedCallable("a lambda defined in __main__")(1, 2)
        Traceback (most recent call last):
        ...
        automl.exceptions.ModelFileError: a lambda defined in __main__ was not saved with this model ...
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ModelFileError(f"{self.text} was not saved with this model (another process cannot load a function "
                             "defined in a script, a notebook, a lambda or inside another function); define it in a "
                             "module you import before fitting, or score with one of automl's metric names")

    def __repr__(self) -> str:
        return f"<not saved: {self.text}>"


class ReadIterator:
    """Stands, in a pickled or saved estimator, for a setting given as a one-shot iterator (a generator, ``map``)
    that the fit read: pickle refuses iterators, and read once, it holds nothing more. Reading it again (a clone's
    fit) raises :class:`~automl.exceptions.ModelFileError` with the fix.

    Example:
        >>> list(ReadIterator("families"))
        Traceback (most recent call last):
        ...
        automl.exceptions.ModelFileError: families was given as an iterator, read by the fit and not kept ...
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __iter__(self) -> Any:
        raise ModelFileError(f"{self.name} was given as an iterator, read by the fit and not kept with the model; "
                             f"set_params({self.name}=...) with a list before fitting again")

    def __repr__(self) -> str:
        return f"<{self.name}: an iterator, read by the fit>"


def picklable_setting(name: str, value: Any, read: Any = None) -> Any:
    """``value`` (a setting as it was given) in a form pickle takes, for a fitted estimator's state: a mapping
    proxy as a dict, a dict view as a list, a one-shot iterator as ``read`` (what the fit read from it, e.g. the
    ``(train, test)`` pairs of ``cv``) or else a :class:`ReadIterator`; anything else as it is.

    Example:
        >>> import types
        >>> picklable_setting("search_space", types.MappingProxyType({"linear": {}}))
        {'linear': {}}
        >>> picklable_setting("families", {"linear": 1}.keys()), picklable_setting("families", iter(["knn"]))
        (['linear'], <families: an iterator, read by the fit>)
    """
    if isinstance(value, types.MappingProxyType):
        return {k: picklable_setting(name, v) for k, v in value.items()}
    if isinstance(value, KeysView | ValuesView | ItemsView) and not isinstance(value, Mapping):
        return list(value)
    if isinstance(value, Iterator):
        return read if read is not None else ReadIterator(name)
    return value


class _Pickler(pickle.Pickler):
    """Pickles everything but torch tensors and LightGBM boosters, which go to their own files."""

    def __init__(self, file: io.BufferedWriter, folder: Path) -> None:
        super().__init__(file, protocol=5)
        self.folder = folder
        self.tensors: dict[str, Any] = {}
        self.boosters: list[str] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType) and not loadable_elsewhere(obj):
            return UnsavedCallable, (_describe(obj),)
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            key = f"t{len(self.tensors)}"
            self.tensors[key] = obj.detach().cpu().contiguous().clone()
            return _tensor, (key, isinstance(obj, torch.nn.Parameter), bool(obj.requires_grad))
        lightgbm = sys.modules.get("lightgbm")
        if lightgbm is not None and isinstance(obj, lightgbm.Booster):
            name = f"{BOOSTER_DIR}/booster_{len(self.boosters)}.txt"
            (self.folder / BOOSTER_DIR).mkdir(exist_ok=True)
            (self.folder / name).write_text(obj.model_to_string(num_iteration=-1), encoding="utf-8")
            self.boosters.append(name)
            state = obj.__getstate__()
            state.pop("_handle", None)
            return _booster, (name,), state
        return NotImplemented


def dump(obj: Any, folder: str | Path) -> list[str]:
    """Write ``obj`` into ``folder``; return the names of the files written (relative, ``/``-separated)."""
    folder = Path(folder)
    with open(folder / PICKLE_FILE, "wb") as handle:
        pickler = _Pickler(handle, folder)
        pickler.dump(obj)
    files = [PICKLE_FILE, *pickler.boosters]
    if pickler.tensors:
        import torch

        torch.save(pickler.tensors, folder / WEIGHTS_FILE)
        files.append(WEIGHTS_FILE)
    return files


def load(folder: str | Path, allowed: set[str]) -> Any:
    """Read what :func:`dump` wrote; only files named in ``allowed`` (already verified) are opened."""
    folder = Path(folder)
    return load_files({name: (folder / name).read_bytes() for name in allowed})


def load_files(files: Mapping[str, bytes]) -> Any:
    """Rebuild what :func:`dump` wrote from the bytes of its files (already verified), by name.

    Nothing is read from the disk: the bytes that were hashed are the bytes that are loaded.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> names = dump({"a": 1}, folder)
        >>> load_files({name: (folder / name).read_bytes() for name in names})
        {'a': 1}
    """
    token = _LOADING.set({"allowed": set(files), "files": dict(files), "tensors": None})
    try:
        return pickle.load(io.BytesIO(files[PICKLE_FILE]))
    finally:
        _LOADING.reset(token)


def _read(state: dict[str, Any], name: str) -> bytes:
    """The verified bytes of one part (a copy: the caller's mapping is not handed out)."""
    return bytes(state["files"][name])


def _state(name: str) -> dict[str, Any]:
    state = _LOADING.get()
    if state is None:
        raise pickle.UnpicklingError("automl model parts can only be loaded through automl.load")
    if name not in state["allowed"]:
        raise ModelFileError(f"the model refers to {name!r}, which its manifest does not list: the folder was changed "
                             "after it was saved (its manifest.json edited); save the model again")
    return state


def _tensor(key: str, parameter: bool, requires_grad: bool) -> Any:
    """Rebuild one tensor from ``weights.pt`` (read once, with ``weights_only=True``)."""
    import torch

    state = _state(WEIGHTS_FILE)
    if state["tensors"] is None:
        state["tensors"] = torch.load(io.BytesIO(_read(state, WEIGHTS_FILE)), map_location="cpu", weights_only=True)
    tensor = state["tensors"][key]
    if parameter:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad) if tensor.is_floating_point() else tensor


def _booster(name: str) -> Any:
    """Rebuild one LightGBM booster from its text model file."""
    import lightgbm

    state = _state(name)
    return lightgbm.Booster(model_str=_read(state, name).decode("utf-8"))


def loading_error(folder: Any, versions: Mapping[str, str], exc: BaseException) -> BaseException:
    """What to raise when unpickling a model in ``folder`` raised ``exc``: a module missing here (a package the fit
    recorded in ``versions``, named with the version to install, or the user's own code), or a class pickle cannot
    find (one defined in the fitting script's ``__main__``); ``exc`` itself otherwise.

    Example:
        >>> str(loading_error("m", {"lightgbm": "4.6.0"}, ModuleNotFoundError("x", name="lightgbm")))[-41:]
        'install it: pip install "lightgbm==4.6.0"'
    """
    from automl.exceptions import FamilyUnavailableError

    if isinstance(exc, AttributeError):
        if "Can't get attribute" not in str(exc):
            return exc
        return FamilyUnavailableError(
            f"the model in {folder} holds an object of a class or function this process does not define ({exc}); a "
            "class defined in the script that fitted (its __main__) cannot be loaded elsewhere: define it in a module "
            "that both import")
    if not isinstance(exc, ModuleNotFoundError):
        return exc
    module = (exc.name or str(exc)).partition(".")[0]
    package = {"sklearn": "scikit-learn"}.get(module, module)
    saved = versions.get(package)
    if saved is None:  # not a package the fit recorded: the user's own code, whose name may be no package on PyPI
        return FamilyUnavailableError(f"the model in {folder} needs the module {module!r}, which cannot be imported "
                                      f"here ({exc}); make it importable (its package installed, or its folder on "
                                      "PYTHONPATH) where the model is loaded")
    return FamilyUnavailableError(f"the model in {folder} needs the module {module!r}, which cannot be imported here "
                                  f"({exc}); install it: pip install \"{package}=={saved}\"")
