"""numeric/nqm/checks.py: the certificates stamped on the NQM figures must fail when they should (issue 18: the
verifiers verified), for every rule of the registry.

Each test pairs a case the check must pass with a case it must fail (a wrong schedule, a wrong noise level in the
simulation), so a check that always passes, or always fails, is caught. The second half feeds each check kind a
deliberately wrong input of the size the figures use (experiments/figures/fig1_trajectories.py,
fig2_short_horizon.py, fig3_schedules.py: heavy ball):
- Monte-Carlo agreement, at each figure's run count N and size;
- greedy minimality, on the paper preset's T = 250 greedy schedule;
- the safeguard, on the paper preset, T = 250.

The figures' Monte-Carlo checks are numeric/nqm/montecarlo_power.py's (this file's first half tests
checks.montecarlo_agreement, the plain per-entry test it extends). Power (../shared/notes/monte-carlo-tolerances.md):
a figure's check states in its detail the smallest relative error in every mean and in every variance that it
detects with probability 0.99 at its N (pooled z-scores over the coordinates of a step); the tests at the figures'
sizes give each figure's check an error of 1.5 times the stated size, in both directions, and see it fail;
tests/test_montecarlo_power.py checks the stated power against the detection rate over many seeds.
"""
import math
import re
from statistics import NormalDist

import numpy as np
import pytest

from shb.experiments.figures import fig1_trajectories, fig2_short_horizon, fig3_schedules
from shb.numeric.nqm import checks as nqm_checks
from shb.numeric.nqm import fixed_decay as nqm_fixed_decay
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import montecarlo_power as nqm_montecarlo_power
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem

from .reference import NAMES, stable_scale

HEAVY_BALL = nqm_optimizers.get("heavy-ball")


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


@pytest.mark.parametrize("name", NAMES)
def test_greedy_minimiser_check_accepts_greedy_and_rejects_a_detuned_schedule(name, problem):
    # Every rule's own greedy schedule passes (Nesterov's too: its mu is given, so only alpha is perturbed), a 5%
    # detuned alpha fails, and for a rule that chooses mu, so does a mu off by 0.05. (Preconditioning with p = 1/h
    # is spherical, so its greedy mu is 0: a flipped sign would change nothing there.)
    opt = nqm_optimizers.get(name)
    greedy = opt.greedy(problem, 30)
    assert nqm_checks.greedy_is_one_step_minimiser(opt, problem, greedy)["passed"]
    detuned = dict(greedy, alpha=greedy["alpha"] * 1.05)
    assert not nqm_checks.greedy_is_one_step_minimiser(opt, problem, detuned)["passed"]
    if gen.RULES[opt.rule]["greedy"] == "joint":
        shifted = dict(greedy, mu=greedy["mu"] + 0.05)
        assert not nqm_checks.greedy_is_one_step_minimiser(opt, problem, shifted)["passed"]
    else:
        assert "mu is given" in nqm_checks.greedy_is_one_step_minimiser(opt, problem, greedy)["detail"]


def test_greedy_minimiser_check_rejects_the_sign_of_mu_the_paper_text_drops(problem):
    greedy = HEAVY_BALL.greedy(problem, 30)
    flipped = dict(greedy, mu=-greedy["mu"])
    assert not nqm_checks.greedy_is_one_step_minimiser(HEAVY_BALL, problem, flipped)["passed"]


@pytest.mark.parametrize("name", NAMES)
def test_safeguard_check(name, problem):
    T = 20
    opt = nqm_optimizers.get(name)
    scale = stable_scale(opt, problem, T)
    gentle = {"alpha": np.full(T, 0.3 * scale), "mu": np.zeros(T)}
    assert nqm_checks.safeguard_holds(opt, problem, gentle)["passed"]
    violent = {"alpha": np.full(T, 2.5 * scale), "mu": np.zeros(T)}  # beyond the stability limit: diverges
    assert not nqm_checks.safeguard_holds(opt, problem, violent)["passed"]


def noisier(factor):
    """A stand-in for montecarlo.simulate that simulates the problem with `factor` times its gradient noise."""
    real = nqm_montecarlo.simulate

    def simulate(rule, problem, *args, **kwargs):
        return real(rule, problem._replace(sigma2=problem.sigma2 * factor), *args, **kwargs)
    return simulate


