"""numeric/nqm/checks.py: the certificates stamped on the NQM figures must fail when they should.

Each test pairs a case the check must pass with a case it must fail (a wrong schedule, a wrong
noise level in the simulation), so a check that always passes is caught.
"""
import math
from statistics import NormalDist

import numpy as np
import pytest

from shb.numeric.nqm import checks as nqm_checks

from shb.numeric.nqm import montecarlo as nqm_montecarlo

from shb.numeric.nqm import problem as nqm_problem

from shb.numeric.nqm import schedules as nqm_schedules


@pytest.fixture
def problem():
    h = nqm_problem.chebyshev_extreme(20, 0.01, 1.0)
    return nqm_problem.make_problem(h, 1.0 / h, 5.0, 0.5)


def test_bonferroni_threshold_matches_the_normal_quantile():
    # Catches: a one-sided threshold, or the family rate not divided by the number of comparisons.
    assert nqm_checks.bonferroni_threshold(1, 0.05) == pytest.approx(1.959964, abs=1e-5)
    assert nqm_checks.bonferroni_threshold(100, 0.05) == pytest.approx(3.480756, abs=1e-5)
    # Catches: a bisection bracket that starts above small thresholds (|z| = 0.674 at a per-test rate of 0.5).
    assert nqm_checks.bonferroni_threshold(1, 0.5) == pytest.approx(-NormalDist().inv_cdf(0.25), abs=1e-9)


def test_greedy_minimiser_check_accepts_greedy_and_rejects_a_detuned_schedule(problem):
    greedy = nqm_schedules.greedy(problem, 30)
    assert nqm_checks.greedy_is_one_step_minimiser(problem, greedy)["passed"]
    detuned = dict(greedy, alpha=greedy["alpha"] * 1.05)
    assert not nqm_checks.greedy_is_one_step_minimiser(problem, detuned)["passed"]
    flipped = dict(greedy, mu=-greedy["mu"])  # the sign the extracted paper text drops
    assert not nqm_checks.greedy_is_one_step_minimiser(problem, flipped)["passed"]


def test_the_nqm_checks_fail_on_a_schedule_with_a_nan(problem):
    # Catches the NaN pass (issue 26): the greedy check took max(0.0, gain) step by step, and Python's max keeps
    # 0.0 when the gain is NaN, so a schedule whose one-step losses are NaN passed as "no improvement found".
    greedy = nqm_schedules.greedy(problem, 30)
    broken = dict(greedy, alpha=np.where(np.arange(30) == 7, np.nan, greedy["alpha"]))
    result = nqm_checks.greedy_is_one_step_minimiser(problem, broken)
    assert not result["passed"] and "not finite" in result["detail"]
    assert not nqm_checks.safeguard_holds(problem, broken)["passed"]


def test_safeguard_check(problem):
    T = 20
    gentle = {"alpha": np.full(T, 0.5), "mu": np.zeros(T)}
    assert nqm_checks.safeguard_holds(problem, gentle)["passed"]
    violent = {"alpha": np.full(T, 2.5), "mu": np.zeros(T)}  # alpha h > 2 on the top coordinate: diverges
    assert not nqm_checks.safeguard_holds(problem, violent)["passed"]


def test_montecarlo_agreement_passes_for_the_model_and_fails_for_wrong_noise(problem, monkeypatch):
    # N = 4000 runs, 20 coordinates x 2 steps x 2 moments = 80 z-scores, Bonferroni at 1e-3 family-wise.
    T = 25
    schedule = {"alpha": np.full(T, 0.3), "mu": np.full(T, 0.5)}
    assert nqm_checks.montecarlo_agreement(problem, schedule, 4000, (5, T), seed=3)["passed"]
    # Power: simulating with 10% more noise than the exact dynamics assume must be detected.
    real = nqm_montecarlo.simulate
    noisier = problem._replace(sigma2=problem.sigma2 * 1.10)
    monkeypatch.setattr(nqm_montecarlo, "simulate", lambda p, *a, **k: real(noisier, *a, **k))
    result = nqm_checks.montecarlo_agreement(problem, schedule, 4000, (5, T), seed=3)
    assert not result["passed"], result["detail"]


def test_montecarlo_agreement_deterministic_coordinates_match_exactly():
    h = np.array([0.5, 1.0])
    problem = nqm_problem.make_problem(h, np.zeros(2), 3.0, 0.0)
    schedule = {"alpha": np.full(10, 0.4), "mu": np.full(10, 0.3)}
    result = nqm_checks.montecarlo_agreement(problem, schedule, 10, (10,), seed=0)
    assert result["passed"] and "2 deterministic" in result["detail"]


def test_zscores_are_standard_under_the_null():
    # Catches: a wrong variance formula in montecarlo_zscores (e.g. V / N instead of sqrt(V / N)).
    rng = np.random.default_rng(0)
    N, reps = 500, 4000
    samples = rng.normal(2.0, 3.0, size=(reps, N))
    z_mean, z_var = nqm_checks.montecarlo_zscores(2.0, 9.0, samples.mean(1), samples.var(1, ddof=1), N)
    # Standard error of a sample standard deviation over `reps` draws: about 1/sqrt(2 reps) = 0.011.
    assert abs(np.std(z_mean) - 1) < 5 * math.sqrt(1 / (2 * reps))
    assert abs(np.std(z_var) - 1) < 0.1  # chi-square skew at N = 500 is small


