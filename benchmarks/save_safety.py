"""Saving under failure and concurrency (issue 18, item 4), measured from the outside: every actor is its own process.

Two tiny regressors A and B (``automl.fit(df, target="y", n_trials=1, families=["linear"], cv=2,
ensemble=False, isolation="none")`` on 60 rows, y = +3x and y = -3x) are fitted once and saved. Then:

* ``concurrent readers``: K reader processes loop ``automl.load(path).predict(X)`` while a writer
  process re-saves A and B alternately to ``path`` (``overwrite=True``) N times. Counted per load:
  failed (any exception) or wrong (predictions neither A's nor B's, a mixed folder).
* ``failed final rename``: a process saves A, then re-saves B with the final move made to fail
  (``EIO`` injected into ``renameat2``'s exchange and into ``os.rename`` / ``os.replace`` onto the
  path); a fresh process then loads the path: is it still A? Staging folders left beside it are counted.
* ``two writers``: R rounds; in each, two processes meet at a file barrier and both save (no
  overwrite) to the same new path. Counted: saves that reported success, typed errors
  (``InvalidParameterError``), and whether the folder then holds the reported winner intact.

``--code DIR`` runs another checkout's ``automl`` (the children's ``PYTHONPATH``), e.g. the code before a fix.

    python -m benchmarks.save_safety [--readers 2] [--saves 30] [--rounds 5] [--code DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.tasks import REPO_ROOT

_FIT = """
import sys, numpy as np, pandas as pd, automl
root = sys.argv[1]
print(automl.__file__)
def frame(sign):
    rng = np.random.default_rng(0); x = rng.normal(size=60)
    return pd.DataFrame({"x": x, "z": rng.normal(size=60), "y": sign * 3 * x + 1 + rng.normal(0, 0.1, 60)})
X = frame(1.0).drop(columns="y").head(10); X.to_pickle(f"{root}/X.pkl")
preds = []
for name, sign in (("a", 1.0), ("b", -1.0)):
    m = automl.fit(frame(sign), target="y", n_trials=1, families=["linear"], cv=2, ensemble=False,
                   isolation="none", n_jobs=1, tracking=False)
    m.save(f"{root}/src-{name}"); preds.append(m.predict(X))
np.save(f"{root}/expected.npy", np.stack(preds))
"""

_READER = """
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd, automl
root, me = Path(sys.argv[1]), sys.argv[2]
X, expected = pd.read_pickle(root / "X.pkl"), np.load(root / "expected.npy")
automl.load(root / "src-a").predict(X)  # imports done before the race
(root / f"ready-{me}").write_text("")
attempts = failed = wrong = 0; first = None; ends = time.time() + 120
while not (root / "stop").exists() and time.time() < ends:
    attempts += 1
    try:
        p = automl.load(root / "target").predict(X)
        wrong += not any(np.allclose(p, e) for e in expected)
    except Exception as exc:
        failed += 1; first = first or f"{type(exc).__name__}: {str(exc)[:160]}"
print(json.dumps({"attempts": attempts, "failed": failed, "wrong": wrong, "first_error": first}))
"""

_SAVER = """
import sys, time
from pathlib import Path
import automl
root, saves, readers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
models = [automl.load(root / "src-a"), automl.load(root / "src-b")]
while sum((root / f"ready-{i}").exists() for i in range(readers)) < readers:
    time.sleep(0.01)
start = time.time()
for i in range(saves):
    models[(i + 1) % 2].save(root / "target", overwrite=True)
print(f"{saves / (time.time() - start):.1f}")
"""

_FAIL = """
import errno, os, sys
from pathlib import Path
import automl
root = Path(sys.argv[1]); target = root / "target"
a, b = automl.load(root / "src-a"), automl.load(root / "src-b")
a.save(target)
def failing(real):
    def move(src, dst, *args, **kwargs):
        if Path(dst) == target and Path(src).parent == root:
            raise OSError(errno.EIO, "injected failure of the final rename", str(dst))
        return real(src, dst, *args, **kwargs)
    return move
os.rename, os.replace = failing(os.rename), failing(os.replace)
try:
    from automl import _folder_swap
    real2 = _folder_swap._rename2
    def rename2(src, dst, flags):
        if flags == _folder_swap.RENAME_EXCHANGE and Path(dst) == target:
            raise OSError(errno.EIO, "injected failure of the final rename", str(dst))
        return real2(src, dst, flags)
    _folder_swap._rename2 = rename2
except ImportError:
    pass
try:
    b.save(target, overwrite=True); print("saved")
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
"""

_CHECK = """
import sys, numpy as np, pandas as pd, automl
from pathlib import Path
root = Path(sys.argv[1]); X, expected = pd.read_pickle(root / "X.pkl"), np.load(root / "expected.npy")
for name in sys.argv[2:]:
    try:
        p = automl.load(root / name).predict(X)
        print("a" if np.allclose(p, expected[0]) else "b" if np.allclose(p, expected[1]) else "mixed")
    except Exception as exc:
        print(f"unloadable ({type(exc).__name__})")
