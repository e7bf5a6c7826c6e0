"""Exact moments of any update rule on the NQM over a schedule: the numeric side of symbolic/rule_moments.py.

A rule (a key of numeric.nqm.generated_rules.RULES: heavy_ball, nesterov, preconditioned, minibatch,
averaged) has a state z = (theta, v, ...) with z(0) = k theta(0), theta(0) ~ N(mean0, var0) per coordinate
(k = RULES[rule]["initial"]). For a schedule (alpha_t, mu_t), t < T, its generated `<rule>_step` maps the
means and covariances of z one step forward (the rule's Theorem 1) and `<rule>_raw_step` the raw second
moments; the expected excess loss is L(t) = sum_i 1/2 h_i A(x_i(t)) at the rule's loss iterate x (Eq. 6
without its constant; numeric.nqm.generated.raw_loss_component).

`extras` maps the rule's extra inputs to values: per-step ones (RULES[rule]["per_step"], e.g. the
averaging weight gamma) as arrays of shape (T,), the others (a preconditioner p, a batch size B) as numbers
or arrays broadcasting against the coordinates. Shapes as in numeric.nqm.dynamics: alpha, mu of shape (T,)
or (B, T); statistics (T+1, d) or (B, T+1, d); losses (T+1,) or (B, T+1).
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import generated_rules as gen
from shb.numeric.nqm.adjoint import _per_step
from shb.numeric.nqm.dynamics import check_schedule, worst_component_ratio
from shb.numeric.nqm.generated import raw_loss_component


def spec(rule):
    """The generated metadata of a rule (state, initial multiples, extras, loss index, greedy kind, ...)."""
    if rule not in gen.RULES:
        raise InputError(f"unknown update rule {rule!r}; known: {', '.join(gen.RULES)}")
    return gen.RULES[rule]


def generated(rule, kind):
    """The generated function `<rule>_<kind>` (kind: update, step, raw_moments, raw_step, raw_step_vjp, ...)."""
    spec(rule)
    return getattr(gen, f"{rule}_{kind}")


def pairs(rule):
    """Index pairs (a, b) of the second moments, in the generated order (diagonals first, then a < b)."""
    return spec(rule)["pairs"]


def extras_at(rule, extras, T):
    """Per step t < T, the tuple of the rule's extra inputs in generated order (per-step ones indexed by t)."""
    meta = spec(rule)
    missing = [name for name in meta["extras"] if name not in extras]
    unknown = [name for name in extras if name not in meta["extras"]]
    if missing or unknown:
        raise InputError(f"rule {rule} takes extras {list(meta['extras'])}; missing {missing}, unknown {unknown}")
    values = []
    for name in meta["extras"]:
        value = np.asarray(extras[name], dtype=float)
        if name in meta["per_step"]:
            if value.shape != (T,):
                raise InputError(f"rule {rule}: {name} is given per step, shape ({T},), got {value.shape}")
            value = value.tolist()
        else:
            value = [value] * T
        values.append(value)
    return [tuple(v[t] for v in values) for t in range(T)]


def initial_central(rule, mean0, var0, shape):
    """Means and covariances of z(0) = k theta(0) in generated order, broadcast to `shape`."""
    k = spec(rule)["initial"]
    zeros = np.zeros(shape)
    return tuple(k[a] * mean0 + zeros for a in range(len(k))) + tuple(k[a] * k[b] * var0 + zeros for a, b in pairs(rule))


def moments(rule, alpha, mu, h, sigma2, mean0, var0, extras):
    """The raw second moments at t = 0..T, one step at a time (nothing kept)."""
    alphas, mus = _per_step(alpha), _per_step(mu)
    state = generated(rule, "raw_moments")(*initial_central(rule, mean0, var0, np.shape(alpha)[:-1] + np.shape(h)))
    yield state
    step = generated(rule, "raw_step")
    for alpha_t, mu_t, extra_t in zip(alphas, mus, extras_at(rule, extras, len(alphas))):
        state = step(alpha_t, mu_t, h, sigma2, *extra_t, *state)
        yield state


def loss_of(rule, h, state):
    """Per-coordinate excess loss 1/2 h A(x) at the rule's loss iterate, from raw moments."""
    return raw_loss_component(h, state[spec(rule)["loss_index"]])[0]


def rollout(rule, problem, alpha, mu, extras):
    """Means and covariances for t = 0..T (keys RULES[rule]["central"]) and "loss" (plain numpy).

    For heavy_ball the keys and values are those of numeric.nqm.dynamics.rollout (to rounding).
    """
    alpha, mu = check_schedule(alpha, mu)
    T, batch, d = alpha.shape[-1], alpha.shape[:-1], problem.h.size
    names = spec(rule)["central"]
    out = {name: np.empty(batch + (T + 1, d)) for name in names}
    stats = initial_central(rule, problem.mean0, problem.var0, batch + (d,))
    step = generated(rule, "step")
    to_raw = generated(rule, "raw_moments")
    losses = [loss_of(rule, problem.h, to_raw(*stats))]
    for name, value in zip(names, stats):
        out[name][..., 0, :] = value
    for t, (alpha_t, mu_t, extra_t) in enumerate(zip(_per_step(alpha), _per_step(mu), extras_at(rule, extras, T))):
        stats = step(alpha_t, mu_t, problem.h, problem.sigma2, *extra_t, *stats)
        for name, value in zip(names, stats):
            out[name][..., t + 1, :] = value
        losses.append(loss_of(rule, problem.h, to_raw(*stats)))
    out["loss"] = np.stack(losses, axis=-2).sum(axis=-1)
    return out


def max_component_ratio(rule, problem, alpha, mu, extras):
    """max over t and coordinates with L_i(0) > 0 of L_i(t) / L_i(0) (the safeguard, Section 2.3), per schedule;
    one step at a time (numeric.nqm.dynamics.worst_component_ratio)."""
    alpha, mu = check_schedule(alpha, mu)
    states = moments(rule, alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0, extras)
    return worst_component_ratio((loss_of(rule, problem.h, s) for s in states), alpha.shape[:-1])
