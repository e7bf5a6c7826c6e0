"""Monte-Carlo simulation of any update rule's own stochastic update on the NQM: the independent check of
its moment recurrences (numeric/nqm/rule_dynamics.py).

Each run draws theta_i(0) ~ N(mean0_i, var0_i), sets the state to z(0) = k theta(0) (velocity 0, an averaged
iterate equal to theta(0)), and applies the generated `<rule>_update` (the rule's update itself, printed from
symbolic/optimizers.py, never its moments) with the sampled stochastic minimum of Eq. 3:

    c_i = mean of `draws` independent N(0, sigma2_i) samples       (draws = 1, or the batch size B),

so a minibatch's gradient h (theta - c) is the mean of B single-draw gradients h (theta - c_k) (the
gradient is affine in c), and the variance sigma2 / B of its noise is what the simulation produces, not
what it is told. Runs are vectorized in chunks; per-chunk moments are merged exactly (numeric/nqm/montecarlo.py).
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm.montecarlo import _merge
from shb.numeric.nqm.rule_dynamics import extras_at, generated, spec


def draws(rule, extras):
    """How many noise draws one gradient averages: 1, or the rule's batch-size extra (a positive integer)."""
    name = spec(rule)["draws"]
    if name is None:
        return 1
    value = np.asarray(extras[name], dtype=float)
    if value.ndim != 0 or value < 1 or value != np.round(value):
        raise InputError(f"rule {rule}: {name} must be one positive integer for simulation, got {extras[name]!r}")
    return int(value)


def simulate(rule, problem, alpha, mu, runs, seed, extras, steps=None, chunk=None):
    """Sample means and variances (ddof = 1) of every state variable over `runs` independent runs.

    alpha, mu: shape (T,). steps: the steps t in 0..T to report (default [T]). Returns {"steps", and for each
    state variable x: "mean_x", "var_x" of shape (len(steps), d)}.
    """
    alpha, mu = np.asarray(alpha, dtype=float), np.asarray(mu, dtype=float)
    if alpha.ndim != 1 or alpha.shape != mu.shape:
        raise ValueError(f"alpha {alpha.shape} and mu {mu.shape} must both have shape (T,)")
    if not (isinstance(runs, (int, np.integer)) and runs >= 2):
        raise ValueError(f"runs must be an integer >= 2 (a sample variance needs two runs), got {runs!r}")
    T, d = alpha.size, problem.h.size
    steps = [T] if steps is None else sorted(set(int(t) for t in steps))
    if steps and (steps[0] < 0 or steps[-1] > T):
        raise ValueError(f"requested steps must lie in 0..{T}, got {steps}")
    meta = spec(rule)
    names, k, n_draws = meta["state"], meta["initial"], draws(rule, extras)
    extra, update = extras_at(rule, extras, T), generated(rule, "update")
    report = {t: j for j, t in enumerate(steps)}
    chunk = max(1, min(runs, 1_000_000 // (d * n_draws))) if chunk is None else chunk
    scale = np.sqrt(problem.sigma2)
    rng = np.random.default_rng(seed)
    zero = np.zeros((len(steps), d))
    acc = {name: (0, zero, zero) for name in names}
    for start in range(0, runs, chunk):
        n = min(chunk, runs - start)
        theta0 = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((n, d))
        state = tuple(k_a * theta0 for k_a in k)
        part = {name: (np.empty((len(steps), d)), np.empty((len(steps), d))) for name in names}
        for t in range(T + 1):
            if t in report:
                for name, x in zip(names, state):
                    mean = x.mean(axis=0)
                    part[name][0][report[t]] = mean
                    part[name][1][report[t]] = ((x - mean) ** 2).sum(axis=0)
            if t == T:
                break
            c = scale * rng.standard_normal((n_draws, n, d)).mean(axis=0)
            state = update(alpha[t], mu[t], problem.h, c, *extra[t], *state)
        for name in names:
            acc[name] = _merge(acc[name], n, *part[name])
    out = {"steps": np.array(steps)}
    for name in names:
        count, mean, m2 = acc[name]
        out["mean_" + name], out["var_" + name] = mean, m2 / (count - 1)
    return out
