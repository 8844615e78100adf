"""Deep-net benchmarks: trainer throughput, packed trials, GPU utilisation in a sweep, digits CNN, GPU tests.

One command runs the five parts (on a CUDA machine, ``--device cuda``) and prints every figure:

    python -m benchmarks.nets --device cuda                      # GPU: all five parts
    python -m benchmarks.nets --parts throughput,digits --rows 200000 --digits-budget 120   # CPU

- ``throughput``: one epoch of the same MLP (``--width`` × 3 layers, batch ``--batch``, AdamW)
  over ``--rows`` × ``--features`` synthetic rows, with automl's resident-tensor trainer
  (``automl.families.torch_common.train``: the whole matrix on the device, batches sliced by
  index) and with a plain ``torch.utils.data.DataLoader`` over a ``TensorDataset`` on the CPU
  (shuffled, each batch copied to the device). Each is timed after one untimed warm-up epoch;
  rows per second and the ratio are printed.
- ``packed``: net configurations per minute, ``--packed-members`` of one shape trained as one pack
  against the same configurations one after another, through a search fold's code path, for
  ``torch_mlp`` and ``tabm`` (see :mod:`benchmarks.packed_nets`), with GPU utilisation during each.
- ``utilisation``: ``automl.fit`` with ``families=["torch_mlp"]`` (``pack_nets="auto"``: packs of 8 on CUDA) on ``--sweep-rows`` synthetic
  rows for ``--sweep-budget`` seconds while ``nvidia-smi`` samples GPU utilisation every 200 ms
  (mean, median, p90 of the samples; skipped without ``nvidia-smi``).
- ``digits``: ``automl.fit`` with ``families=["cnn"]`` on scikit-learn's digits (8×8), fixed
  80/20 split (``random_state=0``, stratified), ``time_budget=--digits-budget``; test accuracy,
  trials and wall time.
- ``gpu_tests``: the suite's ``gpu`` tests (``python -m pytest -m gpu tests``): summary and exit code.

Prints the figures and writes them as JSON to ``--out`` (default ``benchmarks/results/nets.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def _mlp(features: int, width: int, n_outputs: int = 1):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(features, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, width), torch.nn.ReLU(),
        torch.nn.Linear(width, n_outputs),
    )


def throughput(device_name: str, rows: int, features: int, width: int, batch: int) -> dict:
    """Rows per second of one epoch: resident-tensor trainer vs a DataLoader."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from automl.families.torch_common import TrainConfig, resolve_device, train

    device = resolve_device(device_name)
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(rows, features, generator=generator)
    y = (X[:, 0] > 0).float()
    loss_fn = lambda out, target: torch.nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), target)  # noqa: E731
    config = TrainConfig(batch_size=batch, max_epochs=1, patience=0)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def resident() -> float:
        started = time.perf_counter()
        train(lambda: _mlp(features, width), loss_fn, (X,), y, None, config, device, seed=0)
        sync()
        return time.perf_counter() - started

    def dataloader() -> float:
        started = time.perf_counter()
        torch.manual_seed(0)
        module = _mlp(features, width).to(device)
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
        loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True,
                            pin_memory=device.type == "cuda")
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else None
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            if autocast is not None:
                with autocast:
                    out = module(xb)
            else:
                out = module(xb)
            loss = loss_fn(out.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync()
        return time.perf_counter() - started

    results = {}
    for name, run in (("resident", resident), ("dataloader", dataloader)):
        run()  # warm-up: allocator, kernels, first-touch
        seconds = run()
        results[name] = {"epoch_s": round(seconds, 3), "rows_per_s": round(rows / seconds)}
    ratio = results["dataloader"]["epoch_s"] / results["resident"]["epoch_s"]
    return {"device": str(device), "rows": rows, "features": features, "width": width, "batch": batch,
            **results, "speedup_resident_over_dataloader": round(ratio, 2),
            "torch_threads": torch.get_num_threads()}


class _GpuSampler:
    """Samples ``nvidia-smi`` GPU utilisation every 200 ms in a background thread."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _GpuSampler:
        self._proc = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-lms", "200"],
            stdout=subprocess.PIPE, text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self.samples.append(float(line.strip().split(",")[0]))
            except ValueError:
                continue

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        self._proc.wait(timeout=10)


def utilisation(device_name: str, rows: int, budget: float) -> dict:
    """GPU utilisation while automl sweeps small nets."""
    import pandas as pd

    import automl

    if shutil.which("nvidia-smi") is None:
        return {"skipped": "nvidia-smi not found (no NVIDIA GPU)"}
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 50)).astype("float32")
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(50)]).assign(target=y)
    started = time.perf_counter()
    with _GpuSampler() as sampler:
        model = automl.fit(frame, target="target", families=["torch_mlp"], time_budget=budget, device=device_name,
                           tracking=False, n_jobs=-1)
    samples = sampler.samples
    board = model.leaderboard()
    return {
        "rows": rows, "budget_s": budget, "wall_s": round(time.perf_counter() - started, 1),
        "trials": len(board), "complete": int((board["state"] == "complete").sum()),
        "gpu_util_mean": round(statistics.fmean(samples), 1) if samples else None,
        "gpu_util_median": statistics.median(samples) if samples else None,
        "gpu_util_p90": float(np.percentile(samples, 90)) if samples else None,
        "samples": len(samples), "best_score": model.best_score_,
    }


def digits(device_name: str, budget: float) -> dict:
    """The CNN family alone on scikit-learn's digits at a time budget."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import automl

    data = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        data.images, data.target, test_size=0.2, random_state=0, stratify=data.target
    )
    started = time.perf_counter()
    model = automl.fit(X_train, target=y_train, families=["cnn"], time_budget=budget, device=device_name,
                       tracking=False, n_jobs=1)
    fitted = time.perf_counter()
    accuracy = float((model.predict(X_test) == y_test).mean())
    board = model.leaderboard()
    return {
        "budget_s": budget, "wall_s": round(fitted - started, 1), "test_accuracy": round(accuracy, 4),
        "trials": len(board), "complete": int((board["state"] == "complete").sum()),
        "cv_accuracy_best": round(float(board["accuracy_mean"].iloc[0]), 4), "best_trial": model.best_trial_,
        "refit_epochs": model.refit_params_.get("max_epochs"),
    }