"""

_WRITER = """
import sys, time
from pathlib import Path
import automl
root, me, other, rounds = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
model = automl.load(root / f"src-{me}")
for r in range(rounds):
    (root / f"w-{me}-{r}").write_text("")
    while not (root / f"w-{other}-{r}").exists():
        time.sleep(0.0005)
    try:
        model.save(root / f"new-{r}"); print(r, "saved", flush=True)
    except automl.InvalidParameterError:
        print(r, "typed", flush=True)
    except Exception as exc:
        print(r, "untyped", type(exc).__name__, flush=True)
"""


def _spawn(code: str, *args: object, env: dict[str, str]) -> subprocess.Popen:
    # cwd: the checkout under test, which ``python -c`` puts first on sys.path
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, cwd=env["PYTHONPATH"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _out(proc: subprocess.Popen, timeout: float = 180) -> str:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {err[-2000:]}")
    return out.strip()


def _readers(root: Path, k: int, saves: int, env: dict[str, str]) -> dict:
    shutil.copytree(root / "src-a", root / "target")  # model A is there before the readers start
    readers = [_spawn(_READER, root, i, env=env) for i in range(k)]
    saver = _spawn(_SAVER, root, saves, k, env=env)
    rate = float(_out(saver))
    (root / "stop").write_text("")
    results = [json.loads(_out(r).splitlines()[-1]) for r in readers]
    return {"saves": saves, "saves_per_s": rate, "attempts": sum(r["attempts"] for r in results),
            "failed": sum(r["failed"] for r in results), "wrong": sum(r["wrong"] for r in results),
            "first_error": next((r["first_error"] for r in results if r["first_error"]), None)}


def _failed_rename(root: Path, env: dict[str, str]) -> dict:
    outcome = _out(_spawn(_FAIL, root, env=env)).splitlines()[-1]
    loaded = _out(_spawn(_CHECK, root, "target", env=env)).splitlines()[-1]
    left = [p.name for p in root.iterdir() if p.name.startswith(".")]
    return {"save": outcome[:120], "after": loaded, "old_model_loadable": loaded == "a", "leftovers": len(left)}


def _two_writers(root: Path, rounds: int, env: dict[str, str]) -> dict:
    procs = [_spawn(_WRITER, root, "a", "b", rounds, env=env), _spawn(_WRITER, root, "b", "a", rounds, env=env)]
    lines = [dict(line.split(" ", 1) for line in _out(p).splitlines()) for p in procs]
    found = _out(_spawn(_CHECK, root, *[f"new-{r}" for r in range(rounds)], env=env)).splitlines()
    saved = typed = untyped = intact = 0
    for r in range(rounds):
        outcomes = [lines[0].get(str(r), "?"), lines[1].get(str(r), "?")]
        saved += outcomes.count("saved")
        typed += outcomes.count("typed")
        untyped += sum(o.startswith("untyped") for o in outcomes)
        winner = "a" if outcomes[0] == "saved" else "b"
        intact += outcomes.count("saved") == 1 and found[r] == winner
    return {"rounds": rounds, "saved": saved, "typed": typed, "untyped": untyped, "intact_with_one_winner": intact}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--code", default=str(REPO_ROOT), help="the checkout whose automl the children import")
    args = parser.parse_args(argv)
    env = {**os.environ, "AUTOML_TRACKING": "0", "PYTHONPATH": str(Path(args.code).resolve()),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="automl-save-safety-") as tmp:
        base = Path(tmp)
        code = _out(_spawn(_FIT, base, env=env)).splitlines()[-1]
        rows = {}
        for name, run in (("readers", lambda r: _readers(r, args.readers, args.saves, env)),
                          ("rename", lambda r: _failed_rename(r, env)),
                          ("writers", lambda r: _two_writers(r, args.rounds, env))):
            root = base / name
            root.mkdir()
            for item in ("src-a", "src-b"):
                shutil.copytree(base / item, root / item)
            for item in ("X.pkl", "expected.npy"):
                shutil.copy(base / item, root / item)
            rows[name] = run(root)
    r, f, w = rows["readers"], rows["rename"], rows["writers"]
    print(f"automl: {code}  ({time.time() - start:.0f} s)\n")
    print("| check | result |\n|---|---|")
    print(f"| concurrent readers: {args.readers} readers, {r['saves']} re-saves ({r['saves_per_s']} /s) | "
          f"{r['attempts']} loads, {r['failed']} failed, {r['wrong']} mixed |")
    print(f"| failed final rename: old model loadable | {'yes' if f['old_model_loadable'] else 'no'} "
          f"(load gives {f['after']}; {f['leftovers']} staging folders left) |")
    print(f"| two writers to one new path, {w['rounds']} rounds | {w['saved']} saved, {w['typed']} typed errors, "
          f"{w['untyped']} untyped, folder holds the one winner intact in {w['intact_with_one_winner']}/{w['rounds']} |")
    if r["first_error"]:
        print(f"\nfirst reader error: {r['first_error']}")
    print(f"failed save said: {f['save']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
