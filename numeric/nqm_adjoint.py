"""The T-step NQM loss as one Autograd primitive with a generated reverse-mode adjoint.

final_loss(alpha, mu, h, sigma2, mean0, var0) = sum_i 1/2 h_i (E[theta_i(T)]^2 + V[theta_i(T)])
after the schedule (alpha_t, mu_t), t < T (Theorem 1, velocity starting at 0).
The forward pass runs the generated `nqm_step`; the backward pass runs the
generated `nqm_step_vjp` (symbolic/adjoint.py) from step T down to 0, so Autograd
sees one node per rollout instead of one per elementary operation.
alpha and mu have shape (T,) or (B, T) for a batch of B schedules.
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive

from numeric import nqm_generated as gen


def _rollout(alpha, mu, h, sigma2, mean0, var0):
    """The statistics at t = 0..T, each a 5-tuple of arrays of shape alpha.shape[:-1] + (d,)."""
    batch = np.shape(alpha)[:-1]
    zeros = np.zeros(batch + np.shape(h))
    state = (mean0 + zeros, zeros, var0 + zeros, zeros, zeros)
    states = [state]
    for t in range(np.shape(alpha)[-1]):
        state = gen.nqm_step(alpha[..., t, None], mu[..., t, None], h, sigma2, *state)
        states.append(state)
    return states


@primitive
def final_loss(alpha, mu, h, sigma2, mean0, var0):
    """Excess loss at step T for each schedule in the batch."""
    state = _rollout(alpha, mu, h, sigma2, mean0, var0)[-1]
    return np.sum(gen.loss_component(h, state[0], state[2]), axis=-1)


def schedule_gradient(upstream, alpha, mu, h, sigma2, mean0, var0):
    """(dL/dalpha, dL/dmu) by the generated adjoint recursion, scaled by `upstream` per schedule."""
    states = _rollout(alpha, mu, h, sigma2, mean0, var0)
    scale = np.asarray(upstream)[..., None]
    adjoint = tuple(a * scale for a in gen.loss_component_vjp(h, *states[-1]))
    grad_alpha = np.zeros(np.shape(alpha))
    grad_mu = np.zeros(np.shape(mu))
    for t in range(np.shape(alpha)[-1] - 1, -1, -1):
        *adjoint, g_alpha, g_mu = gen.nqm_step_vjp(alpha[..., t, None], mu[..., t, None], h, sigma2, *states[t], *adjoint)
        grad_alpha[..., t] = np.sum(g_alpha, axis=-1)
        grad_mu[..., t] = np.sum(g_mu, axis=-1)
    return grad_alpha, grad_mu


def _vjp(argnums, ans, args, kwargs):
    """One adjoint pass serves both alpha and mu."""
    if any(argnum > 1 for argnum in argnums):
        raise NotImplementedError("final_loss is differentiable in the schedule (alpha, mu) only")

    def vjp(g):
        grads = schedule_gradient(g, *args)
        return tuple(grads[argnum] for argnum in argnums)

    return vjp


defvjp_argnums(final_loss, _vjp)
