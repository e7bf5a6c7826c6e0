"""Forward-mode hypergradient traces with forgetting, on the NQM exactly: an online meta-optimizer for any rule.

The remedies that accumulate a hypergradient along training (hypergradient descent, Baydin et al. 2018; IDBD,
Sutton 1992; Schraudolph's 1999 SMD; MetaOptimize's discounted traces, Sharifnassab et al. 2024) differentiate the
current loss with respect to a hyperparameter held over the past, the past discounted by a forgetting factor
lambda. On the NQM the expected dynamics are exact, so the trace is too. With the meta-parameters
u_t = (log alpha_t, log(1 - mu_t)) used at step t and the rule's raw second moments m_t (numeric/nqm/dynamics.py),

    tau_{t+1} = (d m_{t+1} / d m_t) lambda tau_t + d m_{t+1} / d u_t,          tau_0 = 0,
    tau_t = sum_{s<t} lambda^(t-1-s) d m_t / d u_s,

the derivative of m_t along the perturbation u_s += e lambda^(t-1-s) of every past step (lambda = 1: u held over the
whole past; lambda = 0: the last step alone, hypergradient descent). The meta-gradient is that of the log loss,
g_t = d log L(m_{t+1}) / d m . tau_{t+1} (log: the meta step size is then free of the loss's scale), and

    u_{t+1} = u_t - eta g_t.

The trace is exact: the rule's generated raw step (linear in m for a fixed (alpha, mu)) run on first-order jets in
u carries tau through the step and adds the step's own derivative (numeric/nqm/horizon.py's Jet; its second-order
parts are not used). Each step costs one raw step on jets: about three rollout steps.

tests/nqm/test_trace.py checks g_t against central differences of the exact loss under the discounted perturbation,
and fails when a tangent term is dropped.
"""
from collections import namedtuple

import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm.horizon import D_ALPHA, D_MU, VALUE, Jet
from shb.numeric.nqm.rules import extras_at, generated, initial_central, loss_of, spec

Trace = namedtuple("Trace", ["forget", "meta_lr"])


def _variables(u):
    """(alpha, mu) as first-order jets in u = (log alpha, log(1 - mu)): d alpha / d u_1 = alpha,
    d mu / d u_2 = -(1 - mu)."""
    alpha, one_minus_mu = np.exp(u[0]), np.exp(u[1])
    a, m = np.zeros((6, 1)), np.zeros((6, 1))  # a trailing axis broadcasting against the coordinates
    a[VALUE], a[D_ALPHA] = alpha, alpha
    m[VALUE], m[D_MU] = 1.0 - one_minus_mu, -one_minus_mu
    return Jet(a), Jet(m)


def _tangent(raw, tau):
    """The raw moments as jets carrying the tangents tau (2, ...) in their first-order parts."""
    out = []
    for value, (d1, d2) in zip(raw, tau):
        c = np.zeros((6,) + np.shape(value))
        c[VALUE], c[D_ALPHA], c[D_MU] = value, d1, d2
        out.append(Jet(c))
    return out


def step(opt_rule, u, raw, tau, forget, h, sigma2, extra):
    """One step at u from the raw moments `raw` carrying the trace `tau`: (raw moments after it, their trace)."""
    alpha, mu = _variables(u)
    jets = generated(opt_rule, "raw_step")(alpha, mu, h, sigma2, *extra, *_tangent(raw, forget * np.asarray(tau)))
    return [j.c[VALUE] for j in jets], [np.stack([j.c[D_ALPHA], j.c[D_MU]]) for j in jets]


def meta_gradient(opt_rule, h, raw, tau):
    """d log L / d u from the raw moments and their trace: (sum_i 1/2 h_i tau[A(x)]) / L, x the loss iterate."""
    k = spec(opt_rule)["loss_index"]
    loss = np.sum(loss_of(opt_rule, h, raw))
    return np.array([np.sum(0.5 * h * tau[k][j]) for j in range(2)]) / loss


def trace_schedule(opt, problem, T, forget, meta_lr, alpha0, mu0):
    """The schedule an online meta-optimizer with a hypergradient trace of forgetting `forget` and meta step size
    `meta_lr` chooses from (alpha0, mu0): {"alpha", "mu", "loss", "meta_gradient" (T, 2), "cost" (rollout steps)}."""
    if not 0 <= forget <= 1 or not 0 < meta_lr < np.inf or not 0 < alpha0 < np.inf or not mu0 < 1:
        raise InputError(f"a trace needs 0 <= forget <= 1, meta_lr > 0, alpha0 > 0 and mu0 < 1; got forget {forget!r}, "
                         f"meta_lr {meta_lr!r}, alpha0 {alpha0!r}, mu0 {mu0!r}")
    rule, extras = opt.rule, extras_at(opt.rule, opt.extras(problem, T), T)
    stats = initial_central(rule, problem.mean0, problem.var0, problem.h.shape)
    raw = list(generated(rule, "raw_moments")(*stats))
    tau = [np.zeros((2,) + problem.h.shape) for _ in raw]
    u = np.array([np.log(alpha0), np.log(1.0 - mu0)])
    alphas, mus, grads = [], [], []
    for t in range(T):
        alphas.append(float(np.exp(u[0])))
        mus.append(float(1.0 - np.exp(u[1])))
        raw, tau = step(rule, u, raw, tau, forget, problem.h, problem.sigma2, extras[t])
        g = meta_gradient(rule, problem.h, raw, tau)
        grads.append(g)
        if np.all(np.isfinite(g)):
            u = u - meta_lr * g
    alpha, mu = np.array(alphas), np.array(mus)
    return {"alpha": alpha, "mu": mu, "loss": opt.loss_curve(problem, alpha, mu), "meta_gradient": np.array(grads),
            "cost": 3 * T}
