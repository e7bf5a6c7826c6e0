"""Online meta-optimization by a forward-mode hypergradient trace with forgetting, on a network (issue 30's remedy
that is cheap on a network; its exact twin on the NQM is numeric/nqm/trace.py, derived in docs/corrections.md).

While the network trains with SGD momentum at (alpha, mu) = (exp(u_0 + u_1), 1 - exp(u_1)) (numeric/meta/reparam.py),
the run carries the tangents of the weights and the velocity with respect to u held over the past, the past
discounted by the forgetting factor lambda:

    dtheta_t = sum_{s<t} lambda^(t-1-s) d theta_t / d u_s      (and dv_t likewise),

by the recursion of online SMD's lookahead (numeric/meta/hypergrad.py carry_tangents) applied to the tangents
scaled by lambda first: with g_t = grad L_t(theta_t) on the step's own minibatch and H_t its Hessian,

    dv <- mu lambda dv + (d mu / d u) v - (d alpha / d u) g_t - alpha H_t (lambda dtheta),
    dtheta <- lambda dtheta + dv.

The meta-gradient is that of the current minibatch's loss, d L_t(theta_t) / d u = g_t . dtheta_t (lambda = 0:
hypergradient descent, Baydin et al. 2018; lambda = 1: Schraudolph's SMD trace without decay), and u takes one Adam
step on it before step t is taken. One extra Hessian-vector product per tangent and training step: the network's
one forward-over-reverse pass gives g_t and both H_t dtheta at once.

The references (`window_loss`, `window_difference`): from a snapshot of (theta, v), the same minibatches replayed
by a plain unroll of the network's taped loss with u_s moved by eps lambda^(W-1-s) over a window of W steps. The
trace started fresh at the snapshot must give their central difference (`window_trace`, the run's own step
function): the check of the trace's hypergradient "held over the trace's window".
"""
import autograd.numpy as anp
import numpy as np
from autograd import grad

from shb.numeric.meta.hypergrad import carry_tangents, grad_and_hvps
from shb.numeric.meta.reparam import HYPERS, alpha_mu, d_alpha_mu
from shb.numeric.networks import training


def zero_tangents(theta):
    """(dtheta, dv): zero tangents of the weights and the velocity, one row per meta-parameter."""
    return np.zeros((len(HYPERS), theta.size), theta.dtype), np.zeros((len(HYPERS), theta.size), theta.dtype)


def gradient_and_meta_gradient(net, theta, dtheta, X, Y):
    """(g_t, H_t dtheta, d L_t / d u = g_t . dtheta) at theta on the minibatch (X, Y)."""
    g, hvps = grad_and_hvps(net, theta, dtheta, X, Y)
    return g, hvps, dtheta @ g


def carry(dtheta, dv, g, hvps, v, u, forget):
    """In place: the tangents through one step at u (the u the step applies), the past discounted by `forget`.
    hvps: H_t dtheta before the discount (linear, so scaled here); v: the velocity before the step."""
    alpha, mu = alpha_mu(u)
    dalpha, dmu = d_alpha_mu(u)
    dtheta *= forget
    dv *= forget
    hvps *= forget
    carry_tangents(dtheta, dv, g, hvps, alpha, mu, dalpha, v, dmu)


def window_trace(net, us, theta, v, batches, loss_batch, forget):
    """d L(theta_W; loss_batch) / d u by a trace started fresh at (theta, v), over W = len(batches) steps at the
    pairs us[s]: what `window_difference` measures. theta and v are not modified."""
    theta, v = theta.copy(), v.copy()
    dtheta, dv = zero_tangents(theta)
    for u, (X, Y) in zip(us, batches):
        g, hvps, _ = gradient_and_meta_gradient(net, theta, dtheta, X, Y)
        carry(dtheta, dv, g, hvps, v, u, forget)
        training.sgd_momentum_update(theta, v, g, *alpha_mu(u))
    return gradient_and_meta_gradient(net, theta, dtheta, *loss_batch)[2]


def window_loss(net, us, theta, v, batches, loss_batch):
    """L(theta_W; loss_batch) after W steps at the pairs us[s] by a plain unroll of the taped loss (the reference)."""
    loss_grad = grad(net.taped_loss)
    for u, (X, Y) in zip(us, batches):
        alpha, mu = anp.exp(u[0] + u[1]), 1.0 - anp.exp(u[1])
        v = mu * v - alpha * loss_grad(theta, X, Y)
        theta = theta + v
    return net.taped_loss(theta, *loss_batch)


def window_difference(net, us, theta, v, batches, loss_batch, forget, eps):
    """Central differences of `window_loss` with u_s moved by eps forget^(W-1-s) along each meta-parameter."""
    us = np.asarray(us, dtype=float)
    weights = forget ** np.arange(len(us) - 1, -1, -1.0) if forget else (np.arange(len(us)) == len(us) - 1) * 1.0
    out = np.empty(len(HYPERS))
    for i in range(len(HYPERS)):
        step = np.zeros_like(us)
        step[:, i] = eps * weights
        plus = window_loss(net, us + step, theta, v, batches, loss_batch)
        minus = window_loss(net, us - step, theta, v, batches, loss_batch)
        out[i] = (plus - minus) / (2 * eps)
    return out


WINDOW = 20  # steps of the window the hypergradient check replays (fewer where adaptation ends sooner)


def window(config):
    """The check's window: WINDOW steps from check_step, within adaptation."""
    return max(1, min(WINDOW, config["adapt_steps"] - config["check_step"] - 1))
