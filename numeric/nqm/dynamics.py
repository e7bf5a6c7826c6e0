"""Exact moments of any update rule on the NQM over a schedule: its Theorem 1, applied step by step.

For a schedule (alpha_t, mu_t), t < T, the rule's generated `<rule>_step` maps the means and covariances of its
state z = (theta, v, ...) one step forward (for heavy ball, Theorem 1's five statistics) and `<rule>_raw_step`
the raw second moments. The expected excess loss at step t is (Eq. 6 without its constant)

    L(t) = sum_i 1/2 h_i A(x_i(t)),   A(x) = E[x]^2 + V[x],   x the rule's loss iterate (theta, or an average).

Shapes: d coordinates (last axis). A schedule is alpha, mu of shape (T,) or (B, T) (a batch of B schedules rolled
out together); statistics come back as (T+1, d) or (B, T+1, d) and losses as (T+1,) or (B, T+1). The gradient of
L(T) with respect to the schedule is numeric/nqm/adjoint.py's.
"""
import numpy as np

from shb.numeric.nqm.rules import (batch_shape, check_schedule, extras_at, generated, initial_central, loss_of,
                                   per_step, spec)


def statistics(rule):
    """The names of the means and covariances a rollout returns (besides "loss"), in generated order."""
    return spec(rule)["central"]


def rollout(rule, problem, alpha, mu, extras):
    """Means and covariances for t = 0..T (keys `statistics(rule)`) and "loss" (plain numpy)."""
    alpha, mu = check_schedule(alpha, mu)
    T, batch, d = alpha.shape[-1], alpha.shape[:-1], problem.h.size
    names = statistics(rule)
    out = {name: np.empty(batch + (T + 1, d)) for name in names}
    stats = initial_central(rule, problem.mean0, problem.var0, batch + (d,))
    step, to_raw = generated(rule, "step"), generated(rule, "raw_moments")
    losses = [loss_of(rule, problem.h, to_raw(*stats))]
    for name, value in zip(names, stats):
        out[name][..., 0, :] = value
    for t, (alpha_t, mu_t, extra_t) in enumerate(zip(per_step(alpha), per_step(mu), extras_at(rule, extras, T))):
        stats = step(alpha_t, mu_t, problem.h, problem.sigma2, *extra_t, *stats)
        for name, value in zip(names, stats):
            out[name][..., t + 1, :] = value
        losses.append(loss_of(rule, problem.h, to_raw(*stats)))
    out["loss"] = np.stack(losses, axis=-2).sum(axis=-1)
    return out


def loss_components(rule, problem, stats):
    """Per-coordinate excess loss 1/2 h_i (E[x_i]^2 + V[x_i]) at the loss iterate x, for every step of a rollout."""
    x = spec(rule)["state"][spec(rule)["loss_index"]]
    return loss_of(rule, problem.h, (stats[f"mean_{x}"] ** 2 + stats[f"var_{x}"],) * (spec(rule)["loss_index"] + 1))


def step_temporaries(rule):
    """At most the d-vectors one generated `<rule>_step` holds at once: its locals (its common subexpressions and
    outputs; 12 for heavy ball, 33 for an average)."""
    code = generated(rule, "step").__code__
    return code.co_nlocals - code.co_argcount


def rollout_bytes(d, T, batch=1, statistics=5, rule=None):
    """Memory `rollout` needs, an upper bound: a (T+1) x d array per statistic (five for heavy ball's state
    (theta, v): len(statistics(rule)) in general), the per-step losses and two temporaries of that size, and one
    step's d-vectors, which dominate when T is small: two per statistic and the generated step's own
    (`step_temporaries`). rule: the rule rolled out (its statistics and its step); without it, `statistics`
    statistics and heavy ball's step."""
    temporaries = 12
    if rule is not None:
        statistics, temporaries = len(spec(rule)["central"]), step_temporaries(rule)
    return 8 * ((statistics + 3) * (T + 1) + 2 * statistics + temporaries) * d * batch


def moments(rule, alpha, mu, h, sigma2, mean0, var0, extras):
    """The raw second moments at t = 0..T, one step at a time (nothing kept). h, sigma2, mean0, var0 of shape (d,)
    (one problem) or (B, d) (problem b for schedule b)."""
    alphas, mus = per_step(alpha), per_step(mu)
    shape = batch_shape(alpha, h)
    state = generated(rule, "raw_moments")(*initial_central(rule, mean0, var0, shape))
    yield state
    step = generated(rule, "raw_step")
    for alpha_t, mu_t, extra_t in zip(alphas, mus, extras_at(rule, extras, len(alphas))):
        state = step(alpha_t, mu_t, h, sigma2, *extra_t, *state)
        yield state


def max_component_ratio(rule, problem, alpha, mu, extras):
    """max over t = 0..T and coordinates i with L_i(0) > 0 of L_i(t) / L_i(0), per schedule (plain numpy).

    >= 1 always (t = 0); <= 1 means no coordinate's loss component ever exceeds its initial value (the paper's
    safeguard, Section 2.3). Shape () for alpha (T,), (B,) for (B, T); memory O(B d).
    """
    alpha, mu = check_schedule(alpha, mu)
    states = moments(rule, alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0, extras)
    return worst_component_ratio((loss_of(rule, problem.h, s) for s in states), alpha.shape[:-1])


def inverse_start_loss(start):
    """(1 / L_i(0), 1) per coordinate, (0, 0) where L_i(0) = 0 (those coordinates are exempt from the safeguard)."""
    live = start > 0
    return np.where(live, 1.0 / np.where(live, start, 1.0), 0.0), live.astype(float)


def worst_component_ratio(losses, batch):
    """max over t and coordinates with L_i(0) > 0 of L_i(t) / L_i(0), from the per-coordinate losses L_i(t),
    t = 0..T, one step at a time (at least 1: t = 0); `batch` is the schedules' batch shape."""
    worst = np.ones(batch)
    for t, loss in enumerate(losses):
        if t == 0:
            inverse_start, _ = inverse_start_loss(loss)
        worst = np.fmax(worst, np.max(loss * inverse_start, axis=-1))
    return worst
