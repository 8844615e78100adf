"""One fit as a straight pipeline of stages, each a function from one value to the next.

settings (:mod:`automl.config`) → :class:`~automl._fit.problem.Problem` (validated data, task,
metric, families, spaces, folds) → :class:`~automl.search.SearchOutcome` (the study) →
:class:`~automl._fit.refit.FinalModel` (the refitted best trial, or the ensemble) →
:class:`~automl.fit_report.FitReport` (the leaderboard and fitted attributes) → tracking.
:mod:`automl._fit.run` runs them under one :class:`~automl.search.budget.Budget`; nothing
calls back up into the estimators.
"""
