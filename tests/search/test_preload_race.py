"""A model's package imported on a background thread (the refit's preload) while its result is unpickled here.

LightGBM's ``__init__`` imports its submodules; unpickling a ``lightgbm.basic.Booster`` imports ``lightgbm.basic``
first. The two threads then wait on each other's module lock, and Python raises ``_DeadlockError`` in one: a refit
on a 5 s budget failed with "KeyError: 'lightgbm'". A package of the same shape reproduces it at will.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import pickle, sys, time
    sys.path.insert(0, sys.argv[1])
    from automl.search import preload as worker_pool

    data = sys.argv[2].encode("latin-1")
    worker_pool.preload_modules(["slowpkg"])
    time.sleep(0.1)  # the preload holds slowpkg's lock, asleep in its __init__ before importing slowpkg.part
    try:
        value = worker_pool.loads_preloaded(data) if sys.argv[3] == "wait" else pickle.loads(data)
        print("ok", type(value).__name__)
    except Exception as exc:
        print("failed", type(exc).__name__, exc)
""")


def _run(tmp_path, mode: str) -> str:
    package = tmp_path / "slowpkg"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("import time\ntime.sleep(1.0)\nfrom slowpkg.part import Thing\n")
    (package / "part.py").write_text("import slowpkg\n\nclass Thing:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from slowpkg.part import Thing

        data = pickle.dumps(Thing(), protocol=0).decode("latin-1")
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("slowpkg", "slowpkg.part"):
            sys.modules.pop(name, None)
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), data, mode], capture_output=True, text=True,
                          timeout=60)
    return done.stdout.strip() + done.stderr[-500:]


def test_a_result_unpickled_while_its_package_is_being_preloaded_waits_for_the_preload(tmp_path):
    assert _run(tmp_path, "wait") == "ok Thing"


def test_the_race_is_real_without_the_wait(tmp_path):
    """The shape above deadlocks when the result does not wait (the test that fails without the fix)."""
    assert _run(tmp_path, "plain").startswith("failed")
