"""A metric callable defined in a script (``__main__``), as a lambda, or inside a function: the model it scored still
saves, logs to MLflow and loads in another process; only that metric is missing there, named with its fix.

Before, a lambda failed the save (pickle's ``PicklingError``) and marked the tracked run FAILED, and a function of
the script saved but every load in another process failed with pickle's ``AttributeError``. The fit runs in a real
script here, so its functions really live in ``__main__``, and the loads happen in this other process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import automl
from automl.exceptions import ModelFileError
from automl.model_files import UnsavedCallable, loadable_elsewhere

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import automl
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame

    def neg_mae(y, p):
        return -float(np.mean(np.abs(y - p)))

    def nested():
        def neg_max(y, p):
            return -float(np.max(np.abs(y - p)))
        return neg_max

    out, uri = sys.argv[1], sys.argv[2]
    for name, metric in (("script", neg_mae), ("lambda", lambda y, p: -float(np.mean((y - p) ** 2))),
                         ("nested", nested())):
        model = automl.fit(frame, target="target", n_trials=2, families=["linear"], cv=2, metric=metric,
                           tracking=name == "lambda", tracking_uri=uri)
        model.save(f"{out}/{name}")
        if name == "lambda":
            print("RUN", model.tracking_run_id_, model.model_uri_)
''')


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("unsaved")
    (root / "fit_script.py").write_text(SCRIPT)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    done = subprocess.run([sys.executable, str(root / "fit_script.py"), str(root), uri], cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id, model_uri = next(line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RUN "))
    return root, uri, run_id, model_uri


@pytest.mark.parametrize("name,shown", [("script", "'neg_mae' defined in __main__"),
                                        ("lambda", "a lambda defined in __main__"),
                                        ("nested", "'nested.<locals>.neg_max' defined in __main__")])
def test_a_model_scored_by_an_unloadable_metric_loads_and_predicts_in_another_process(fitted, name, shown):
    from sklearn.datasets import load_diabetes

    root = fitted[0]
    frame = load_diabetes(as_frame=True).frame
    model = automl.load(root / name)
    assert model.predict(frame).shape == (len(frame),)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = model.evaluate(frame)
    assert np.isnan(values[model.metric_.name]) and values["rmse"] > 0 and values["r2"] > 0.3
    assert any(shown in str(w.message) and "define it in a module" in str(w.message) for w in caught)
    with pytest.raises(ModelFileError, match="define it in a module you import before fitting"):
        model.score(frame)


def test_the_tracked_run_of_a_lambda_metric_finishes_and_its_logged_model_serves_in_another_process(fitted,
                                                                                                    monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_diabetes

    _, uri, run_id, model_uri = fitted
    assert MlflowClient(uri).get_run(run_id).info.status == "FINISHED"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # not mlflow.set_tracking_uri: it would outlive this test
    frame = load_diabetes(as_frame=True).frame.drop(columns="target")
    predictions = mlflow.pyfunc.load_model(model_uri).predict(frame.head(5))
    assert np.asarray(predictions).shape[0] == 5


def test_only_functions_another_process_cannot_import_are_left_out():
    import os.path

    def local(y, p):
        return 0.0

    assert loadable_elsewhere(os.path.join) and loadable_elsewhere(automl.load)
    assert not loadable_elsewhere(local) and not loadable_elsewhere(lambda y, p: 0.0)
    with pytest.raises(ModelFileError, match="a lambda defined in tests"):
        UnsavedCallable("a lambda defined in tests")()
