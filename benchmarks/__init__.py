"""Benchmarks for automl: accuracy against peers, import start-up time, per-trial overhead."""
