"""The T-step NQM loss as one Autograd primitive with a generated reverse-mode adjoint.

final_loss(alpha, mu, h, sigma2, mean0, var0, penalty_weight=0)
    = sum_i L_i(T) + penalty_weight * sum_{t, i} relu(L_i(t) / L_i(0) - 1)^2,
with L_i(t) = 1/2 h_i (E[theta_i(t)]^2 + V[theta_i(t)]) after the schedule (alpha_t, mu_t), t < T
(Theorem 1, velocity starting at 0). The penalty is the paper's safeguard (Section 2.3) as a soft
constraint: no coordinate's loss above its initial value; coordinates with L_i(0) = 0 are exempt.
Autograd sees one node per rollout instead of one per elementary operation. alpha and mu have
shape (T,) or (B, T) (a batch of B schedules); h, sigma2, mean0, var0 have shape (d,) (one problem) or (B, d)
(one problem per schedule, as in the atlas of experiments/figures/atlas.py).

Two generated adjoints (symbolic/adjoint.py):
- without the penalty, the rank-one form: with z = (theta, v) the loss is 1/2 h e_theta^T M_T e_theta
  for the raw second moment M_t = E[z_t z_t^T], so the adjoint of M_t is 1/2 h w_t w_t^T. One backward
  pass of `direction_step` over the schedule alone (w_T = e_theta, w_t = A_t^T w_{t+1}) and one forward
  pass of `probe_step` (r_t = M_t w_t) with `probe_gradient` give L(T) and both gradients: 2 x 2 numbers
  per coordinate and step instead of 5 + 5;
- with the penalty (its adjoint enters at every step, so it is not rank one), the forward pass of
  `raw_step` keeping every step's raw moments (A(theta), A(v), E[theta v]) -- the losses are
  1/2 h A(theta), so these three suffice -- and the backward pass of `raw_step_vjp`, which returns the
  adjoint of the moments before each step and that step's contributions to dL/dalpha_t, dL/dmu_t.
"""
import numpy as np
from autograd.extend import defvjp_argnums, primitive
from autograd.tracer import isbox

from shb.numeric.nqm import generated as gen


def _per_step(x):
    """The step-t hyperparameters: Python floats for one schedule, (B, 1) columns for a batch."""
    x = np.asarray(x, dtype=float)
    return x.tolist() if x.ndim == 1 else list(np.moveaxis(x, -1, 0)[..., None])


def batch_shape(alpha, h):
    """The shape (..., d) of per-coordinate arrays: the schedules' batch shape broadcast against h's leading axes
    (h of shape (d,): one problem for every schedule; (B, d): problem b for schedule b)."""
    return np.broadcast_shapes(np.shape(alpha)[:-1] + (1,), np.shape(h))


_last = {}  # the most recent forward pass, reused (once) by the backward pass of the same call


def _cached(kind, compute, alpha, mu, h, sigma2, mean0, var0, keep=True):
    """compute(alpha, ..., var0), remembered for the same arguments until the next call; keep=False
    (the backward pass) forgets it after use, so a repeated call is computed afresh."""
    key = tuple(np.asarray(x, dtype=float).tobytes() for x in (alpha, mu, h, sigma2, mean0, var0))
    key += (kind, np.shape(alpha), np.shape(h))
    if _last.get("key") != key:
        _last.clear()
        _last.update(key=key, value=compute(alpha, mu, h, sigma2, mean0, var0))
    value = _last["value"]
    if not keep:
        _last.clear()
    return value


def _all_moments(alpha, mu, h, sigma2, mean0, var0):
    return list(moments(alpha, mu, h, sigma2, mean0, var0))


def rank_one(alpha, mu, h, sigma2, mean0, var0):
    """(L(T), dL/dalpha, dL/dmu) per schedule, without the penalty, by the rank-one adjoint.

    Backward: s_{t+1} and w_t = A_t^T w_{t+1} from w_T = e_theta (`direction_step`). Forward:
    r_0 = M_0 w_0 = ((E[theta_0]^2 + V[theta_0]) w_0[theta], 0) (the velocity starts at 0), then
    dL/d(alpha_t, mu_t) = sum_i `probe_gradient`(s_{t+1}, r_t) and r_{t+1} = `probe_step`(s_{t+1}, r_t);
    finally L(T) = sum_i 1/2 h_i r_T[theta].
    """
    alphas, mus = _per_step(alpha), _per_step(mu)
    w_theta = np.ones(batch_shape(alpha, h))
    w_v = np.zeros_like(w_theta)
    s = [None] * len(alphas)
    for t in range(len(alphas) - 1, -1, -1):
        w_theta, w_v, s[t] = gen.direction_step(alphas[t], mus[t], h, w_theta, w_v)
    r = ((mean0 ** 2 + var0) * w_theta, w_v * 0.0)
    grad_alpha, grad_mu = np.empty(np.shape(alpha)), np.empty(np.shape(mu))
    for t in range(len(alphas)):
        g_alpha, g_mu = gen.probe_gradient(alphas[t], h, sigma2, s[t], *r)
        grad_alpha[..., t], grad_mu[..., t] = g_alpha.sum(axis=-1), g_mu.sum(axis=-1)
        r = gen.probe_step(alphas[t], mus[t], h, sigma2, s[t], *r)
    return 0.5 * np.sum(h * r[0], axis=-1), grad_alpha, grad_mu


def inverse_start_loss(start):
    """(1 / L_i(0), 1) per coordinate, (0, 0) where L_i(0) = 0 (those coordinates are exempt)."""
    live = start > 0
    return np.where(live, 1.0 / np.where(live, start, 1.0), 0.0), live.astype(float)