@pytest.mark.parametrize("name", NAMES)
def test_montecarlo_agreement_passes_for_the_model_and_fails_for_wrong_noise(name, problem, monkeypatch):
    # N = 4000 runs, 20 coordinates x 2 steps x 2 moments = 80 z-scores, Bonferroni at 1e-3 family-wise.
    T = 25
    opt = nqm_optimizers.get(name)
    schedule = {"alpha": np.full(T, 0.3 * stable_scale(opt, problem, T)), "mu": np.full(T, 0.5)}
    assert nqm_checks.montecarlo_agreement(opt, problem, schedule, 4000, (5, T), seed=3)["passed"]
    # Power: simulating with 10% more noise than the exact dynamics assume must be detected.
    monkeypatch.setattr(nqm_montecarlo, "simulate", noisier(1.10))
    result = nqm_checks.montecarlo_agreement(opt, problem, schedule, 4000, (5, T), seed=3)
    assert not result["passed"], result["detail"]


@pytest.mark.parametrize("name", NAMES)
def test_montecarlo_agreement_deterministic_coordinates_match_exactly(name):
    h = np.array([0.5, 1.0])
    problem = nqm_problem.make_problem(h, np.zeros(2), 3.0, 0.0)
    opt = nqm_optimizers.get(name)
    schedule = {"alpha": np.full(10, 0.4 * stable_scale(opt, problem, 10)), "mu": np.full(10, 0.3)}
    result = nqm_checks.montecarlo_agreement(opt, problem, schedule, 10, (10,), seed=0)
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


