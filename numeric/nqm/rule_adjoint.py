"""The T-step loss of any update rule as one Autograd primitive, differentiated by its generated adjoint.

final_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, penalty_weight=0)
    = sum_i L_i(T) + penalty_weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2,

with L_i(t) = 1/2 h_i A(x_i(t)) at the rule's loss iterate x (numeric/nqm/rule_dynamics.py), the penalty
being the paper's safeguard (Section 2.3) as in numeric/nqm/adjoint.py. The gradient with respect to the
schedule is the reverse-mode adjoint of the raw-moment recurrence: the forward pass keeps the raw moments
m_t of every step, and the backward pass (numeric.nqm.adjoint.backward, heavy ball's with the safeguard)
starts from dL/dm_T = (1/2 h at A(x), 0 elsewhere), adds each step's penalty term to the adjoint of A(x),
and applies the generated `<rule>_raw_step_vjp` (the transposed Jacobian of `<rule>_raw_step`,
symbolic/rule_moments.py), which also returns that step's per-coordinate contributions to dL/dalpha_t and
dL/dmu_t. A plain call (no Autograd box) streams the moments instead.
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import isbox

from shb.numeric.nqm.adjoint import _objective, backward, schedule_vjp
from shb.numeric.nqm.rule_dynamics import extras_at, generated, moments, spec


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
    states = list(moments(rule, alpha, mu, h, sigma2, mean0, var0, extras))
    grad_alpha, grad_mu = backward(states, alpha, mu, h, sigma2, penalty_weight, generated(rule, "raw_step_vjp"),
                                   spec(rule)["loss_index"], extras_at(rule, extras, np.shape(alpha)[-1]))
    scale = np.asarray(upstream, dtype=float)[..., None]
    return grad_alpha * scale, grad_mu * scale


defvjp_argnums(_final_loss, schedule_vjp(schedule_gradient))
