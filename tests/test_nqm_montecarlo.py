"""Exact moments (Theorem 1, numeric.nqm.dynamics) against Monte-Carlo simulation (numeric.nqm.montecarlo).

Every iterate is Gaussian (the update is linear in (theta, v) plus Gaussian noise, and theta(0) is
Gaussian or fixed), so with N runs the sampling distributions are known exactly:

    sample mean:      z = (m - E) / sqrt(V / N)                             ~ N(0, 1)
    sample variance:  x = (N - 1) s^2 / V ~ chi-square(N - 1); the Wilson-Hilferty transform
                      z = ((x/k)^(1/3) - (1 - 2/(9k))) / sqrt(2/(9k)),  k = N - 1,   ~ N(0, 1) very closely.

A coordinate with V = 0 exactly (sigma2 = 0 and var0 = 0) is deterministic: then the Monte-Carlo values
must equal the exact ones to rounding.

Family-wise false alarms (Bonferroni): per example we compare E and V of theta and v for every
coordinate and step t = 1..T, at most 4 * 3 * 6 = 72 comparisons; with the threshold |z| < 5.5
(two-sided P(|Z| > 5.5) = 3.8e-8) the chance of any false alarm is < 2.8e-6 per example,
< 2.2e-5 for the `ci` profile's 8 examples and < 5.5e-4 for `thorough`'s 200. Seeds are fixed
(the hypothesis-drawn seed, and derandomize=True in `ci`), so a run is repeatable.
Power: `test_power_*` perturb one coefficient of the dynamics by 3% and show max |z| > 2 x threshold.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.numeric.nqm import dynamics as nqm_dynamics

from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.montecarlo import sample_paths, simulate
from shb.numeric.nqm.problem import make_problem

N_RUNS = 100_000
THRESHOLD = 5.5


def z_scores(exact, mc, n, names=("theta", "v")):
    """|z| of the sample means and variances of theta and v (or the state variables `names`) at every
    reported step; exact-zero variances are checked to rounding here (and get z = 0)."""
    zs = []
    for name in names:
        E = exact["mean_" + name][mc["steps"]]
        V = exact["var_" + name][mc["steps"]]
        m, s2 = mc["mean_" + name], mc["var_" + name]
        zero = V == 0
        scale = 1.0 + np.abs(E)
        assert np.all(np.abs(m - E)[zero] <= 1e-9 * scale[zero]), f"deterministic mean of {name} differs"
        assert np.all(s2[zero] <= 1e-12 * scale[zero] ** 2), f"deterministic variance of {name} is not 0"
        Vp = np.where(zero, 1.0, V)
        z_mean = np.where(zero, 0.0, (m - E) / np.sqrt(Vp / n))
        k = n - 1
        ratio = np.where(zero, 1.0, s2 / Vp)
        z_var = (np.cbrt(ratio) - (1.0 - 2.0 / (9 * k))) / np.sqrt(2.0 / (9 * k))
        zs += [np.abs(z_mean), np.abs(np.where(zero, 0.0, z_var))]
    return np.concatenate([z.ravel() for z in zs])


@st.composite
def problems_and_schedules(draw):
    d = draw(st.integers(1, 3))
    h = np.array(draw(st.lists(st.floats(0.05, 1.5), min_size=d, max_size=d)))
    sigma2 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
    mean0 = np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=d, max_size=d)))
    var0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 2.0)), min_size=d, max_size=d)))
    T = draw(st.integers(2, 6))
    alpha = np.array(draw(st.lists(st.floats(0.05, 1.5), min_size=T, max_size=T))) / h.max()
    mu = np.array(draw(st.lists(st.floats(-0.3, 0.95), min_size=T, max_size=T)))
    seed = draw(st.integers(0, 2**32 - 1))
    return make_problem(h, sigma2, mean0, var0), alpha, mu, seed


@given(problems_and_schedules())
def test_exact_moments_match_monte_carlo(case):
    problem, alpha, mu, seed = case
    T = alpha.size
    exact = rollout(problem, alpha, mu)
    mc = simulate(problem, alpha, mu, N_RUNS, seed, steps=range(1, T + 1))
    z = z_scores(exact, mc, N_RUNS)
    assert z.size <= 72  # the Bonferroni budget above
    assert z.max() < THRESHOLD, f"max |z| = {z.max():.2f} >= {THRESHOLD}"


def power_case():
    """A fixed noisy 2-D problem with momentum, 20 steps, where every statistic is non-degenerate."""
    problem = make_problem([1.0, 0.2], [1.0, 5.0], [3.0, -4.0], [0.5, 0.0])
    T = 20
    alpha = np.full(T, 0.4)
    mu = np.full(T, 0.6)
    return problem, alpha, mu


N_POWER = 400_000


@pytest.fixture(scope="module")
def power_sample():
    """One Monte-Carlo sample of the power case (it does not depend on the code under test's coefficients)."""
    problem, alpha, mu = power_case()
    return simulate(problem, alpha, mu, N_POWER, seed=1, steps=range(1, alpha.size + 1))


def test_unperturbed_power_case_passes(power_sample):
    problem, alpha, mu = power_case()
    # 4 * 2 * 20 = 160 comparisons at |z| < 5.5: family-wise false-alarm rate < 6.1e-6.
    assert z_scores(rollout(problem, alpha, mu), power_sample, N_POWER).max() < THRESHOLD


@pytest.mark.parametrize("old, new", [
    ("sigma2*x5", "1.03*sigma2*x5"),              # gradient-noise term of V[v'] 3% too large
    ("mu**2*var_v", "0.95*mu**2*var_v"),          # momentum term of V[v'] 5% too small
    ("mean_theta + mean_v*mu - x1", "mean_theta + 1.03*mean_v*mu - x1"),  # E[theta'] momentum term
])
def test_power_a_three_percent_coefficient_error_is_caught(power_sample, mutant, monkeypatch, old, new):
    problem, alpha, mu = power_case()
    monkeypatch.setattr(nqm_dynamics, "nqm_step", mutant(old, new).nqm_step)
    assert z_scores(rollout(problem, alpha, mu), power_sample, N_POWER).max() > 2 * THRESHOLD


def test_monte_carlo_statistics_are_seeded_and_chunk_consistent():
    problem, alpha, mu = power_case()
    a = simulate(problem, alpha, mu, 5000, seed=7, steps=[5, 20])
    b = simulate(problem, alpha, mu, 5000, seed=7, steps=[5, 20])
    c = simulate(problem, alpha, mu, 5000, seed=8, steps=[5, 20])
    assert np.array_equal(a["mean_theta"], b["mean_theta"]) and np.array_equal(a["var_v"], b["var_v"])
    assert not np.array_equal(a["mean_theta"], c["mean_theta"])
    # The chunked moment merge equals the one-pass sample statistics of the same draws: one chunk of 5000
    # against chunks of 700 draw different numbers, so compare a chunked run with its own concatenation.
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(1, 1001, 2))
    from shb.numeric.nqm.montecarlo import _merge
    acc = (0, np.zeros((1, 2)), np.zeros((1, 2)))
    for lo in range(0, 1001, 300):
        part = x[:, lo:lo + 300]
        mean = part.mean(axis=1)
        acc = _merge(acc, part.shape[1], mean, ((part - mean[:, None]) ** 2).sum(axis=1))
    assert np.allclose(acc[1], x.mean(axis=1), rtol=1e-13)
    assert np.allclose(acc[2] / (acc[0] - 1), x.var(axis=1, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("runs, chunk", [(2, None), (5, 2), (7, 3)])
def test_simulate_is_the_update_of_section_2_2_on_the_same_draws(runs, chunk):
    # Catches, exactly rather than statistically: a slip in the update (v' = mu v - alpha (h theta - h sqrt(sigma2)
    # xi), theta' = theta + v'), the wrong moments reported (v for theta, step t - 1 for t, step 0 refused), a
    # sample variance that is not ddof = 1 (at N = 2 a ddof slip is a factor 2 or a division by 0), runs = 2
    # refused, and chunks merged wrongly (uneven chunks of 2 and 3 runs). The reference draws the same numbers
    # from the same seeded Generator in the order `simulate` documents: theta(0) for a chunk, then xi per step.
    problem = make_problem([1.0, 0.3, 0.6], [0.5, 2.0, 0.0], [2.0, -1.0, 0.5], [0.3, 0.0, 0.0])
    alpha, mu = np.array([0.5, 0.8, 0.3]), np.array([0.0, 0.6, -0.2])
    out = simulate(problem, alpha, mu, runs, seed=11, steps=[0, 1, 3], chunk=chunk)
    rng = np.random.default_rng(11)
    chunk = chunk or runs
    thetas, vs = {0: [], 1: [], 3: []}, {0: [], 1: [], 3: []}
    for start in range(0, runs, chunk):
        n = min(chunk, runs - start)
        theta = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((n, 3))
        v = np.zeros((n, 3))
        for t in range(alpha.size + 1):
            if t in thetas:
                thetas[t].append(theta)
                vs[t].append(v)
            if t == alpha.size:
                break
            xi = rng.standard_normal((n, 3))
            v = mu[t] * v - alpha[t] * (problem.h * theta - problem.h * np.sqrt(problem.sigma2) * xi)
            theta = theta + v
    for k, t in enumerate([0, 1, 3]):
        theta, v = np.concatenate(thetas[t]), np.concatenate(vs[t])
        np.testing.assert_allclose(out["mean_theta"][k], theta.mean(0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out["var_theta"][k], theta.var(0, ddof=1), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out["mean_v"][k], v.mean(0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out["var_v"][k], v.var(0, ddof=1), rtol=1e-12, atol=1e-14)
    assert out["steps"].tolist() == [0, 1, 3]
    # sample_paths runs the same update on the same draws (one chunk): its theta(t) are the reference's.
    if chunk == runs:
        paths = sample_paths(problem, alpha, mu, runs, seed=11)
        assert paths.shape == (runs, alpha.size + 1, 3)
        for t in (0, 1, 3):
            np.testing.assert_allclose(paths[:, t], np.concatenate(thetas[t]), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="runs must be an integer >= 2"):
        simulate(problem, alpha, mu, 1, seed=0)
    with pytest.raises(ValueError, match=r"steps must lie in 0\.\.3"):
        simulate(problem, alpha, mu, 2, seed=0, steps=[4])
    with pytest.raises(ValueError, match=r"steps must lie in 0\.\.3"):
        simulate(problem, alpha, mu, 2, seed=0, steps=[-1, 2])
    for bad_alpha, bad_mu in ((alpha, mu[:2]), (np.stack([alpha, alpha]), np.stack([mu, mu]))):
        with pytest.raises(ValueError, match=r"must both have shape \(T,\)"):
            simulate(problem, bad_alpha, bad_mu, 2, seed=0)


@pytest.mark.parametrize("d, T, runs, every_step", [(1000, 5, 3000, False), (1000, 400, 2, True),
                                                    (100_000, 3, 20, False)])
def test_simulate_cost_bounds_what_simulate_allocates(d, T, runs, every_step):
    # The size check before work (`shb nqm montecarlo`) trusts it. Peak measured by tracemalloc (numpy reports its
    # buffers): a chunk of a million samples, moments at every step, and a chunk of a few wide runs. Catches an
    # estimate below the peak (it was: six arrays of the chunk's size counted where the peak holds about eight) or
    # far above it, and a wrong power of the chunk, the steps reported or d.
    problem = make_problem(np.linspace(0.1, 1.0, d), np.ones(d), np.ones(d), np.zeros(d))
    steps = list(range(T + 1)) if every_step else None
    tracemalloc.start()
    nqm_montecarlo.simulate(problem, np.full(T, 0.1), np.full(T, 0.5), runs, 0, steps=steps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate, _ = nqm_montecarlo.simulate_cost(d, T, runs, T + 1 if every_step else 1)
    assert peak <= estimate <= 1.5 * peak


def test_simulate_cost_time_is_linear_in_runs_steps_and_coordinates():
    # Catches a time estimate that divides by one of them, and one that would refuse a second's work (a million
    # run-step-coordinates, one normal draw and a few multiply-adds each) as taking minutes.
    seconds = lambda d, T, runs: nqm_montecarlo.simulate_cost(d, T, runs)[1]  # noqa: E731
    base = seconds(10, 20, 30)
    assert seconds(20, 20, 30) == seconds(10, 40, 30) == seconds(10, 20, 60) == pytest.approx(2 * base, rel=1e-12)
    assert 0 < seconds(100, 100, 100) < 60
