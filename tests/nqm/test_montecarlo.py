"""numeric/nqm/montecarlo.py: Monte-Carlo simulation of each rule's own stochastic update, and the exact moments of
numeric/nqm/dynamics.py (each rule's Theorem 1) against it, for every entry of the registry.

Every state variable is Gaussian (the update is affine in the state plus Gaussian noise, and theta(0) is Gaussian or
fixed), so with N runs the sampling distributions are known exactly (/work/shared/notes/monte-carlo-tolerances.md):

    sample mean:      z = (m - E) / sqrt(V / N)                                        ~ N(0, 1)
    sample variance:  x = (N - 1) s^2 / V ~ chi-square(N - 1); the Wilson-Hilferty transform
                      z = ((x/k)^(1/3) - (1 - 2/(9k))) / sqrt(2/(9k)),  k = N - 1,      ~ N(0, 1) very closely.

A coordinate with V = 0 exactly (sigma2 = 0 and var0 = 0) is deterministic: there the Monte-Carlo values must equal
the exact ones to rounding.

Family-wise false alarms (Bonferroni), threshold |z| < 5.5 (two-sided P(|Z| > 5.5) = 3.8e-8 per comparison):
- the property test: N = 100,000 runs; per example E and V of at most 3 state variables x 3 coordinates x 6 steps =
  108 comparisons, so P(any false alarm) < 4.2e-6 per example, < 2.0e-4 for the `ci` profile's 8 examples of each
  of the 6 entries (48 examples); seeds are fixed (drawn by hypothesis, `ci` is derandomized);
- the power case: N = 400,000 on a fixed 2-coordinate problem over 20 steps, at most 2 x 3 x 2 x 20 = 240
  comparisons (false-alarm rate < 9.2e-6 for the unperturbed check, per entry).
Power: a coefficient of the moment recurrence changed by a few percent must push max |z| past twice the threshold
on the same sample: for every entry three generic slips (the noise variance, the momentum, the learning rate 3% off
inside the rule's generated step), and for the current rules the textual mutations of their generated step below.

Also: `simulate` is each rule's update on the very draws it documents (exactly, at small N, chunked or not), seeded,
its chunks merged exactly; `sample_paths` runs the same update; `simulate_cost` bounds what `simulate` allocates.
"""
import tracemalloc
import types

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import rules as nqm_rules
from shb.numeric.nqm.montecarlo import _merge
from shb.numeric.nqm.problem import make_problem
from shb.symbolic import model
from shb.symbolic.optimizers import OPTIMIZERS, RULES
from shb.symbolic.rules import HYPER, STOCHASTIC_MINIMUM

from .reference import NAMES, entry, extras_of_step, problems, stable_scale

N_RUNS = 100_000
N_POWER = 400_000
THRESHOLD = 5.5


def state_names(opt):
    return gen.RULES[opt.rule]["state"]


def z_scores(exact, mc, n, names=("theta", "v")):
    """|z| of the sample means and variances of the state variables `names` at every reported step; exact-zero
    variances are checked to rounding here (and get z = 0)."""
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
def cases(draw, name):
    problem = draw(problems(max_d=3))
    opt = entry(name, draw)
    T = draw(st.integers(2, 6))
    # alpha h = 1 exactly would make Nesterov's theta' = (1 - alpha h)(theta + mu v) + noise deterministic: a
    # variance that is 0 by cancellation, which the float recurrence leaves at rounding level, not at 0.
    factor = st.floats(0.05, 1.5).filter(lambda x: abs(x - 1.0) > 1e-3)
    alpha = np.array(draw(st.lists(factor, min_size=T, max_size=T))) * stable_scale(opt, problem, T)
    mu = np.array(draw(st.lists(st.floats(-0.3, 0.95), min_size=T, max_size=T)))
    return opt, problem, alpha, mu, draw(st.integers(0, 2**32 - 1))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_exact_moments_match_monte_carlo_of_the_rules_own_update(name, data):
    # Catches: a wrong coefficient, sign or missing term in a rule's Theorem 1 (its generated step), the wrong
    # extras at a step (gamma_t of another step), a minibatch's noise not divided by B, statistics of the wrong step.
    opt, problem, alpha, mu, seed = data.draw(cases(name))
    exact = opt.rollout(problem, alpha, mu)
    mc = opt.simulate(problem, alpha, mu, N_RUNS, seed, steps=range(1, alpha.size + 1))
    z = z_scores(exact, mc, N_RUNS, state_names(opt))
    assert z.size <= 108  # the Bonferroni budget above
    assert z.max() < THRESHOLD, f"{name}: max |z| = {z.max():.2f} >= {THRESHOLD}"