@pytest.mark.parametrize("name", NAMES)
def test_sample_paths_have_the_exact_moments(name):
    # Catches: sample_paths drifting from the update that `simulate` (and the rule's Theorem 1) describe, or
    # returning another iterate than the rule's loss iterate (theta for an average).
    # N = 20000 paths, 3 coordinates x 2 steps x 2 moments = 12 z-scores, Bonferroni at 1e-3 family-wise.
    h = np.array([0.05, 0.5, 1.0])
    problem = nqm_problem.make_problem(h, 1.0 / h, [3.0, -2.0, 1.0], 0.2)
    opt = nqm_optimizers.get(name)
    T, runs = 12, 20000
    schedule = {"alpha": np.full(T, 0.4 * stable_scale(opt, problem, T)), "mu": np.full(T, 0.3)}
    paths = opt.sample_paths(problem, schedule["alpha"], schedule["mu"], runs, seed=5)
    assert paths.shape == (runs, T + 1, 3)
    x = gen.RULES[opt.rule]["state"][gen.RULES[opt.rule]["loss_index"]]
    exact = opt.rollout(problem, schedule["alpha"], schedule["mu"])
    threshold = nqm_checks.bonferroni_threshold(12, 1e-3)
    for t in (3, T):
        z_mean, z_var = nqm_checks.montecarlo_zscores(exact[f"mean_{x}"][t], exact[f"var_{x}"][t],
                                                      paths[:, t].mean(0), paths[:, t].var(0, ddof=1), runs)
        assert np.all(np.abs(z_mean) < threshold) and np.all(np.abs(z_var) < threshold)
    # Power: the same paths against 10% more noise in the exact moments fail.
    noisy = opt.rollout(problem._replace(sigma2=problem.sigma2 * 1.1), schedule["alpha"], schedule["mu"])
    _, z_var = nqm_checks.montecarlo_zscores(noisy[f"mean_{x}"][T], noisy[f"var_{x}"][T],
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
    result = nqm_checks.montecarlo_agreement(HEAVY_BALL, problem, schedule, 200, (5, T), seed=0)
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


# --- at the figures' sizes (formerly tests/test_checks_fail.py) ----------------------------------------------


def stated(result):
    """The relative errors a Monte-Carlo check's detail says it detects: (every mean, every variance)."""
    found = re.search(r"a relative error of ([0-9.e+-]+)% in every mean and ([0-9.e+-]+)% in every variance",
                      result["detail"])
    return float(found.group(1)) / 100, float(found.group(2)) / 100


def factors(error):
    """Sampling factors c (simulated = c x exact) that make the exact value off by +error and -error relative to
    the sampled truth: exact = truth / c = (1 +- error) truth."""
    return 1 / (1 + error), 1 / (1 - error)


@pytest.fixture(scope="module")
def paper():
    return nqm_problem.preset("paper")


@pytest.fixture(scope="module")
def paper_greedy(paper):
    return HEAVY_BALL.greedy(paper, fig3_schedules.PAPER["T"])


def test_the_nqm_checks_fail_on_a_schedule_with_a_nan(problem):
    # Catches the NaN pass (issue 26): the greedy check took max(0.0, gain) step by step, and Python's max keeps
    # 0.0 when the gain is NaN, so a schedule whose one-step losses are NaN passed as "no improvement found".
    greedy = HEAVY_BALL.greedy(problem, 30)
    broken = dict(greedy, alpha=np.where(np.arange(30) == 7, np.nan, greedy["alpha"]))
    result = nqm_checks.greedy_is_one_step_minimiser(HEAVY_BALL, problem, broken)
    assert not result["passed"] and "not finite" in result["detail"]
    assert not nqm_checks.safeguard_holds(HEAVY_BALL, problem, broken)["passed"]


def sampling_distribution(variance_factor, seed, mean_factor=1.0):
    """A stand-in for montecarlo.simulate that draws the sample moments of N runs directly from their exact
    sampling distribution when every run's theta_i(t) is N(m E, c V): mean ~ N(m E, c V / N), variance ~
    c V chi2(N - 1) / (N - 1), independently per coordinate. The same statistics as simulating N runs of a
    1000-coordinate problem, without the 10^8-10^9 draws that would cost in a test."""
    def simulate(rule, problem, alpha, mu, runs, seed_, extras, steps):
        exact = HEAVY_BALL.rollout(problem, alpha, mu)
        steps = sorted(set(int(t) for t in steps))
        rng = np.random.default_rng(seed)
        out = {"steps": np.array(steps)}
        for name in ("theta", "v"):
            mean, var = mean_factor * exact["mean_" + name][steps], variance_factor * exact["var_" + name][steps]
            out["mean_" + name] = mean + np.sqrt(var / runs) * rng.standard_normal(mean.shape)
            out["var_" + name] = var * rng.chisquare(runs - 1, mean.shape) / (runs - 1)
        return out
    return simulate


@pytest.mark.parametrize("scale", ["quick", "paper"])
def test_montecarlo_check_fails_figure_1_with_the_variance_error_it_states(scale, monkeypatch):
    # Mistake: the exact dynamics' noise term off by the relative error the check says it detects, either way.
    # With var0 = 0 every variance is linear in sigma2, so simulating with sigma2 scaled by c scales the sampled V
    # by exactly c and leaves the means untouched. Figure 1's own problem, schedules, steps (k, T), N and seed,
    # simulated for real (2 coordinates, cheap).
    cfg = dict(fig1_trajectories.CONFIGS[scale])
    problem = nqm_problem.make_problem(cfg["h"], cfg["sigma2"], cfg["mean0"], 0.0)
    steps, runs = (cfg["k"], cfg["T"]), cfg["mc_runs"]
    real = nqm_montecarlo.simulate
    for schedule in fig1_trajectories.schedules(cfg).values():
        right, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, problem, schedule, runs, steps, cfg["seed"])
        assert right["passed"], right["detail"]
        variance_error = stated(right)[1]
        assert variance_error <= 0.05  # the issue's bar for quick scale, met by Figure 1's N
        for c in factors(1.5 * variance_error):  # 1.5 x: see the test below
            monkeypatch.setattr(nqm_montecarlo, "simulate", noisier(c))
            wrong, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, problem, schedule, runs, steps, cfg["seed"])
            monkeypatch.setattr(nqm_montecarlo, "simulate", real)
            assert not wrong["passed"], wrong["detail"]


