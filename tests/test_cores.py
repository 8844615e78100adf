"""Cores: what ``n_jobs=-1`` means in a process limited to some cores, and the test runner's own rule (tests/cores.py)
that tests run one per core and an ``alone`` test runs with no other, checked with a real ``pytest -n 2``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Both tests take every core (under xdist each worker has one): the cores are read inside the test.
pytestmark = pytest.mark.alone


def _cores() -> list[int]:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        pytest.skip("needs CPU affinity and at least two cores")
    return cores


def _child(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_all_cores_is_the_cores_the_process_may_run_on_not_the_machines():
    cores = _cores()
    code = ("import os; from automl._fit.problem import resolve_n_jobs; {pin}"
            "print(resolve_n_jobs(-1), resolve_n_jobs(-2), resolve_n_jobs(3), os.cpu_count())")
    pinned = _child(code.format(pin=f"os.sched_setaffinity(0, {{{cores[0]}}}); "))
    free = _child(code.format(pin=""))
    assert pinned == f"1 1 3 {os.cpu_count()}"  # taskset -c 0: one thread, whatever the machine has
    assert free == f"{len(cores)} {max(1, len(cores) - 1)} 3 {os.cpu_count()}"


_INNER = textwrap.dedent('''
    import json, os, time
    import pytest

    def _record(name):
        start = time.monotonic()
        time.sleep(0.5)
        with open(os.environ["CORES_RECORD"], "a") as f:
            f.write(json.dumps({"name": name, "start": start, "end": time.monotonic(),
                                "cores": sorted(os.sched_getaffinity(0)),
                                "worker": os.environ.get("PYTEST_XDIST_WORKER")}) + "\\n")

    @pytest.mark.parametrize("i", range(8))
    def test_shared(i):
        _record(f"shared{i}")

    @pytest.mark.alone
    @pytest.mark.parametrize("i", range(3))
    def test_alone(i):
        _record(f"alone{i}")
''')


def test_under_xdist_each_worker_has_its_own_core_and_an_alone_test_runs_with_no_other_on_every_core(tmp_path):
    cores = _cores()
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's settings
    (tmp_path / "test_inner.py").write_text(_INNER)
    record = tmp_path / "record.jsonl"
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "CORES_RECORD": str(record), "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.cores", "-n", "2", "--dist", "load",
                          "-p", "no:cacheprovider", "test_inner.py"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(runs) == 11
    shared = [r for r in runs if r["name"].startswith("shared")]
    alone = [r for r in runs if r["name"].startswith("alone")]

    def overlap(a: dict, b: dict) -> bool:
        return a["start"] < b["end"] and b["start"] < a["end"]

    for test in alone:
        assert test["cores"] == cores  # every core
        assert not [o["name"] for o in runs if o is not test and overlap(test, o)]  # and nothing beside it
    cores_of = {r["worker"]: tuple(r["cores"]) for r in shared}
    assert all(len(cores) == 1 for cores in cores_of.values())
    assert len(cores_of) == 2 and len(set(cores_of.values())) == 2  # one core each, not the same one
    assert any(overlap(a, b) for a in shared for b in shared if a["worker"] != b["worker"])  # and in parallel
    assert not list((tmp_path / "tmp").glob("automl-tests-*"))  # the run's lock files are gone
