"""The T-step NQM loss of any update rule as one Autograd primitive with a generated reverse-mode adjoint.

final_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, penalty_weight=0)
    = sum_i L_i(T) + penalty_weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2,

with L_i(t) = 1/2 h_i A(x_i(t)) at the rule's loss iterate x after the schedule (alpha_t, mu_t), t < T
(numeric/nqm/dynamics.py). The penalty is the paper's safeguard (Section 2.3) as a soft constraint: no
coordinate's loss above its initial value; coordinates with L_i(0) = 0 are exempt. Autograd sees one node per
rollout instead of one per elementary operation. alpha and mu have shape (T,) or (B, T) (a batch of B schedules);
h, sigma2, mean0, var0 have shape (d,) (one problem) or (B, d) (one problem per schedule, as in the atlas).

Two generated adjoints (symbolic/rule_adjoint.py, symbolic/rule_moments.py):
- without the penalty, the rank-one form: the loss is 1/2 h e^T M_T e for the raw second moment M_t = E[z_t z_t^T]
  of the rule's state, so the adjoint of M_t is 1/2 h w_t w_t^T. One backward pass of `<rule>_direction_step`
  over the schedule alone (w_T = e, w_t = F_t^T w_{t+1}) and one forward pass of `<rule>_probe` (the probe
  r_t = M_t w_t, with the gradient's terms) give L(T) and both gradients;
- with the penalty (its adjoint enters at every step, so it is not rank one), the forward pass of `<rule>_raw_step`
  keeping every step's raw moments, and the backward pass of `<rule>_raw_step_vjp`, which returns the adjoint of
  the moments before each step and that step's contributions to dL/dalpha_t, dL/dmu_t.
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import isbox

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm.dynamics import inverse_start_loss, moments
from shb.numeric.nqm.rules import batch_shape, extras_at, generated, per_step, spec


def final_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, penalty_weight=0.0):
    """Excess loss at step T (plus the weighted safeguard penalty) for each schedule: shape () or (B,).

    Under Autograd: without the penalty, the rank-one passes; with it, the raw moments of every step for
    `<rule>_raw_step_vjp`. A plain evaluation (e.g. a batched grid of schedules) streams through the steps.
    """
    if isbox(alpha) or isbox(mu):
        return _final_loss(alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight)
    return _objective(moments(rule, alpha, mu, h, sigma2, mean0, var0, extras), rule, h, penalty_weight)


def rank_one(rule, alpha, mu, h, sigma2, mean0, var0, extras):
    """(L(T), dL/dalpha, dL/dmu) per schedule, without the penalty, by the rank-one adjoint (module docstring).

    Backward: w_{t+1} for every t, from w_T = e. Forward: r_0 = M_0 w_0 = k (k . w_0) (E[theta_0]^2 + V[theta_0])
    for z(0) = k theta(0); then dL/d(alpha_t, mu_t) = sum_i `probe_gradient`(w_{t+1}, r_t) and
    r_{t+1} = `probe_step`(w_{t+1}, r_t); finally L(T) = sum_i 1/2 h_i r_T[e].
    """
    meta = spec(rule)
    k, e, n = meta["initial"], meta["loss_index"], len(meta["state"])
    alphas, mus = per_step(alpha), per_step(mu)
    extra = extras_at(rule, extras, len(alphas))
    direction, probe = generated(rule, "direction_step"), generated(rule, "probe")
    shape = batch_shape(alpha, h)
    w = tuple(np.ones(shape) if i == e else np.zeros(shape) for i in range(n))
    directions = [None] * len(alphas)
    for t in range(len(alphas) - 1, -1, -1):
        directions[t] = w
        w = direction(alphas[t], mus[t], h, sigma2, *extra[t], *w)
    start = sum(k[i] * w[i] for i in range(n) if k[i]) * (mean0 ** 2 + var0)
    r = tuple(k[i] * start for i in range(n))
    grad_alpha, grad_mu = np.empty(np.shape(alpha)), np.empty(np.shape(mu))
    for t in range(len(alphas)):
        g_alpha, g_mu, *r = probe(alphas[t], mus[t], h, sigma2, *extra[t], *directions[t], *r)
        grad_alpha[..., t], grad_mu[..., t] = g_alpha.sum(axis=-1), g_mu.sum(axis=-1)
    return 0.5 * np.sum(h * r[e], axis=-1), grad_alpha, grad_mu


_last = {}  # the most recent forward pass, reused (once) by the backward pass of the same call


def _cached(kind, compute, alpha, mu, rule, h, sigma2, mean0, var0, extras, keep=True):
    """compute(rule, alpha, ..., extras), remembered for the same arguments until the next call; keep=False (the
    backward pass) forgets it after use, so a repeated call is computed afresh."""
    arrays = (alpha, mu, h, sigma2, mean0, var0, *(extras[name] for name in sorted(extras)))
    key = tuple(np.asarray(x, dtype=float).tobytes() for x in arrays)
    key += (kind, rule, tuple(sorted(extras)), np.shape(alpha), np.shape(h))
    if _last.get("key") != key:
        _last.clear()
        _last.update(key=key, value=compute(rule, alpha, mu, h, sigma2, mean0, var0, extras))
    value = _last["value"]
    if not keep:
        _last.clear()
    return value


def _all_moments(rule, alpha, mu, h, sigma2, mean0, var0, extras):
    return list(moments(rule, alpha, mu, h, sigma2, mean0, var0, extras))


def _excess(loss, inverse_start):
    """relu(L_i / L_i(0) - 1) per coordinate, 0 where L_i(0) = 0; inverse_start from `inverse_start_loss`."""
    inverse, live = inverse_start
    return np.maximum(loss * inverse - live, 0.0)


def _objective(states, rule, h, penalty_weight):
    """sum_i L_i(T) + penalty_weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2 from the raw moments."""
    k, penalty = spec(rule)["loss_index"], 0.0
    for t, state in enumerate(states):
        loss = gen.raw_loss_component(h, state[k])[0]
        if t == 0:
            inverse_start = inverse_start_loss(loss)
        elif penalty_weight:
            penalty = penalty + np.sum(_excess(loss, inverse_start) ** 2, axis=-1)
    return np.sum(loss, axis=-1) + penalty_weight * penalty


@primitive
def _final_loss(alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight=0.0):
    args = (alpha, mu, rule, h, sigma2, mean0, var0, extras)
    if not penalty_weight:
        return _cached("rank-one", rank_one, *args)[0]
    return _objective(_cached("moments", _all_moments, *args), rule, h, penalty_weight)


def schedule_gradient(upstream, alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight=0.0):
    """(dL/dalpha, dL/dmu) by the generated adjoint recursion, scaled by `upstream` per schedule."""
    args = (alpha, mu, rule, h, sigma2, mean0, var0, extras)
    scale = np.asarray(upstream, dtype=float)[..., None]
    if not penalty_weight:
        _, grad_alpha, grad_mu = _cached("rank-one", rank_one, *args, keep=False)
        return grad_alpha * scale, grad_mu * scale
    states = _cached("moments", _all_moments, *args, keep=False)
    grad_alpha, grad_mu = backward(rule, states, alpha, mu, h, sigma2, extras, penalty_weight)
    return grad_alpha * scale, grad_mu * scale


def backward(rule, states, alpha, mu, h, sigma2, extras, penalty_weight):
    """(dL/dalpha, dL/dmu) from the raw moments of every step (states[t], t = 0..T) by `<rule>_raw_step_vjp`: the
    adjoint starts at dL/dA(x_T) for the loss iterate x, each step's penalty term is added to the adjoint of A(x)
    there, and the generated step pulls the adjoint back one step, returning that step's per-coordinate
    dL/dalpha_t and dL/dmu_t."""
    k = spec(rule)["loss_index"]
    step_vjp = generated(rule, "raw_step_vjp")
    inverse_start = inverse_start_loss(gen.raw_loss_component(h, states[0][k])[0])
    adjoint = [0.0] * len(states[0])
    adjoint[k] = gen.raw_loss_component(h, states[-1][k])[1]
    grad_alpha, grad_mu = np.empty(np.shape(alpha)), np.empty(np.shape(mu))
    alphas, mus = per_step(alpha), per_step(mu)
    extra = extras_at(rule, extras, len(alphas))
    for t in range(len(alphas) - 1, -1, -1):
        if penalty_weight:  # the penalty at step t + 1 feeds the adjoint of A(x) there
            loss, dloss = gen.raw_loss_component(h, states[t + 1][k])
            adjoint[k] = adjoint[k] + 2 * penalty_weight * _excess(loss, inverse_start) * inverse_start[0] * dloss
        *adjoint, g_alpha, g_mu = step_vjp(alphas[t], mus[t], h, sigma2, *extra[t], *states[t], *adjoint)
        grad_alpha[..., t], grad_mu[..., t] = g_alpha.sum(axis=-1), g_mu.sum(axis=-1)
    return grad_alpha, grad_mu


def _vjp_maker(argnums, ans, args, kwargs):
    if any(argnum > 1 for argnum in argnums):
        raise NotImplementedError("final_loss is differentiable in the schedule (alpha, mu) only")

    def vjp(g):
        grads = schedule_gradient(g, *args, **kwargs)
        return tuple(grads[argnum] for argnum in argnums)

    return vjp


defvjp_argnums(_final_loss, _vjp_maker)
