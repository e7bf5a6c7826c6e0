"""The T-step NQM loss as one Autograd primitive with a generated reverse-mode adjoint.

final_loss(alpha, mu, h, sigma2, mean0, var0) = sum_i 1/2 h_i (E[theta_i(T)]^2 + V[theta_i(T)])
after the schedule (alpha_t, mu_t), t < T (Theorem 1, velocity starting at 0).

Forward: the generated `nqm_step`, T times, keeping the statistics of every step.
Backward: the generated `nqm_step_vjp` (symbolic/adjoint.py) from step T down to 1, which
returns the adjoint of the statistics before each step and that step's per-coordinate
contributions to dL/dalpha_t and dL/dmu_t. Autograd sees one node per rollout instead of one
per elementary operation. alpha and mu have shape (T,) or (B, T) (a batch of B schedules).
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive

from numeric import nqm_generated as gen


def _per_step(x):
    """The step-t hyperparameters: Python floats for one schedule, (B, 1) columns for a batch."""
    x = np.asarray(x, dtype=float)
    return x.tolist() if x.ndim == 1 else list(np.moveaxis(x, -1, 0)[..., None])


def rollout_stats(alpha, mu, h, sigma2, mean0, var0):
    """The five statistics at t = 0..T: a list of T+1 tuples of arrays of shape batch + (d,)."""
    zeros = np.zeros(np.shape(alpha)[:-1] + np.shape(h))
    state = (mean0 + zeros, zeros, var0 + zeros, zeros, zeros)
    states = [state]
    for alpha_t, mu_t in zip(_per_step(alpha), _per_step(mu)):
        state = gen.nqm_step(alpha_t, mu_t, h, sigma2, *state)
        states.append(state)
    return states


_last = {}  # the most recent forward pass, reused by the backward pass of the same call


def _forward(alpha, mu, h, sigma2, mean0, var0):
    key = tuple(np.asarray(x, dtype=float).tobytes() for x in (alpha, mu, h, sigma2, mean0, var0))
    key += (np.shape(alpha), np.shape(h))
    if _last.get("key") != key:
        _last.clear()
        _last.update(key=key, states=rollout_stats(alpha, mu, h, sigma2, mean0, var0))
    return _last["states"]


@primitive
def final_loss(alpha, mu, h, sigma2, mean0, var0):
    """Excess loss at step T for each schedule in the batch."""
    state = _forward(alpha, mu, h, sigma2, mean0, var0)[-1]
    return np.sum(gen.loss_component(h, state[0], state[2]), axis=-1)


def schedule_gradient(upstream, alpha, mu, h, sigma2, mean0, var0):
    """(dL/dalpha, dL/dmu) by the generated adjoint recursion, scaled by `upstream` per schedule."""
    states = _forward(alpha, mu, h, sigma2, mean0, var0)
    scale = np.asarray(upstream, dtype=float)[..., None]
    adjoint = tuple(a * scale for a in gen.loss_component_vjp(h, *states[-1]))
    grad_alpha = np.zeros(np.shape(alpha))
    grad_mu = np.zeros(np.shape(mu))
    alphas, mus = _per_step(alpha), _per_step(mu)
    for t in range(len(alphas) - 1, -1, -1):
        *adjoint, g_alpha, g_mu = gen.nqm_step_vjp(alphas[t], mus[t], h, sigma2, *states[t], *adjoint)
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