# ------------------------------------------------------------------------------------------------ power


def power_case(name):
    """A fixed noisy 2-D problem with momentum, 20 steps, where every statistic is non-degenerate. The rule's
    options at their defaults, but an integer one (a batch size: B normal draws per gradient) at 4, not 10."""
    problem = make_problem([1.0, 0.2], [1.0, 5.0], [3.0, -4.0], [0.5, 0.0])
    opt = nqm_optimizers.get(name, **{o.name: 4 for o in OPTIMIZERS[name].options if o.kind == "int"})
    return opt, problem, np.full(20, 0.4 * stable_scale(opt, problem, 20)), np.full(20, 0.6)


@pytest.fixture(scope="module")
def power_samples():
    """One Monte-Carlo sample per entry (it does not depend on the coefficients of the moment recurrences)."""
    out = {}
    for name in NAMES:
        opt, problem, alpha, mu = power_case(name)
        out[name] = opt.simulate(problem, alpha, mu, N_POWER, 11, steps=range(1, alpha.size + 1))
    return out


def power_z(name, power_samples):
    opt, problem, alpha, mu = power_case(name)
    return z_scores(opt.rollout(problem, alpha, mu), power_samples[name], N_POWER, state_names(opt))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_unperturbed_power_case_passes(power_samples, name):
    assert power_z(name, power_samples).max() < THRESHOLD


def with_step(rule, wrap):
    """The generated module with `<rule>_step` replaced by wrap(the real step), for monkeypatching rules.gen."""
    module = types.ModuleType("generated_with_a_slip")
    module.__dict__.update(gen.__dict__)
    setattr(module, f"{rule}_step", wrap(getattr(gen, f"{rule}_step")))
    return module


SLIPS = {  # a coefficient of the moment recurrence off by 3%, inside the rule's generated step
    "noise": lambda step: lambda alpha, mu, h, sigma2, *rest: step(alpha, mu, h, 1.03 * sigma2, *rest),
    "momentum": lambda step: lambda alpha, mu, h, sigma2, *rest: step(alpha, 1.03 * mu, h, sigma2, *rest),
    "learning rate": lambda step: lambda alpha, mu, h, sigma2, *rest: step(1.03 * alpha, mu, h, sigma2, *rest),
}


@pytest.mark.slow
@pytest.mark.parametrize("slip", list(SLIPS))
@pytest.mark.parametrize("name", NAMES)
def test_power_a_generic_three_percent_slip_is_caught(power_samples, monkeypatch, name, slip):
    opt = power_case(name)[0]
    monkeypatch.setattr(nqm_rules, "gen", with_step(opt.rule, SLIPS[slip]))
    z = power_z(name, power_samples)
    assert z.max() > 2 * THRESHOLD, f"{name}, {slip}: max |z| = {z.max():.2f}"


