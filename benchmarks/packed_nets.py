"""Net configurations per minute: a pack of members trained as one model against the same ones one after another.

The part ``packed`` of ``python -m benchmarks.nets``. For each family (``torch_mlp``, ``tabm``), ``members``
configurations of the family's default shape with their own learning rate and weight decay (drawn
log-uniform, seeded) are fitted on ``rows`` synthetic rows through a search fold's own code path: one
after another with ``FamilyPipeline.fit``, and together with
``automl.families.packed_pipelines.fit_pipelines_packed``. Every member trains ``epochs`` epochs
(``patience=0``: equal work, early stopping off), with the usual validation split scored every epoch.
One untimed warm-up fit first (CUDA context, allocator). One-after-another fits are timed on the first
``alone_members`` configurations (at least 2) and given as configurations per minute, as is the pack.
With ``nvidia-smi``, GPU utilisation is sampled every 200 ms during each of the two.

Example (CPU, one core)::

    taskset -c 1 python -m benchmarks.nets --device cpu --parts packed --packed-rows 20000 --packed-epochs 2
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np


def _frame(rows: int, features: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype("float32")
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(features)]), y


def _configs(members: int, epochs: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"learning_rate": float(10 ** rng.uniform(-4, -2)), "weight_decay": float(10 ** rng.uniform(-6, -3)),
             "max_epochs": epochs, "patience": 0} for _ in range(members)]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _utilisation(samples: list[float]) -> float | None:
    return round(statistics.fmean(samples), 1) if samples else None


def packed(device: str, rows: int, features: int, members: int, epochs: int, alone_members: int,
           families: tuple[str, ...] = ("torch_mlp", "tabm"), sampler: Any = None) -> dict[str, Any]:
    """Configurations per minute, packed and one after another, per family (see the module docstring)."""
    from automl.families.packed_pipelines import fit_pipelines_packed
    from automl.families.pipeline import FamilyPipeline
    from automl.families.registry import available_families

    X, y = _frame(rows, features)
    configs = _configs(members, epochs)
    installed = set(available_families())
    out: dict[str, Any] = {"rows": rows, "features": features, "members": members, "epochs": epochs}

    def pipeline(params: dict[str, Any]) -> Any:
        return FamilyPipeline(family, params, task="binary", n_classes=2, device=device, seed=0, n_jobs=1)

    for family in families:
        if family not in installed:
            out[family] = {"skipped": "not installed"}
            continue
        pipeline({**configs[0], "max_epochs": 1}).fit(X, y)  # warm-up
        _sync(device)
        timed: dict[str, Any] = {}
        alone = configs[: max(2, min(alone_members, members))]
        runs = (("alone", lambda chosen=alone: [pipeline(c).fit(X, y) for c in chosen]),
                ("packed", lambda: fit_pipelines_packed([pipeline(c) for c in configs], X, y)))
        for name, run in runs:
            sampling = sampler() if sampler is not None else None
            started = time.perf_counter()
            if sampling is not None:
                with sampling:
                    run()
                    _sync(device)
            else:
                run()
                _sync(device)
            seconds = time.perf_counter() - started
            count = len(alone) if name == "alone" else members
            timed[name] = {"configs": count, "seconds": round(seconds, 2),
                           "configs_per_min": round(60 * count / seconds, 1),
                           "gpu_util_mean": _utilisation(sampling.samples) if sampling is not None else None}
        one = pipeline(configs[0]).fit(X, y).estimator_
        out[family] = {**timed, "parameters": int(sum(p.numel() for p in one.module_.parameters())),
                       "packed_over_alone": round(timed["packed"]["configs_per_min"]
                                                  / timed["alone"]["configs_per_min"], 2)}
    return out