def gpu_tests() -> dict:
    """The suite's ``gpu`` tests (skipped without CUDA): their pytest summary line and exit code."""
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:randomly", "tests"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"command": " ".join(command[2:]), "exit_code": done.returncode, "summary": lines[-1] if lines else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    parser.add_argument("--parts", default="throughput,packed,utilisation,digits,gpu_tests")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the throughput data (default 1M)")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--sweep-rows", type=int, default=200_000)
    parser.add_argument("--sweep-budget", type=float, default=120.0)
    parser.add_argument("--digits-budget", type=float, default=60.0)
    parser.add_argument("--packed-rows", type=int, default=100_000, help="rows of the packed part (default 100k)")
    parser.add_argument("--packed-members", type=int, default=16, help="configurations in the pack (default 16)")
    parser.add_argument("--packed-epochs", type=int, default=5)
    parser.add_argument("--packed-alone", type=int, default=4,
                        help="configurations timed one after another (default 4)")
    parser.add_argument("--out", default="benchmarks/results/nets.json")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    known = ("throughput", "packed", "utilisation", "digits", "gpu_tests")
    unknown = sorted(set(parts) - set(known))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose among {', '.join(known)}")
    import torch

    from automl.families.torch_common import resolve_device

    report: dict = {"python": sys.version.split()[0], "torch": torch.__version__,
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    if "throughput" in parts:
        report["throughput"] = throughput(args.device, args.rows, args.features, args.width, args.batch)
        print("throughput", json.dumps(report["throughput"]), flush=True)
    if "packed" in parts:
        from benchmarks.packed_nets import packed

        device = str(resolve_device(args.device))
        sampler = _GpuSampler if shutil.which("nvidia-smi") and device.startswith("cuda") else None
        report["packed"] = packed(device, args.packed_rows, args.features, args.packed_members, args.packed_epochs,
                                  args.packed_alone, sampler=sampler)
        print("packed", json.dumps(report["packed"]), flush=True)
    if "utilisation" in parts:
        report["utilisation"] = utilisation(args.device, args.sweep_rows, args.sweep_budget)
        print("utilisation", json.dumps(report["utilisation"]), flush=True)
    if "digits" in parts:
        report["digits"] = digits(args.device, args.digits_budget)
        print("digits", json.dumps(report["digits"]), flush=True)
    if "gpu_tests" in parts:
        report["gpu_tests"] = gpu_tests()
        print("gpu_tests", json.dumps(report["gpu_tests"]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
