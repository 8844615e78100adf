"""Device settings and accelerator memory, without importing torch.

The search and the settings check need these, and must stay light: torch is only
looked up in ``sys.modules`` here, never imported.

Example:
    >>> device_problems("cpu")
    []
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import sys
from collections.abc import Sequence

__all__ = ["DEVICE_PATTERN", "device_problems", "free_accelerator_memory", "gpu_ruled_out", "missing_cuda_problems"]

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


def missing_cuda_problems(device: object, nets: Sequence[str]) -> list[str]:
    """``device='cuda'`` (or ``'cuda:N'``) for a search with nets on a machine without a CUDA driver: every net trial
    would fail, so the setting is refused before the search (found without importing torch; with a driver present,
    torch decides in the trial).

    Example:
        >>> missing_cuda_problems("cpu", ["torch_mlp"]), missing_cuda_problems("cuda", [])
        ([], [])
    """
    if not nets or not isinstance(device, str) or not device.startswith("cuda") or not gpu_ruled_out():
        return []
    return [f"device={device!r}, but this machine has no CUDA driver (libcuda), so every trial of {', '.join(nets)} "
            "would fail; use device='auto' (the CPU here) or 'cpu', or leave the nets out of families="]


def gpu_ruled_out() -> bool:
    """True when no driver that torch's CUDA (or ROCm) could use is on this machine, found without torch.

    ``torch.cuda.is_available()`` costs an ``import torch`` (about 1.6 s on one core, before the
    first trial starts), only to learn on most machines that there is no GPU. It needs NVIDIA's
    driver library (``libcuda``, ``nvcuda.dll``) or AMD's kernel driver (``/dev/kfd``), so without
    them the answer is known. False means "ask torch": a driver may still have no usable device.

    Example:
        >>> isinstance(gpu_ruled_out(), bool)
        True
    """
    if sys.platform == "darwin":
        return True  # no CUDA on macOS (MPS is asked for separately)
    if os.path.exists("/dev/kfd"):
        return False  # ROCm: torch's "cuda" runs on AMD's driver
    for library in ("nvcuda.dll",) if sys.platform == "win32" else ("libcuda.so.1", "libcuda.so"):
        try:
            ctypes.CDLL(library)
        except OSError:
            continue
        return False
    return True


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