@pytest.mark.parametrize("figure, scale", [("fig2", "quick"), ("fig2", "paper"), ("fig3", "quick"), ("fig3", "paper")])
@pytest.mark.parametrize("moment", ["mean", "variance"])
def test_montecarlo_check_fails_figures_2_and_3_with_the_error_it_states(figure, scale, moment, paper, paper_greedy,
                                                                        monkeypatch):
    # Mistake: every exact mean (a wrong mean recursion) or every exact variance (a noise term off by a factor) off
    # by the relative error the check states, either way, at the figure's N, steps and problem size (d = 1000).
    # Figure 2 checks a 300 fixed + 50 decaying step SGD schedule at steps (300, 350); Figure 3 the optimized
    # schedule at steps (1, 10, 100, 250), here the greedy schedule of the same length (the check's statistics do not
    # depend on which schedule it is).
    if figure == "fig2":
        cfg = dict(fig2_short_horizon.CONFIGS[scale])
        k = sorted(cfg["horizons"])[len(cfg["horizons"]) // 2]
        alpha = nqm_fixed_decay.fixed_then_decay(1.0, k, cfg["tail"], cfg["decay_to"])
        schedule, steps = {"alpha": alpha, "mu": np.zeros_like(alpha)}, (k, alpha.size)
    else:
        cfg = dict(fig3_schedules.CONFIGS[scale])
        schedule, steps = paper_greedy, cfg["mc_steps"]
    runs, seed = cfg["mc_runs"], cfg["seed"]
    monkeypatch.setattr(nqm_montecarlo, "simulate", sampling_distribution(1.0, seed))
    right, errors = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, paper, schedule, runs, steps, seed)
    assert right["passed"], right["detail"]
    mean_error, variance_error = stated(right)
    assert mean_error <= 0.05 and variance_error <= 0.05, right["detail"]  # the bar at quick scale
    # 1.5 x the stated error: the stated one is detected with probability 0.99, so at one fixed seed it may pass
    # (seed 0 here draws a pooled null z of -2.65); 1.5 x it is missed only on a 4-sigma draw. The 0.99 itself is
    # measured over many seeds in tests/test_montecarlo_power.py.
    error = 1.5 * errors["mean_error" if moment == "mean" else "variance_error"]
    for c in factors(error):
        wrong_input = sampling_distribution(1.0, seed, c) if moment == "mean" else sampling_distribution(c, seed)
        monkeypatch.setattr(nqm_montecarlo, "simulate", wrong_input)
        wrong, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, paper, schedule, runs, steps, seed)
        assert not wrong["passed"], (c, wrong["detail"])


def test_montecarlo_check_fails_a_deterministic_run_off_by_rounding_drift(monkeypatch):
    # Mistake: on the deterministic preset (Figure 3b, V = 0 everywhere, so no z-scores at all) a Monte-Carlo
    # mean that drifts by 1e-7 relative (e.g. float32 arithmetic somewhere in the simulation), or runs that differ
    # from one another (a sample variance that is not 0). Such entries must match to rounding (1e-9 relative).
    problem = nqm_problem.preset("paper-deterministic")
    schedule = HEAVY_BALL.greedy(problem, 100)
    steps = (1, 10, 100)

    def drifted(factor, shift=0.0, spread=0.0):
        def simulate(rule, problem_, alpha, mu, runs, seed, extras, steps_):
            exact = HEAVY_BALL.rollout(problem_, alpha, mu)
            zero = np.zeros((len(steps_), problem_.h.size))
            return {"steps": np.array(steps_), "mean_theta": exact["mean_theta"][list(steps_)] * factor + shift,
                    "var_theta": zero + spread, "mean_v": exact["mean_v"][list(steps_)] * factor, "var_v": zero}
        return simulate

    def check(*args):
        return nqm_montecarlo_power.loss_iterate(HEAVY_BALL, *args)

    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1.0))
    right, errors = check(problem, schedule, 1000, steps, 0)
    assert right["passed"] and "3000 deterministic entries" in right["detail"], right["detail"]
    assert errors["deterministic"] and right["power"]["deterministic"]  # the report says "compared to rounding"
    assert "0 z-scores" in right["detail"] and "max |z| = 0.00" in right["detail"]  # no z-score, none reported
    assert f"<= {nqm_checks.bonferroni_threshold(1):.2f}" in right["detail"]  # the threshold of one test
    assert "every entry is deterministic" in right["detail"]
    # Rounding is relative: a 5e-10 relative difference passes at any magnitude (entries up to |E| = 10 here).
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1 + 5e-10))
    assert check(problem, schedule, 1000, steps, 0)[0]["passed"]
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1 + 1e-7))
    assert not check(problem, schedule, 1000, steps, 0)[0]["passed"]
    # Near 0 "to rounding" is absolute, 1e-9 (the relative gap's scale is max(|E|, 1)): a mean off by 1.5e-9
    # fails there, though 1.5e-9 relative to a larger scale (say max(|E|, 2)) would pass.
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1.0, shift=1.5e-9))
    assert not check(problem, schedule, 1000, steps, 0)[0]["passed"]
    # Runs that differ: a sample variance of 1e-12 (a standard deviation of 1e-6) where every run must be the same.
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1.0, spread=1e-12))
    assert not check(problem, schedule, 1000, steps, 0)[0]["passed"]


