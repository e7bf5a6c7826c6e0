"""Persistent evolution strategies in expectation (Vicol et al. 2021), on the NQM exactly: an online meta-optimizer
for any rule.

PES estimates, from truncated unrolls and without bias, the gradient of the loss of the FULL unroll from step 0 in
which the hyperparameters are held at their current value. On the NQM that gradient is computed exactly: at step t,
with u_t = (log alpha_t, log(1 - mu_t)) the values just used,

    g_t = d log L_{t+1}(u) / d u at u = u_t,   L_{t+1}(u): the loss after t + 1 steps from the start with (alpha, mu)
    held at u throughout,

by the rule's rank-one adjoint (numeric/nqm/adjoint.py: one backward and one forward pass over t + 1 steps, the
per-step derivatives summed, as a constant hyperparameter's are), and u_{t+1} = u_t - eta g_t. Relation to the
lambda = 1 trace (numeric/nqm/trace.py): the trace differentiates the trajectory actually taken, whose
hyperparameters changed as it went, along u held over the past; PES's gradient re-unrolls with the current value
throughout. They agree while u stays put, and differ by how far the path's past hyperparameters are from the current
ones. Cost: 2 (t + 1) rollout steps at step t, about T^2 in all.
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import adjoint
from shb.numeric.nqm.rules import spec


def gradient(opt, problem, u, steps, extras):
    """d log L_steps(u) / d u for (alpha, mu) held at u for `steps` steps from the start (exact)."""
    alpha, mu = np.exp(u[0]), 1.0 - np.exp(u[1])
    per_step = spec(opt.rule)["per_step"]  # the extras given per step: those of the first `steps` steps
    extras = {k: (np.asarray(v)[:steps] if k in per_step else v) for k, v in extras.items()}
    loss, grad_alpha, grad_mu = adjoint.rank_one(opt.rule, np.full(steps, alpha), np.full(steps, mu), *problem, extras)
    return np.array([np.sum(grad_alpha) * alpha, -np.sum(grad_mu) * (1.0 - mu)]) / loss


def pes_schedule(opt, problem, T, meta_lr, alpha0, mu0):
    """The schedule of online meta-optimization on PES's expected gradient from (alpha0, mu0): {"alpha", "mu",
    "loss", "meta_gradient" (T, 2), "cost" (rollout steps)}."""
    if not 0 < meta_lr < np.inf or not 0 < alpha0 < np.inf or not mu0 < 1:
        raise InputError(f"PES needs meta_lr > 0, alpha0 > 0 and mu0 < 1; got {meta_lr!r}, {alpha0!r}, {mu0!r}")
    extras = opt.extras(problem, T)
    u = np.array([np.log(alpha0), np.log(1.0 - mu0)])
    alphas, mus, grads = [], [], []
    for t in range(T):
        alphas.append(float(np.exp(u[0])))
        mus.append(float(1.0 - np.exp(u[1])))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            g = gradient(opt, problem, u, t + 1, extras)
        grads.append(g)
        if np.all(np.isfinite(g)):
            u = u - meta_lr * g
    alpha, mu = np.array(alphas), np.array(mus)
    return {"alpha": alpha, "mu": mu, "loss": opt.loss_curve(problem, alpha, mu), "meta_gradient": np.array(grads),
            "cost": T * (T + 1)}