# Textual mutations of the generated file, each pattern occurring exactly once in numeric/nqm/generated.py (the
# `mutant` fixture, tests/conftest.py): one coefficient of a rule's generated step changed by a few percent.
HEAVY_BALL_STEP = "    x5 = alpha**2*h**2\n    x6 = mu**2*var_v + sigma2*x5 + var_theta*x5 - x0*x3\n"
MUTATIONS = [
    ("heavy-ball", HEAVY_BALL_STEP, HEAVY_BALL_STEP.replace("sigma2*x5", "1.03*sigma2*x5")),  # noise in V[v']
    ("heavy-ball", HEAVY_BALL_STEP, HEAVY_BALL_STEP.replace("mu**2*var_v", "0.95*mu**2*var_v")),  # momentum in V[v']
    ("heavy-ball", HEAVY_BALL_STEP + "    mean_theta_out = mean_theta + mean_v*mu - x1",  # E[theta'] momentum term
     HEAVY_BALL_STEP + "    mean_theta_out = mean_theta + 1.03*mean_v*mu - x1"),
    ("nesterov", "mean_v*mu*x0 - mean_v*mu", "1.03*mean_v*mu*x0 - mean_v*mu"),  # look-ahead gradient in E[v']
    ("nesterov", "sigma2*x7", "1.03*sigma2*x7"),                                  # gradient noise in the variances
    ("preconditioned", "x5 = alpha**2*h**2*p**2\n", "x5 = 1.03*alpha**2*h**2*p**2\n"),  # p^2 in the variances
    ("minibatch", "sigma2*x5/B", "1.03*sigma2*x5/B"),                             # the noise variance sigma2 / B
    ("ema", "-gamma*mean_theta_avg", "-1.03*gamma*mean_theta_avg"),               # the averaging weight, mean
    ("ema", "-var_theta_avg*x13", "-1.03*var_theta_avg*x13"),                     # the averaging weight, V[avg']
    ("polyak", "x14*x9", "1.03*x14*x9"),                                          # gradient noise reaching the average
]


@pytest.mark.slow
@pytest.mark.parametrize("name, old, new", MUTATIONS)
def test_power_a_few_percent_coefficient_error_is_caught(power_samples, mutant, monkeypatch, name, old, new):
    monkeypatch.setattr(nqm_rules, "gen", mutant(old, new))
    z = power_z(name, power_samples)
    assert z.max() > 2 * THRESHOLD, f"{name}: max |z| = {z.max():.2f}"


# ------------------------------------------------------------------------------------------------ exactly


@pytest.mark.parametrize("name", NAMES)
def test_monte_carlo_statistics_are_seeded(name):
    # Catches: a run that is not repeatable from its seed (a global or unseeded generator), or ignores the seed.
    opt, problem, alpha, mu = power_case(name)
    a, b, c = (opt.simulate(problem, alpha, mu, 500, seed, steps=[5, 20]) for seed in (7, 7, 8))
    for x in state_names(opt):
        assert np.array_equal(a["mean_" + x], b["mean_" + x]) and np.array_equal(a["var_" + x], b["var_" + x])
    assert not np.array_equal(a["mean_theta"], c["mean_theta"])


