"""Exact mean/variance dynamics of SGD with momentum on the NQM for a whole schedule (Theorem 1).

For a schedule (alpha_t, mu_t), t = 0..T-1, every coordinate's five sufficient statistics
(E[theta], E[v], V[theta], V[v], Cov(theta, v)) follow the deterministic recursion of Theorem 1
(numeric.nqm.generated.nqm_step, generated from symbolic/), starting from
(mean0, 0, var0, 0, 0). The expected excess loss at step t is (Eq. 6 without its constant)

    L(t) = sum_i 1/2 h_i (E[theta_i(t)]^2 + V[theta_i(t)])       (numeric.nqm.generated.loss_component).

Shapes: d coordinates (last axis). A schedule is alpha, mu of shape (T,) or (B, T) (a batch of B
schedules, rolled out together); statistics come back as (T+1, d) or (B, T+1, d) and losses as
(T+1,) or (B, T+1).

`final_loss` and `loss_curve` are written for Autograd (no in-place assignment: lists, then stack),
so d final_loss / d schedule is available by reverse mode.
"""
import autograd.numpy as anp
import numpy as np

from shb.numeric.nqm import adjoint as nqm_adjoint
from shb.numeric.nqm.generated import loss_component, nqm_step, raw_loss_component

STATS = ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")


def initial_stats(problem):
    """(E[theta], E[v], V[theta], V[v], Cov(theta, v)) at t = 0: (mean0, 0, var0, 0, 0)."""
    zeros = np.zeros_like(problem.h)
    return (problem.mean0, zeros, problem.var0, zeros, zeros)


def check_schedule(alpha, mu):
    """Float arrays alpha, mu of one shape (T,) or (B, T); raises ValueError otherwise."""
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if alpha.shape != mu.shape or alpha.ndim not in (1, 2):
        raise ValueError(f"alpha {alpha.shape} and mu {mu.shape} must have one shape, (T,) or (B, T)")
    return alpha, mu


def _hyper(x, t):
    """The step-t hyperparameter as an array broadcasting against (..., d): x[..., t, None]."""
    return x[..., t][..., None] if anp.ndim(x) == 2 else x[t]


def rollout(problem, alpha, mu):
    """All five statistics for t = 0..T and the excess loss per step (Theorem 1 applied T times).

    Returns a dict with arrays "mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v" of shape
    (T+1, d) (or (B, T+1, d)) and "loss" of shape (T+1,) (or (B, T+1)). Plain numpy; not for Autograd.
    """
    alpha, mu = check_schedule(alpha, mu)
    T = alpha.shape[-1]
    batch = alpha.shape[:-1]
    d = problem.h.size
    out = {name: np.empty(batch + (T + 1, d)) for name in STATS}
    stats = initial_stats(problem)
    for name, value in zip(STATS, stats):
        out[name][..., 0, :] = value
    for t in range(T):
        stats = nqm_step(_hyper(alpha, t), _hyper(mu, t), problem.h, problem.sigma2, *stats)
        for name, value in zip(STATS, stats):
            out[name][..., t + 1, :] = value
    out["loss"] = loss_component(problem.h, out["mean_theta"], out["var_theta"]).sum(axis=-1)
    return out


def rollout_bytes(d, T, batch=1):
    """Memory `rollout` needs, an upper bound: eight (T+1) x d float64 arrays (the five statistics, the loss terms
    and their temporaries) and sixteen d-vectors (one step's temporaries, which dominate when T is small)."""
    return 8 * (8 * (T + 1) + 16) * d * batch


def loss_components(problem, stats):
    """Per-coordinate excess loss 1/2 h_i (E[theta_i]^2 + V[theta_i]) for every step of a rollout."""
    return loss_component(problem.h, stats["mean_theta"], stats["var_theta"])


def final_loss(problem, alpha, mu, penalty_weight=0.0):
    """Expected excess loss at step T, L(T) = sum_i 1/2 h_i (E[theta_i(T)]^2 + V[theta_i(T)]),
    plus penalty_weight * sum_{t,i} relu(L_i(t)/L_i(0) - 1)^2 (the safeguard, Section 2.3) if nonzero.

    Differentiable by Autograd with respect to alpha and mu (shape (T,) -> scalar; (B, T) -> (B,))
    through one primitive whose gradient is the generated adjoint (numeric/nqm/adjoint.py).
    """
    return nqm_adjoint.final_loss(alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0,
                                  penalty_weight)


def component_curve(problem, alpha, mu):
    """Per-coordinate excess loss for t = 0..T, shape (T+1, d) (Autograd-differentiable; built by stacking)."""
    stats = initial_stats(problem)
    curve = [loss_component(problem.h, stats[0], stats[2]) * anp.ones(anp.shape(alpha)[:-1] + (1,))]
    for t in range(anp.shape(alpha)[-1]):
        stats = nqm_step(_hyper(alpha, t), _hyper(mu, t), problem.h, problem.sigma2, *stats)
        curve.append(loss_component(problem.h, stats[0], stats[2]))
    return anp.stack(curve, axis=-2)


def loss_curve(problem, alpha, mu):
    """Excess loss for t = 0..T, shape (T+1,) (Autograd-differentiable)."""
    return anp.sum(component_curve(problem, alpha, mu), axis=-1)


def max_component_ratio(problem, alpha, mu):
    """max over t = 0..T and coordinates i with L_i(0) > 0 of L_i(t) / L_i(0), per schedule (plain numpy).

    >= 1 always (t = 0); <= 1 means no coordinate's loss component ever exceeds its initial value (the
    paper's safeguard, Section 2.3). Shape () for alpha (T,), (B,) for (B, T); memory O(B d).
    """
    alpha, mu = check_schedule(alpha, mu)
    states = nqm_adjoint.moments(alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0)
    return worst_component_ratio((raw_loss_component(problem.h, state[0])[0] for state in states), alpha.shape[:-1])


def worst_component_ratio(losses, batch):
    """max over t and coordinates with L_i(0) > 0 of L_i(t) / L_i(0), from the per-coordinate losses L_i(t),
    t = 0..T, one step at a time (at least 1: t = 0); `batch` is the schedules' batch shape."""
    worst = np.ones(batch)
    for t, loss in enumerate(losses):
        if t == 0:
            inverse_start, _ = nqm_adjoint.inverse_start_loss(loss)
        worst = np.fmax(worst, np.max(loss * inverse_start, axis=-1))
    return worst