def _excess(loss, inverse_start):
    """relu(L_i / L_i(0) - 1) per coordinate, 0 where L_i(0) = 0; inverse_start from `inverse_start_loss`."""
    inverse, live = inverse_start
    return np.maximum(loss * inverse - live, 0.0)


def final_loss(alpha, mu, h, sigma2, mean0, var0, penalty_weight=0.0):
    """Excess loss at step T (plus the weighted safeguard penalty) for each schedule in the batch.

    Under Autograd: without the penalty, the rank-one passes (`rank_one`, which keep one s_{t+1} per
    step); with it, the raw moments of every step for `raw_step_vjp`. A plain evaluation (e.g. a
    batched grid of schedules) streams through the steps and keeps only the current ones.
    """
    if isbox(alpha) or isbox(mu):
        return _final_loss(alpha, mu, h, sigma2, mean0, var0, penalty_weight)
    return _objective(moments(alpha, mu, h, sigma2, mean0, var0), h, penalty_weight)


def moments(alpha, mu, h, sigma2, mean0, var0):
    """The raw moments (A(theta), A(v), E[theta v]) at t = 0..T one step at a time (nothing kept);
    the velocity starts at 0."""
    zeros = np.zeros(batch_shape(alpha, h))
    state = gen.raw_moments(mean0 + zeros, zeros, var0 + zeros, zeros, zeros)
    yield state
    for alpha_t, mu_t in zip(_per_step(alpha), _per_step(mu)):
        state = gen.raw_step(alpha_t, mu_t, h, sigma2, *state)
        yield state


def _objective(states, h, penalty_weight):
    """sum_i L_i(T) + penalty_weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2."""
    penalty = 0.0
    for t, state in enumerate(states):
        loss = gen.raw_loss_component(h, state[0])[0]
        if t == 0:
            inverse_start = inverse_start_loss(loss)
        elif penalty_weight:
            penalty = penalty + np.sum(_excess(loss, inverse_start) ** 2, axis=-1)
    return np.sum(loss, axis=-1) + penalty_weight * penalty


@primitive
def _final_loss(alpha, mu, h, sigma2, mean0, var0, penalty_weight=0.0):
    if not penalty_weight:
        return _cached("rank-one", rank_one, alpha, mu, h, sigma2, mean0, var0)[0]
    return _objective(_cached("moments", _all_moments, alpha, mu, h, sigma2, mean0, var0), h, penalty_weight)


def schedule_gradient(upstream, alpha, mu, h, sigma2, mean0, var0, penalty_weight=0.0):
    """(dL/dalpha, dL/dmu) by the generated adjoint recursion, scaled by `upstream` per schedule."""
    scale = np.asarray(upstream, dtype=float)[..., None]
    if not penalty_weight:
        _, grad_alpha, grad_mu = _cached("rank-one", rank_one, alpha, mu, h, sigma2, mean0, var0, keep=False)
        return grad_alpha * scale, grad_mu * scale
    states = _cached("moments", _all_moments, alpha, mu, h, sigma2, mean0, var0, keep=False)
    grad_alpha, grad_mu = backward(states, alpha, mu, h, sigma2, penalty_weight, gen.raw_step_vjp)
    return grad_alpha * scale, grad_mu * scale


def backward(states, alpha, mu, h, sigma2, penalty_weight, step_vjp, loss_index=0, extras=None):
    """(dL/dalpha, dL/dmu) from the raw moments of every step (states[t], t = 0..T) by a raw-moment adjoint
    `step_vjp` (generated): the adjoint starts at dL/dA(x_T) for the loss iterate x (A(x) at `loss_index`),
    each step's penalty term is added to the adjoint of A(x) there, and step_vjp pulls the adjoint back one
    step, returning that step's per-coordinate dL/dalpha_t and dL/dmu_t. extras[t]: the rule's further
    inputs of step t (none for heavy ball)."""
    k = loss_index
    inverse_start = inverse_start_loss(gen.raw_loss_component(h, states[0][k])[0])
    adjoint = [0.0] * len(states[0])
    adjoint[k] = gen.raw_loss_component(h, states[-1][k])[1]
    grad_alpha, grad_mu = np.empty(np.shape(alpha)), np.empty(np.shape(mu))
    alphas, mus = _per_step(alpha), _per_step(mu)
    for t in range(len(alphas) - 1, -1, -1):
        if penalty_weight:  # the penalty at step t + 1 feeds the adjoint of A(x) there
            loss, dloss = gen.raw_loss_component(h, states[t + 1][k])
            adjoint[k] = adjoint[k] + 2 * penalty_weight * _excess(loss, inverse_start) * inverse_start[0] * dloss
        extra = extras[t] if extras else ()
        *adjoint, g_alpha, g_mu = step_vjp(alphas[t], mus[t], h, sigma2, *extra, *states[t], *adjoint)
        grad_alpha[..., t], grad_mu[..., t] = g_alpha.sum(axis=-1), g_mu.sum(axis=-1)
    return grad_alpha, grad_mu


def schedule_vjp(gradient):
    """The Autograd VJP maker of a loss primitive whose (dL/dalpha, dL/dmu) come from
    gradient(upstream, *args, **kwargs) in one adjoint pass (alpha and mu being its first two arguments)."""

    def make(argnums, ans, args, kwargs):
        if any(argnum > 1 for argnum in argnums):
            raise NotImplementedError("final_loss is differentiable in the schedule (alpha, mu) only")

        def vjp(g):
            grads = gradient(g, *args, **kwargs)
            return tuple(grads[argnum] for argnum in argnums)

        return vjp

    return make


defvjp_argnums(_final_loss, schedule_vjp(schedule_gradient))
