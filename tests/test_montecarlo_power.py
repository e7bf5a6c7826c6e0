"""numeric/nqm/montecarlo_power.py: the Monte-Carlo check's stated power is what it delivers, and its null holds.

The check states the smallest relative error in every mean and in every variance it detects with probability 0.99.
Here the sample moments are drawn from their exact sampling distribution (as tests/nqm/test_checks.py does) on a
200-coordinate piece of the paper preset, so hundreds of seeded repetitions are cheap: at the stated error the
check must fail in at least 99% of them (to binomial slack), at half of it in far fewer (the statement is not loose),
and with no error in nearly none (the family-wise false alarm, 1e-3).
"""
import math
from statistics import NormalDist

import numpy as np
import pytest

from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import montecarlo_power as power
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem

RUNS, STEPS, REPEATS = 1000, (1, 10, 30), 200
HEAVY_BALL = nqm_optimizers.get("heavy-ball")


@pytest.fixture(scope="module")
def setting():
    paper = nqm_problem.preset("paper")
    part = slice(0, 1000, 5)
    problem = nqm_problem.make_problem(paper.h[part], paper.sigma2[part], paper.mean0[part], paper.var0[part])
    return problem, HEAVY_BALL.greedy(problem, 30)


def sampled(problem, schedule, seed, mean_factor=1.0, variance_factor=1.0):
    """{"theta": (mean, var)} exact at STEPS, and a draw of the sample moments of RUNS runs whose truth is
    (mean_factor x mean, variance_factor x var)."""
    exact = HEAVY_BALL.rollout(problem, schedule["alpha"], schedule["mu"])
    mean, var = exact["mean_theta"][list(STEPS)], exact["var_theta"][list(STEPS)]
    rng = np.random.default_rng(seed)
    true_mean, true_var = mean_factor * mean, variance_factor * var
    sample_mean = true_mean + np.sqrt(true_var / RUNS) * rng.standard_normal(mean.shape)
    sample_var = true_var * rng.chisquare(RUNS - 1, mean.shape) / (RUNS - 1)
    return {"theta": (mean, var)}, {"theta": (sample_mean, sample_var)}


def failure_rate(problem, schedule, **factors):
    fails = sum(not power.agreement(*sampled(problem, schedule, seed, **factors), RUNS)["passed"]
                for seed in range(REPEATS))
    return fails / REPEATS


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["mean", "variance"])
@pytest.mark.parametrize("sign", [1, -1])
def test_the_stated_error_is_detected_with_probability_099_and_half_of_it_mostly_not(setting, moment, sign):
    # Catches: a power statement that promises more than the check delivers (a shift formula off by a factor, the
    # wrong threshold, the sd under the alternative forgotten), or one so loose that it is useless.
    problem, schedule = setting
    result = power.agreement(*sampled(problem, schedule, 0), RUNS)
    assert result["passed"]
    error = result["mean_error" if moment == "mean" else "variance_error"]
    assert 0 < error < 0.2

    def at(e):  # the exact value off by e relative to the truth: truth = exact / (1 + e)
        key = "mean_factor" if moment == "mean" else "variance_factor"
        return failure_rate(problem, schedule, **{key: 1 / (1 + sign * e)})

    # Binomial slack: with a true rate of exactly 0.99, P(at least 8 misses in 200) is about 1e-3.
    assert at(error) >= 1 - 7 / REPEATS
    assert at(error / 2) <= 0.5


@pytest.mark.slow
def test_without_an_error_the_check_almost_never_fails(setting):
    # Catches: a pooled z-score whose null is not N(0, 1) (weights not normalised, coordinates pooled across steps
    # or variables) or a threshold that ignores the pooled comparisons: the false alarm would be far above 1e-3.
    problem, schedule = setting
    assert failure_rate(problem, schedule) <= 2 / REPEATS


def test_detection_probability_is_the_normal_two_sided_tail():
    # Catches: a one-sided tail, or the sd ignored.
    phi = NormalDist().cdf
    assert power.detection_probability(0.0, 1.0, 1.96) == pytest.approx(0.05, abs=1e-3)
    assert power.detection_probability(3.0, 2.0, 2.0) == pytest.approx(phi(0.5) + phi(-2.5), abs=1e-12)
    assert power.detection_probability(-3.0, 2.0, 2.0) == power.detection_probability(3.0, 2.0, 2.0)


def test_the_variance_error_follows_its_closed_form():
    # Catches: a wrong shift (sqrt((N - 1) m / 2)) or sd (1 / (1 + e)) for the pooled variance. For e > 0, detection
    # at probability 0.99 needs e B - z (1 + e) = z_0.99 (the second tail is negligible): e = (z + z_0.99) / (B - z);
    # for e < 0 the same with the signs of z's coefficient flipped gives a smaller |e|, so e > 0 sets the answer.
    runs, m, z = 1000, 200, 5.0
    B, z99 = math.sqrt((runs - 1) * m / 2), NormalDist().inv_cdf(0.99)
    assert power.variance_error(runs, m, z) == pytest.approx((z + z99) / (B - z), rel=1e-6)
    assert power.variance_error(runs, 4 * m, z) < power.variance_error(runs, m, z) / 1.9  # sqrt(m) finer
    assert math.isinf(power.variance_error(10, 1, 5.0))  # 10 runs cannot resolve one variance to 100%


def test_a_nan_in_the_samples_fails_the_check(setting):
    # Catches: a NaN sample (an overflowed simulation) passing because NaN comparisons are false both ways.
    problem, schedule = setting
    exact, sample = sampled(problem, schedule, 0)
    sample["theta"][0][1, 3] = np.nan
    result = power.agreement(exact, sample, RUNS)
    assert not result["passed"]
    from shb.ground.checks import check

    assert not check("mc", result["passed"], values=result["values"])["passed"]
    assert "sample mean theta" in check("mc", True, values=result["values"])["detail"]


def test_the_rule_checks_read_the_simulation_they_are_given(setting, monkeypatch):
    # Catches: a wrapper that compares the exact moments with themselves instead of with the simulation, and one
    # that compares another state variable than it says: loss_iterate compares theta alone, rule every state variable.
    problem, schedule = setting
    calls = []
    real = nqm_montecarlo.simulate

    def spy(*args, **kwargs):
        calls.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(nqm_montecarlo, "simulate", spy)
    c, errors = power.loss_iterate(HEAVY_BALL, problem, schedule, 500, STEPS, 1)
    assert calls == [500] and c["passed"] and "Power at N = 500" in c["detail"]
    assert errors["variance_error"] > power.variance_error(RUNS, problem.h.size, 5.0)  # fewer runs, less power
    assert {key.split()[-1] for key in errors["values"] if key.startswith("sample mean")} == {"theta"}
    _, every = power.rule(HEAVY_BALL, problem, schedule, 500, STEPS, 1)
    assert {key.split()[-1] for key in every["values"] if key.startswith("sample mean")} == {"theta", "v"}
