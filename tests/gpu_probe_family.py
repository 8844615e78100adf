"""``gpu_probe_mlp``: the ``torch_mlp`` net, recording the CUDA memory allocated in its own process as each fit
starts, for the GPU tests (``tests/families/test_torch_gpu.py``). The trial worker imports it from this path
(``register_family("gpu_probe_mlp", "tests.gpu_probe_family:FAMILY")``) and appends one line per fit,
``pid allocated_bytes``, to the file named by the ``AUTOML_GPU_PROBE_FILE`` environment variable."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from automl.families.torch_mlp import FAMILY as MLP
from automl.families.torch_mlp import TabularNet

PROBE_FILE = "AUTOML_GPU_PROBE_FILE"


class ProbedNet(TabularNet):
    """``TabularNet`` that records the process's allocated CUDA memory before it trains."""

    def fit(self, X: Any, y: Any) -> ProbedNet:
        import torch

        allocated = 0
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            allocated = torch.cuda.memory_allocated()
        with open(os.environ[PROBE_FILE], "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {allocated}\n")
        return super().fit(X, y)


def _build(params: Any, context: Any) -> ProbedNet:
    estimator = MLP.build(params, context)
    return ProbedNet(**estimator.get_params())


FAMILY = dataclasses.replace(MLP, name="gpu_probe_mlp", build=_build, packable=False, searched_by_default=False,
                             search_space=dataclasses.replace(MLP.space(), family="gpu_probe_mlp"))
