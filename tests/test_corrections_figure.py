"""The corrections figure's evidence can fail on its own numbers (experiments/figures/corrections.py).

- The Monte-Carlo check fails when the exact final loss it is compared with is off (a rollout whose variances are
  5% high: a wrong coefficient in a rule's moments), at the figure's own number of runs.
- The finite-difference check fails when one meta-gradient entry is off by 1e-3 relative (a dropped or mis-scaled
  tangent term in numeric/nqm/trace.py or pes.py).
- The conclusions follow the numbers: another ordering gives another sentence.
"""
import numpy as np
import pytest

from shb.experiments.figures import corrections as fig
from shb.numeric.nqm import corrections


@pytest.fixture(scope="module")
def tiny():
    cfg = fig.TINY
    problem = fig.problem_of(cfg)
    settings = fig.settings(cfg, {f"trace lambda={f:g}": 0.03 for f in cfg["forgets"]} | {"PES (expected)": 0.1})
    settings["pieces"] = ()
    return cfg, problem, corrections.run(fig.HEAVY_BALL, problem, cfg["T"], settings)


def test_the_montecarlo_check_passes_and_fails_on_a_wrong_variance(tiny, monkeypatch):
    cfg, problem, results = tiny
    runs = 2000
    assert fig.montecarlo_check(problem, results, runs, 0)["passed"]
    rollout = fig.HEAVY_BALL.rollout

    def wrong(problem, alpha, mu):
        out = dict(rollout(problem, alpha, mu))
        out["var_theta"] = 1.05 * out["var_theta"]
        return out

    monkeypatch.setattr(type(fig.HEAVY_BALL), "rollout", lambda self, *a: wrong(*a))
    assert not fig.montecarlo_check(problem, results, runs, 0)["passed"]


def test_the_gradient_check_fails_on_a_meta_gradient_off_by_a_thousandth(tiny):
    cfg, problem, results = tiny
    assert fig.gradient_check(problem, results, cfg)["passed"]
    name = "trace lambda=0.9"
    bad = {**results, name: {**results[name], "meta_gradient": results[name]["meta_gradient"] * (1 + 1e-3)}}
    assert not fig.gradient_check(problem, bad, cfg)["passed"]


def test_the_conclusions_name_the_remedy_the_numbers_favour():
    regrets = {"greedy": 4.0, "optimized": 1.0, "trace lambda=0": 2.0, "PES (expected)": 3.0, "4 pieces": 1.1}
    grid = {"greedy": np.array([[2.0]]), "trace lambda=0": np.array([[1.1]]), "PES (expected)": np.array([[np.inf]])}
    cfg = {"atlas": {"kappas": (10.0,), "noises": (1.0,)}}
    texts = [c["text"] for c in fig.claims(regrets, corrections.removed(regrets), grid, cfg)]
    assert "is trace lambda=0" in texts[0] and "67%" in texts[0]
    assert "PES (expected) diverged at (kappa 10, s 1)" in texts[-1]
    regrets = {**regrets, "PES (expected)": 1.5}
    assert "is PES (expected)" in fig.claims(regrets, corrections.removed(regrets), grid, cfg)[0]["text"]
