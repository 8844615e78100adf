"""The learning curves a trial reports: averaged over its folds, whatever the folds hold."""

from __future__ import annotations

import warnings

from automl.evaluation.cross_validation import average_curves


def test_a_step_no_fold_has_a_number_for_is_left_out_without_a_warning():
    """A booster's validation loss is NaN where its early-stopping rows all weigh 0 (sample weights mostly 0):
    numpy's "Mean of empty slice" used to leak from the average."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curves = average_curves([{"valid_loss": [float("nan"), 1.0, 3.0]}, {"valid_loss": [float("nan"), 2.0]}])
    assert curves == {"valid_loss": [(1, 1.5), (2, 3.0)]}
