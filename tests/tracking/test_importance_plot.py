"""The parameter-importance plot says when too few trials used a parameter, and measures a conditional
parameter only where it was suggested."""

from __future__ import annotations

import optuna
from matplotlib.text import Annotation

from automl.spaces import load_builtin_space
from automl.tracking import plots


def _bars(fig):
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.get_yticklabels()]
    patches = ax.patches
    labels = [t.get_text() for t in ax.texts if isinstance(t, Annotation)]  # the bar labels, bottom up
    notes = "\n".join([ax.get_xlabel()] + [t.get_text() for t in ax.texts if not isinstance(t, Annotation)])
    return {name: (bar.get_hatch(), label) for name, bar, label in zip(names, patches, labels)}, notes


def _study_from_space(n, seed=0):
    """``n`` trials of the built-in torch_mlp space, scored by the learning rate alone."""
    space = load_builtin_space("torch_mlp")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(n):
        trial = study.ask({"family": optuna.distributions.CategoricalDistribution(["torch_mlp"])})
        params = space.suggest(trial)
        study.tell(trial, -abs(params["learning_rate"] - 3e-3))
    return study


def test_a_parameter_used_by_few_trials_is_hatched_and_the_plot_says_so():
    trials = _study_from_space(80).trials
    study = optuna.create_study(direction="maximize")
    for t in [t for t in trials if t.params["torch_mlp__optimizer"] == "adamw"][:26] + [
            t for t in trials if t.params["torch_mlp__optimizer"] == "sgd"][:4]:
        study.add_trial(t)
    sgd = 4
    bars, notes = _bars(plots.param_importance(study, top=30))
    assert bars["torch_mlp__momentum"][0] == "///" and bars["torch_mlp__momentum"][1].endswith(f"(n={sgd})")
    assert bars["torch_mlp__learning_rate"][0] in (None, "") and bars["torch_mlp__learning_rate"][1].endswith("(n=30)")
    assert f"used by fewer than {plots.MIN_IMPORTANCE_TRIALS} complete trials" in notes
    assert list(bars)[0] == "torch_mlp__momentum"  # listed last (at the bottom) however large its importance


def test_two_adamw_trials_rank_no_momentum():
    # The report: two trials, both AdamW. Momentum is not suggested to an AdamW trial, so it is not ranked;
    # the parameters two trials did use are drawn hatched, with the note.
    study = _study_from_space(40, seed=3)
    adamw = [t for t in study.trials if t.params["torch_mlp__optimizer"] == "adamw"][:2]
    two = optuna.create_study(direction="maximize")
    for t in adamw:
        two.add_trial(t)
    assert all("torch_mlp__momentum" not in t.params for t in two.trials)
    bars, notes = _bars(plots.param_importance(two, top=30))
    assert "torch_mlp__momentum" not in bars and "torch_mlp__optimizer" not in bars  # absent / a single value
    assert all(hatch == "///" for hatch, _ in bars.values())
    assert "too few" in notes and "single value" in notes
