"""The paper's safeguard (Section 2.3): no coordinate's loss component above its initial value, L_i(t) <= L_i(0).

For any update rule (an `UpdateRule` of numeric/nqm/optimizers.py): its violation, and the exact per-step
learning-rate bound that `optimized` uses to make a fitted schedule keep it.
"""
import numpy as np

from shb.numeric.nqm.rules import extras_at, generated, initial_central, loss_of

SAFEGUARD_MARGIN = 1e-12  # relative slack below L_i(0) that the learning-rate bound aims for (rounding)


def initial_components(opt, problem):
    """L_i(0) = 1/2 h_i A(x_i(0)) at the rule's loss iterate (1/2 h_i (mean0_i^2 + var0_i) for theta)."""
    stats = initial_central(opt.rule, problem.mean0, problem.var0, problem.h.shape)
    return loss_of(opt.rule, problem.h, generated(opt.rule, "raw_moments")(*stats))


def constraint_violation(opt, problem, alpha, mu):
    """max over t and i of L_i(t) / L_i(0) - 1: > 0 iff some coordinate's loss component rises above its initial
    value. Coordinates starting at the optimum (L_i(0) = 0) are exempt (with noise no step can keep them at 0)."""
    return float(opt.max_component_ratio(problem, alpha, mu)) - 1.0


def learning_rate_bound(one_step, h, start):
    """The largest alpha such that no coordinate's loss after this step exceeds start_i, at a given mu.

    one_step: alpha -> the per-coordinate one-step loss l_i(alpha) (the rule's Eq. 15 at the current moments and
    this step's mu), a convex quadratic in alpha, l_i(alpha) = c2 alpha^2 + c1 alpha + c0 (coefficients read off
    three evaluations); the bound is the smallest upper root of l_i(alpha) = start_i (1 - margin) over
    coordinates with start_i > 0 and c2 > 0. Returns (upper, lower): the feasible set is [lower, upper] (empty if
    lower > upper; upper = +inf if nothing binds).
    """
    s = 1.0 / h.max()
    l0, lp, lm = (one_step(a) for a in (0.0, s, -s))
    c2 = (lp + lm - 2 * l0) / (2 * s * s)
    c1 = (lp - lm) / (2 * s)
    c0 = l0 - start * (1 - SAFEGUARD_MARGIN)
    binds = (start > 0) & (c2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.where(binds, c1 * c1 - 4 * c2 * c0, -1.0))
        upper = np.where(binds, (-c1 + root) / (2 * c2), np.inf)
        lower = np.where(binds, (-c1 - root) / (2 * c2), -np.inf)
    if np.any(np.isnan(upper[binds])):  # some coordinate exceeds start_i for every alpha
        return -np.inf, np.inf
    return float(np.min(upper)), float(np.max(lower))


def project_safeguard(opt, problem, alpha, mu):
    """Cap each alpha_t at the learning-rate bound of the moments it meets: alpha_t <- min(alpha_t, bound), stepping
    forward so later bounds see the capped past. Where no alpha can keep every component down (momentum alone
    overshoots), alpha_t is left as it is, and `constraint_violation` reports the excess."""
    alpha, mu = np.array(alpha, dtype=float), np.asarray(mu, dtype=float)
    rule, T = opt.rule, alpha.size
    extras = extras_at(rule, opt.extras(problem, T), T)
    step, to_raw, one_step = (generated(rule, k) for k in ("step", "raw_moments", "one_step_loss"))
    stats = initial_central(rule, problem.mean0, problem.var0, problem.h.shape)
    start = loss_of(rule, problem.h, to_raw(*stats))
    for t in range(T):
        raw = to_raw(*stats)
        upper, lower = learning_rate_bound(
            lambda a: one_step(a, mu[t], problem.h, problem.sigma2, *extras[t], *raw), problem.h, start)
        if alpha[t] > upper >= lower:
            alpha[t] = max(upper, 0.0)
        stats = step(alpha[t], mu[t], problem.h, problem.sigma2, *extras[t], *stats)
    return alpha