@pytest.fixture(scope="module")
def greedy_runs(paper, paper_greedy):
    deterministic = nqm_problem.preset("paper-deterministic")
    return {"paper": (paper, paper_greedy),
            "paper-deterministic": (deterministic, HEAVY_BALL.greedy(deterministic, fig3_schedules.PAPER["T"]))}


@pytest.mark.parametrize("preset, which, t, nudge", [
    ("paper", "alpha", 100, 1.0007), ("paper", "alpha", 100, 0.9993), ("paper", "mu", 100, 7e-4),
    ("paper", "mu", 100, -7e-4), ("paper", "alpha", 249, 0.998), ("paper-deterministic", "alpha", 100, 1.002)])
def test_greedy_check_fails_a_step_nudged_off_its_minimum(preset, which, t, nudge, greedy_runs):
    # Mistake: one greedy step off its minimiser of the one-step loss (Eq. 15), e.g. a rounded or stale
    # (alpha_t, mu_t), on Figure 3's greedy schedules (T = 250). The check perturbs alpha by x(1 +- 1e-3) and mu
    # by +- 1e-3 (and by 1e-1), so it resolves nudges larger than half of the smallest perturbation: here 7e-4,
    # up and down (a check perturbing one way only would miss half of them). On the deterministic preset the
    # loss at t = 100 is 2e-10, so improvements must be measured relative to it (an absolute 1e-10 misses them).
    # (At t = 0 mu is not identifiable, A(v) = 0, so a mu nudge there is rightly not a mistake.)
    problem, greedy = greedy_runs[preset]
    right = nqm_checks.greedy_is_one_step_minimiser(HEAVY_BALL, problem, greedy)
    assert right["passed"]
    assert right["detail"].startswith("250 steps x 8 perturbations of alpha (x(1 +- 1e-3, 1e-1)) and mu (+- 1e-3, 1e-1)")
    values = greedy[which].copy()
    values[t] = values[t] * nudge if which == "alpha" else values[t] + nudge
    wrong = nqm_checks.greedy_is_one_step_minimiser(HEAVY_BALL, problem, dict(greedy, **{which: values}))
    assert not wrong["passed"], wrong["detail"]


def test_safeguard_check_fails_a_schedule_over_the_bound_by_a_little(paper):
    # Mistake: a learning rate 1e-5 (relative) above the exact per-step safeguard bound (project_safeguard),
    # e.g. a bound computed with a looser margin, on the paper preset at T = 250. The capped schedule passes;
    # the nudged one lifts some coordinate's loss above its initial value by a few 1e-5 and must fail.
    from shb.numeric.nqm.safeguard import project_safeguard

    T = fig3_schedules.PAPER["T"]
    alpha, mu = np.full(T, 3.0), np.full(T, 0.6)  # too aggressive: the bound binds
    capped = project_safeguard(HEAVY_BALL, paper, alpha, mu)
    assert nqm_checks.safeguard_holds(HEAVY_BALL, paper, {"alpha": capped, "mu": mu})["passed"]
    t = int(np.flatnonzero(capped < alpha)[0])
    nudged = capped.copy()
    nudged[t] *= 1 + 1e-5
    wrong = nqm_checks.safeguard_holds(HEAVY_BALL, paper, {"alpha": nudged, "mu": mu})
    assert not wrong["passed"], wrong["detail"]
    ratio = float(wrong["detail"].rsplit("= ", 1)[1])
    assert 1 < ratio < 1.001  # a little, not a divergence
