"""Both estimators under scikit-learn's own estimator checks (``parametrize_with_checks``), with fast settings.

Every check that fails is listed in ``EXPECTED`` with the reason: each is a rule of automl's input
validation that scikit-learn's generic checks do not share (documented in the README), or a
property a cross-validated search cannot have. A check that starts to pass, or a new failure,
fails this test.
"""

from __future__ import annotations

from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

import automl

#: Fast settings: one linear trial, in this process, two folds that do not need two rows per class.
FAST = dict(n_trials=1, families=["linear"], cv=KFold(2, shuffle=True, random_state=0), tracking=False,
            isolation="none", ensemble=False, n_jobs=1)

ONLY_FRAMES_AND_ARRAYS = ("X must be a pandas DataFrame or a 2-D numpy array: lists and other array-likes are "
                          "refused with InputTypeError (a TypeError), as they always were")
STRING_COLUMNS = "column names must be strings: a frame with integer column names is refused (DataValidationError)"
EXPECTED_COMMON = {
    "check_sample_weights_pandas_series": STRING_COLUMNS,
    "check_sample_weights_not_an_array": ONLY_FRAMES_AND_ARRAYS,
    "check_sample_weight_equivalence_on_dense_data": (
        "weights are not repetitions under cross-validation: a row repeated twice lands in both a training and a "
        "validation part, a row of weight 2 in one of them, so the searches differ"),
    "check_fit2d_predict1d": "a 1-D X is refused with InputTypeError (a TypeError), not a ValueError",
    "check_fit1d": "a 1-D X is refused with InputTypeError (a TypeError), not a ValueError",
}
EXPECTED = {
    "AutoMLClassifier": {
        **EXPECTED_COMMON,
        "check_classifier_data_not_an_array": ONLY_FRAMES_AND_ARRAYS,
        "check_classifiers_train": f"predicts on X.tolist(): {ONLY_FRAMES_AND_ARRAYS}",
    },
    "AutoMLRegressor": {
        **EXPECTED_COMMON,
        "check_regressor_data_not_an_array": ONLY_FRAMES_AND_ARRAYS,
        "check_regressors_train": f"predicts on X.tolist(): {ONLY_FRAMES_AND_ARRAYS}",
        "check_dtype_object": "a regression target of dtype object is refused: convert it to numbers",
        "check_fit2d_1sample": "one row cannot be split into two folds: refused before the search (DataValidationError)",
    },
}


@parametrize_with_checks([automl.AutoMLClassifier(**FAST), automl.AutoMLRegressor(**FAST)],
                         expected_failed_checks=lambda estimator: EXPECTED[type(estimator).__name__])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
