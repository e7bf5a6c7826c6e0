"""The T-step loss of any update rule as one Autograd primitive, differentiated by its generated adjoint.

final_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, penalty_weight=0)
    = sum_i L_i(T) + penalty_weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2,

with L_i(t) = 1/2 h_i A(x_i(t)) at the rule's loss iterate x (numeric/nqm_rule_dynamics.py), the penalty
being the paper's safeguard (Section 2.3) as in numeric/nqm_adjoint.py. The gradient with respect to the
schedule is the reverse-mode adjoint of the raw-moment recurrence: the forward pass keeps the raw moments
m_t of every step, the backward pass starts from dL/dm_T = (1/2 h at A(x), 0 elsewhere), adds each step's
penalty term to the adjoint of A(x), and applies the generated `<rule>_raw_step_vjp` (the transposed
Jacobian of `<rule>_raw_step`, symbolic/rule_moments.py), which also returns that step's per-coordinate
contributions to dL/dalpha_t and dL/dmu_t. A plain call (no Autograd box) streams the moments instead.
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import isbox

from shb.numeric.nqm_adjoint import _excess, _objective, _per_step, inverse_start_loss
from shb.numeric.nqm_generated import raw_loss_component
from shb.numeric.nqm_rule_dynamics import extras_at, generated, moments, spec


def final_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, penalty_weight=0.0):
    """Excess loss at step T (plus the weighted safeguard penalty) for each schedule: shape () or (B,).

    Differentiable by Autograd in alpha and mu through one primitive (the generated adjoint).
    """
    if isbox(alpha) or isbox(mu):
        return _final_loss(alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight)
    return _value(alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight)


def _value(alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight):
    k = spec(rule)["loss_index"]
    states = ((s[k],) for s in moments(rule, alpha, mu, h, sigma2, mean0, var0, extras))
    return _objective(states, h, penalty_weight)


_final_loss = primitive(_value)


def schedule_gradient(upstream, alpha, mu, rule, h, sigma2, mean0, var0, extras, penalty_weight=0.0):
    """(dL/dalpha, dL/dmu) by the generated adjoint recursion, scaled by `upstream` per schedule."""
    k = spec(rule)["loss_index"]
    states = list(moments(rule, alpha, mu, h, sigma2, mean0, var0, extras))
    inverse_start = inverse_start_loss(raw_loss_component(h, states[0][k])[0])
    adjoint = [0.0] * len(states[0])
    adjoint[k] = raw_loss_component(h, states[-1][k])[1]
    vjp = generated(rule, "raw_step_vjp")
    alphas, mus = _per_step(alpha), _per_step(mu)
    extra = extras_at(rule, extras, len(alphas))
    grad_alpha, grad_mu = np.empty(np.shape(alpha)), np.empty(np.shape(mu))
    for t in range(len(alphas) - 1, -1, -1):
        if penalty_weight:  # the penalty at step t + 1 feeds the adjoint of A(x) there
            loss, dloss = raw_loss_component(h, states[t + 1][k])
            adjoint[k] = adjoint[k] + 2 * penalty_weight * _excess(loss, inverse_start) * inverse_start[0] * dloss
        *adjoint, g_alpha, g_mu = vjp(alphas[t], mus[t], h, sigma2, *extra[t], *states[t], *adjoint)
        grad_alpha[..., t], grad_mu[..., t] = np.sum(g_alpha, axis=-1), np.sum(g_mu, axis=-1)
    scale = np.asarray(upstream, dtype=float)[..., None]
    return grad_alpha * scale, grad_mu * scale


def _vjp(argnums, ans, args, kwargs):
    """One adjoint pass serves both alpha and mu."""
    if any(argnum > 1 for argnum in argnums):
        raise NotImplementedError("final_loss is differentiable in the schedule (alpha, mu) only")

    def vjp(g):
        grads = schedule_gradient(g, *args, **kwargs)
        return tuple(grads[argnum] for argnum in argnums)

    return vjp


defvjp_argnums(_final_loss, _vjp)