def test_the_chunk_merge_is_the_one_pass_statistics():
    # The chunked moment merge equals the one-pass sample statistics of the same draws (one chunk of 5000 against
    # chunks of 700 draw different numbers, so compare a chunked merge with its own concatenation).
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(1, 1001, 2))
    acc = (0, np.zeros((1, 2)), np.zeros((1, 2)))
    for lo in range(0, 1001, 300):
        part = x[:, lo:lo + 300]
        mean = part.mean(axis=1)
        acc = _merge(acc, part.shape[1], mean, ((part - mean[:, None]) ** 2).sum(axis=1))
    assert np.allclose(acc[1], x.mean(axis=1), rtol=1e-13)
    assert np.allclose(acc[2] / (acc[0] - 1), x.var(axis=1, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("runs, chunk", [(2, None), (5, 2), (7, 3)])
def test_simulate_is_the_update_of_section_2_2_on_the_same_draws(runs, chunk):
    # Heavy ball, against the update written here: catches, exactly rather than statistically, a slip in the update
    # (v' = mu v - alpha (h theta - h sqrt(sigma2) xi), theta' = theta + v'), the wrong moments reported (v for theta,
    # step t - 1 for t, step 0 refused), a sample variance that is not ddof = 1 (at N = 2 a ddof slip is a factor 2
    # or a division by 0), runs = 2 refused, and chunks merged wrongly (uneven chunks of 2 and 3 runs). The reference
    # draws the same numbers from the same seeded Generator in the order `simulate` documents: theta(0) for a
    # chunk, then xi per step.
    problem = make_problem([1.0, 0.3, 0.6], [0.5, 2.0, 0.0], [2.0, -1.0, 0.5], [0.3, 0.0, 0.0])
    alpha, mu = np.array([0.5, 0.8, 0.3]), np.array([0.0, 0.6, -0.2])
    opt = nqm_optimizers.get("heavy-ball")
    out = nqm_montecarlo.simulate(opt.rule, problem, alpha, mu, runs, 11, {}, steps=[0, 1, 3], chunk=chunk)
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
        paths = opt.sample_paths(problem, alpha, mu, runs, seed=11)
        assert paths.shape == (runs, alpha.size + 1, 3)
        for t in (0, 1, 3):
            np.testing.assert_allclose(paths[:, t], np.concatenate(thetas[t]), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="runs must be an integer >= 2"):
        opt.simulate(problem, alpha, mu, 1, seed=0)
    with pytest.raises(ValueError, match=r"steps must lie in 0\.\.3"):
        opt.simulate(problem, alpha, mu, 2, seed=0, steps=[4])
    with pytest.raises(ValueError, match=r"steps must lie in 0\.\.3"):
        opt.simulate(problem, alpha, mu, 2, seed=0, steps=[-1, 2])
    for bad_alpha, bad_mu in ((alpha, mu[:2]), (np.stack([alpha, alpha]), np.stack([mu, mu]))):
        with pytest.raises(ValueError, match=r"must both have shape \(T,\)"):
            nqm_montecarlo.simulate(opt.rule, problem, bad_alpha, bad_mu, 2, 0, {})


def lambdified_update(rule):
    """The rule's stochastic update (symbolic/optimizers/<module>.py, Rule.sample_update) through sympy.lambdify:
    not the generated `<rule>_update`, which the project's own printer writes."""
    symbolic = next(r for r in RULES if r.name == rule)
    args = (*HYPER, model.h, STOCHASTIC_MINIMUM, *symbolic.extras, *symbolic.state)
    return sp.lambdify(args, list(symbolic.sample_update()), modules="numpy")


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_simulate_is_each_rules_own_update_on_the_same_draws(name, data):
    # Every entry (with drawn options), against its symbolic update lambdified: catches simulate starting from
    # another state than z(0) = k theta(0) (an average not at theta(0), a velocity not 0), a minibatch gradient that
    # is not the mean of B draws (one draw, or B draws summed), an extra of another step (gamma_t), another state
    # variable reported, and chunks merged wrongly. Same draws, same order: theta(0) per chunk, then per step B x n x d.
    problem = data.draw(problems(max_d=3))
    opt = entry(name, data.draw)
    T, runs = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 7))
    chunk = data.draw(st.one_of(st.none(), st.integers(1, runs)))
    alpha = np.array(data.draw(st.lists(st.floats(0.05, 1.5), min_size=T, max_size=T))) * stable_scale(opt, problem, T)
    mu = np.array(data.draw(st.lists(st.floats(-0.3, 0.95), min_size=T, max_size=T)))
    extras = opt.extras(problem, T)
    out = nqm_montecarlo.simulate(opt.rule, problem, alpha, mu, runs, 5, extras, steps=range(T + 1), chunk=chunk)
    meta, update = gen.RULES[opt.rule], lambdified_update(opt.rule)
    draws = 1 if meta["draws"] is None else int(extras[meta["draws"]])
    rng, d = np.random.default_rng(5), problem.h.size
    states = {t: [] for t in range(T + 1)}
    for start in range(0, runs, chunk or runs):
        n = min(chunk or runs, runs - start)
        theta0 = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((n, d))
        state = [k * theta0 for k in meta["initial"]]
        states[0].append(state)
        for t in range(T):
            c = np.sqrt(problem.sigma2) * rng.standard_normal((draws, n, d)).mean(axis=0)
            state = [np.broadcast_to(x, (n, d)) for x in update(alpha[t], mu[t], problem.h, c,
                                                                 *extras_of_step(opt.rule, extras, t), *state)]
            states[t + 1].append(state)
    for t in range(T + 1):
        for j, x in enumerate(meta["state"]):
            sample = np.concatenate([s[j] for s in states[t]])
            np.testing.assert_allclose(out["mean_" + x][t], sample.mean(0), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(out["var_" + x][t], sample.var(0, ddof=1), rtol=1e-9, atol=1e-12)
    assert sorted(k for k in out if k != "steps") == sorted(f"{m}_{x}" for x in meta["state"] for m in ("mean", "var"))


# ------------------------------------------------------------------------------------------------ cost


@pytest.mark.parametrize("name, d, T, runs, every_step", [
    ("heavy-ball", 1000, 5, 3000, False), ("heavy-ball", 1000, 400, 2, True), ("heavy-ball", 100_000, 3, 20, False),
    ("polyak", 1000, 5, 3000, False), ("minibatch", 1000, 5, 300, False)])
def test_simulate_cost_bounds_what_simulate_allocates(name, d, T, runs, every_step):
    # The size check before work (`shb nqm montecarlo`) trusts it. Peak measured by tracemalloc (numpy reports its
    # buffers): a chunk of a million samples, moments at every step, a chunk of a few wide runs, a state of three
    # variables (an average) and a minibatch of B = 10 draws per gradient (chunks of 100 runs: a million draws). Catches an estimate below the peak (it
    # was: six arrays of the chunk's size counted where the peak holds about eight) or far above it, and a wrong
    # power of the chunk, the steps reported, d, the state's size or the draws.
    problem = make_problem(np.linspace(0.1, 1.0, d), np.ones(d), np.ones(d), np.zeros(d))
    opt = nqm_optimizers.get(name)
    steps = list(range(T + 1)) if every_step else None
    extras = opt.extras(problem, T)
    tracemalloc.start()
    nqm_montecarlo.simulate(opt.rule, problem, np.full(T, 0.1), np.full(T, 0.5), runs, 0, extras, steps=steps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate, _ = nqm_montecarlo.simulate_cost(d, T, runs, T + 1 if every_step else 1, len(state_names(opt)),
                                               nqm_montecarlo.draws(opt.rule, extras))
    assert peak <= estimate <= 1.5 * peak


def test_simulate_cost_time_is_linear_in_runs_steps_coordinates_and_draws():
    # Catches a time estimate that divides by one of them, and one that would refuse a second's work (a million
    # run-step-coordinates, one normal draw and a few multiply-adds each) as taking minutes.
    seconds = lambda d, T, runs, draws=1: nqm_montecarlo.simulate_cost(d, T, runs, n_draws=draws)[1]  # noqa: E731
    base = seconds(10, 20, 30)
    assert (seconds(20, 20, 30) == seconds(10, 40, 30) == seconds(10, 20, 60) == seconds(10, 20, 30, 2)
            == pytest.approx(2 * base, rel=1e-12))
    assert 0 < seconds(100, 100, 100) < 60


@pytest.mark.parametrize("B", [2.5, 0.0, np.array([2.0, 3.0])])
def test_a_batch_size_that_is_not_one_positive_integer_is_refused_for_simulation(B):
    # Catches draws() rounding or truncating a fractional B, accepting B < 1, or a B per coordinate (one minibatch
    # has one size), which would simulate another noise than the exact moments assume.
    from shb.ground.errors import InputError

    with pytest.raises(InputError, match="must be one positive integer"):
        nqm_montecarlo.draws("minibatch", {"B": B})
    assert nqm_montecarlo.draws("minibatch", {"B": 4.0}) == 4 and nqm_montecarlo.draws("heavy_ball", {}) == 1
