"""Monte-Carlo simulation of any update rule's own stochastic update on the NQM: the independent check of its
moment recurrences (numeric/nqm/dynamics.py).

Each run draws theta_i(0) ~ N(mean0_i, var0_i), sets the state to z(0) = k theta(0) (velocity 0, an averaged
iterate equal to theta(0)), and applies the generated `<rule>_update` (the rule's update itself, printed from its
module in symbolic/optimizers/, never its moments) with the sampled stochastic minimum of Eq. 3:

    c_i = mean of `draws` independent N(0, sigma2_i) samples       (draws = 1, or the batch size B),

so a minibatch's gradient h (theta - c) is the mean of B single-draw gradients h (theta - c_k) (the gradient is
affine in c), and the variance sigma2 / B of its noise is what the simulation produces, not what it is told.
Runs are independent and vectorized (arrays of shape (runs, d)), processed in chunks to bound memory; per-chunk
moments are merged exactly (Chan, Golub & LeVeque's pairwise update), so the result does not depend on the chunk
size beyond rounding. Seeded with numpy's Generator.
"""
import numpy as np

from shb.ground.errors import InputError
from shb.ground.progress import progress_if_long
from shb.numeric.nqm.rules import extras_at, generated, spec


def _merge(acc, n_b, mean_b, m2_b):
    """Merge (count, mean, sum of squared deviations) of two samples (Chan et al. 1979)."""
    n_a, mean_a, m2_a = acc
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta**2 * (n_a * n_b / n)
    return n, mean, m2


def draws(rule, extras):
    """How many noise draws one gradient averages: 1, or the rule's batch-size extra (a positive integer)."""
    name = spec(rule)["draws"]
    if name is None:
        return 1
    value = np.asarray(extras[name], dtype=float)
    if value.ndim != 0 or value < 1 or value != np.round(value):
        raise InputError(f"rule {rule}: {name} must be one positive integer for simulation, got {extras[name]!r}")
    return int(value)


def _check(alpha, mu, runs):
    alpha, mu = np.asarray(alpha, dtype=float), np.asarray(mu, dtype=float)
    if alpha.ndim != 1 or alpha.shape != mu.shape:
        raise ValueError(f"alpha {alpha.shape} and mu {mu.shape} must both have shape (T,)")
    if not (isinstance(runs, (int, np.integer)) and runs >= 1):
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    return alpha, mu


def _runs(rule, problem, alpha, mu, n, rng, extras, n_draws):
    """The states of n runs at t = 0..T, one step at a time (a generator of state tuples)."""
    k, update = spec(rule)["initial"], generated(rule, "update")
    extra, scale = extras_at(rule, extras, alpha.size), np.sqrt(problem.sigma2)
    theta0 = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((n, problem.h.size))
    state = tuple(k_a * theta0 for k_a in k)
    yield state
    for t in range(alpha.size):
        c = scale * rng.standard_normal((n_draws, n, problem.h.size)).mean(axis=0)
        state = update(alpha[t], mu[t], problem.h, c, *extra[t], *state)
        yield state


def simulate(rule, problem, alpha, mu, runs, seed, extras, steps=None, chunk=None):
    """Sample means and variances (ddof = 1) of every state variable over `runs` independent runs.

    alpha, mu: shape (T,). steps: the steps t in 0..T to report (default [T]). Returns {"steps", and for each
    state variable x: "mean_x", "var_x" of shape (len(steps), d)}.
    """
    alpha, mu = _check(alpha, mu, runs)
    if runs < 2:
        raise ValueError(f"runs must be an integer >= 2 (a sample variance needs two runs), got {runs!r}")
    T, d = alpha.size, problem.h.size
    steps = [T] if steps is None else sorted(set(int(t) for t in steps))
    if steps and (steps[0] < 0 or steps[-1] > T):
        raise ValueError(f"requested steps must lie in 0..{T}, got {steps}")
    names, n_draws = spec(rule)["state"], draws(rule, extras)
    report = {t: j for j, t in enumerate(steps)}
    chunk = max(1, min(runs, 1_000_000 // (d * n_draws))) if chunk is None else chunk
    rng = np.random.default_rng(seed)
    zero = np.zeros((len(steps), d))
    acc = {name: (0, zero, zero) for name in names}
    seconds = simulate_cost(d, T, runs, len(steps), len(names), n_draws)[1]
    for start in progress_if_long(range(0, runs, chunk), -(-runs // chunk), "monte carlo", seconds, "chunks"):
        n = min(chunk, runs - start)
        part = {name: (np.empty((len(steps), d)), np.empty((len(steps), d))) for name in names}
        for t, state in enumerate(_runs(rule, problem, alpha, mu, n, rng, extras, n_draws)):
            if t in report:
                for name, x in zip(names, state):
                    mean = x.mean(axis=0)
                    part[name][0][report[t]] = mean
                    part[name][1][report[t]] = ((x - mean) ** 2).sum(axis=0)
        for name in names:
            acc[name] = _merge(acc[name], n, *part[name])
    out = {"steps": np.array(steps)}
    for name in names:
        count, mean, m2 = acc[name]
        out["mean_" + name], out["var_" + name] = mean, m2 / (count - 1)
    return out


# Seconds per (run, step, coordinate) of `simulate`: one normal draw and a few multiply-adds, measured with one
# BLAS thread (an estimate for refusing what would take days, not a promise).
SECONDS_PER_SAMPLE_STEP = 3e-8


def simulate_cost(d, T, runs, n_steps=1, state=2, n_draws=1):
    """(bytes, seconds) that `simulate` needs: a chunk of about a million samples of the state and its temporaries
    (3 state + 2 + draws float64 arrays of the chunk's size at the peak, an upper bound), plus the reported
    moments, and one update per run, step, draw and coordinate."""
    chunk = max(1, min(runs, 1_000_000 // (d * n_draws)))
    return (8 * ((3 * state + 2 + n_draws) * chunk * d + 6 * state * n_steps * d),
            SECONDS_PER_SAMPLE_STEP * runs * T * d * n_draws)


def sample_paths(rule, problem, alpha, mu, runs, seed, extras):
    """The loss iterate (theta, or the average) at t = 0..T of `runs` independent runs, shape (runs, T+1, d): whole
    trajectories of the same stochastic update as `simulate`, for drawing (Figure 1)."""
    alpha, mu = _check(alpha, mu, runs)
    k = spec(rule)["loss_index"]
    rng = np.random.default_rng(seed)
    states = _runs(rule, problem, alpha, mu, runs, rng, extras, draws(rule, extras))
    return np.stack([state[k] for state in states], axis=1)
