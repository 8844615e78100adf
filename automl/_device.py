"""Device settings and accelerator memory, without importing torch.

The search and the settings check need these, and must stay light: torch is only
looked up in ``sys.modules`` here, never imported.

Example:
    >>> device_problems("cpu")
    []
"""

from __future__ import annotations

import gc
import re
import sys

__all__ = ["DEVICE_PATTERN", "device_problems", "free_accelerator_memory"]

#: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def device_problems(device: object) -> list[str]:
    """Problems with a ``device=`` setting, found without importing torch.

    Example:
        >>> device_problems("cuda:0"), device_problems("gpu")
        ([], ["device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'gpu'; 'auto' picks CUDA, then MPS, then the CPU"])
    """
    if isinstance(device, str) and DEVICE_PATTERN.match(device):
        return []
    return [
        f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}; "
        "'auto' picks CUDA, then MPS, then the CPU"
    ]


def free_accelerator_memory() -> None:
    """Release cached GPU memory between trials (a no-op when torch was never imported).

    Example:
        >>> free_accelerator_memory()
    """
    torch = sys.modules.get("torch")
    if torch is None or getattr(getattr(torch, "__spec__", None), "_initializing", False):
        return  # never imported, or being imported by another thread (the refit's preload): nothing to free yet
    try:
        cuda = torch.cuda.is_available()
        mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    except AttributeError:  # a partly initialised torch (an import under way elsewhere)
        return
    if not (cuda or mps):
        return  # CPU memory is freed by reference counting; no collection pass needed
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    if mps:
        torch.mps.empty_cache()