def test_sample_paths_have_the_exact_moments():
    # Catches: sample_paths drifting from the update that `simulate` (and Theorem 1) describe.
    # N = 20000 paths, 3 coordinates x 2 steps x 2 moments = 12 z-scores, Bonferroni at 1e-3 family-wise.
    h = np.array([0.05, 0.5, 1.0])
    problem = nqm_problem.make_problem(h, 1.0 / h, [3.0, -2.0, 1.0], 0.2)
    T, runs = 12, 20000
    schedule = {"alpha": np.full(T, 0.4), "mu": np.full(T, 0.3)}
    paths = nqm_montecarlo.sample_paths(problem, schedule["alpha"], schedule["mu"], runs, seed=5)
    assert paths.shape == (runs, T + 1, 3)
    from shb.numeric.nqm import dynamics as nqm_dynamics

    exact = nqm_dynamics.rollout(problem, schedule["alpha"], schedule["mu"])
    threshold = nqm_checks.bonferroni_threshold(12, 1e-3)
    for t in (3, T):
        z_mean, z_var = nqm_checks.montecarlo_zscores(exact["mean_theta"][t], exact["var_theta"][t],
                                                      paths[:, t].mean(0), paths[:, t].var(0, ddof=1), runs)
        assert np.all(np.abs(z_mean) < threshold) and np.all(np.abs(z_var) < threshold)
    # Power: the same paths against 10% more noise in the exact moments fail.
    noisier = nqm_dynamics.rollout(problem._replace(sigma2=problem.sigma2 * 1.1), schedule["alpha"], schedule["mu"])
    _, z_var = nqm_checks.montecarlo_zscores(noisier["mean_theta"][T], noisier["var_theta"][T],
                                             paths[:, T].mean(0), paths[:, T].var(0, ddof=1), runs)
    assert np.max(np.abs(z_var)) > threshold


# --- the statistics pinned (issue 18) -----------------------------------------------------------------------


@pytest.mark.parametrize("comparisons", [1, 8, 80, 4000, 8000])
def test_bonferroni_default_is_a_family_wise_false_alarm_of_1e_3(comparisons):
    # Catches: a changed default family-wise false-alarm rate (1e-2 would make every Monte-Carlo check about
    # 0.5 looser in |z|), a one-sided quantile, or the rate not divided among the comparisons. The reference is
    # the exact normal quantile: |z| > t with probability family_alarm / n per two-sided test.
    threshold = nqm_checks.bonferroni_threshold(comparisons)
    assert threshold == pytest.approx(-NormalDist().inv_cdf(1e-3 / (2 * comparisons)), abs=1e-9)
    assert comparisons * math.erfc(threshold / math.sqrt(2)) == pytest.approx(1e-3, rel=1e-9)


def test_montecarlo_agreement_defaults_to_a_family_wise_false_alarm_of_1e_3(problem):
    # Catches: montecarlo_agreement's own default family_alarm changed (the figures call it without one).
    T = 10
    schedule = {"alpha": np.full(T, 0.3), "mu": np.full(T, 0.5)}
    result = nqm_checks.montecarlo_agreement(problem, schedule, 200, (5, T), seed=0)
    comparisons = 2 * 20 * 2  # E and V of 20 random coordinates at 2 steps
    assert f"{comparisons} z-scores" in result["detail"]
    expected = -NormalDist().inv_cdf(1e-3 / (2 * comparisons))
    assert f"<= {expected:.2f} (Bonferroni, family-wise false alarm 0.001)" in result["detail"]


@pytest.mark.parametrize("runs, reps", [(10, 200_000), (1000, 2_000)])
def test_zscores_have_mean_0_and_spread_1_under_the_null(runs, reps):
    # Catches: a wrong scale in either z-score of montecarlo_zscores: a changed factor under a square root
    # (2 -> 3 or 4 in the variance's standard error: spread 0.82 or 0.71), N instead of N - 1 or N - 2 (at
    # N = 10: spread 1.05 / 0.94), V / N without the square root, a sign slip (mean away from 0).
    # For samples of a known normal both z-scores have mean 0 and variance 1 exactly, at any N: the sample
    # mean is N(E, V / N), and Var(s^2) = 2 V^2 / (N - 1). Over `reps` repetitions (seed 0) the sample mean of
    # z has standard error 1 / sqrt(reps) and its sample standard deviation sqrt((kurtosis - 1) / (4 reps)),
    # with kurtosis 3 for z_mean and 3 + 12 / (N - 1) (chi-square's) for z_var. Tolerance: 5 standard errors
    # (two-sided 5.7e-7 per assertion, 2.3e-6 for the four).
    rng = np.random.default_rng(0)
    samples = rng.normal(2.0, 3.0, size=(reps, runs))
    z_mean, z_var = nqm_checks.montecarlo_zscores(2.0, 9.0, samples.mean(1), samples.var(1, ddof=1), runs)
    for z, kurtosis in ((z_mean, 3.0), (z_var, 3.0 + 12.0 / (runs - 1))):
        assert abs(np.mean(z)) < 5 / math.sqrt(reps)
        assert abs(np.std(z) - 1) < 5 * math.sqrt((kurtosis - 1) / (4 * reps))
