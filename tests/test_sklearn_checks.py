"""Both estimators under scikit-learn's own estimator checks (``parametrize_with_checks``), with fast settings.

Every check that fails is listed in ``EXPECTED`` with the reason: a property of automl's models or of
``score`` that scikit-learn's generic checks do not share (documented in the README). Inputs are read
as scikit-learn reads them (lists, ``__array__``, integer column names, 1-D X refused with a
``ValueError``). A check that starts to pass, or a new failure, fails this test.
"""

from __future__ import annotations

from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

import automl

#: Fast settings: one linear trial, in this process, two folds that do not need two rows per class.
FAST = dict(n_trials=1, families=["linear"], cv=KFold(2, shuffle=True, random_state=0), tracking=False,
            isolation="none", ensemble=False, n_jobs=1)
#: The classifier's checks read the fitted model itself: its temperature (``calibrate="auto"``, fitted on the two
#: folds' out-of-fold rows) flattens the checks' near-random probabilities, which would hide what the weight check
#: is about (tests/test_calibration.py tests the scaled model).
CLASSIFIER = dict(FAST, calibrate=False)

WEIGHTS_ARE_NOT_REPETITIONS = (
    "the preprocessing (imputation, scaling) is fitted on the rows as given, without their weights, so a row of "
    "weight 2 and a row repeated twice give slightly different models (predictions differ by about 1e-3)")
EXPECTED = {
    "AutoMLClassifier": {
        "check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_NOT_REPETITIONS,
    },
    "AutoMLRegressor": {
        "check_sample_weight_equivalence_on_dense_data": WEIGHTS_ARE_NOT_REPETITIONS,
        "check_regressors_train": (
            "score() is the search metric, greater is better (-rmse by default, as scikit-learn's neg_* scorers), "
            "so that GridSearchCV ranks models by it; the check reads score() as R² and wants it above 0.5"),
    },
}


@parametrize_with_checks([automl.AutoMLClassifier(**CLASSIFIER), automl.AutoMLRegressor(**FAST)],
                         expected_failed_checks=lambda estimator: EXPECTED[type(estimator).__name__])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
