"""Online SMD's meta-objective and its exact hypergradient: the T-step lookahead (Algorithm 1's inner loop,
Section 3.3; Eqs. 8-9 with momentum).

From the current weights and velocity (theta_0, v_0), which do not depend on u (numeric/meta/reparam.py), simulate
T steps of SGD momentum at (alpha, mu) = (exp(u_0 + u_1), 1 - exp(u_1)),

    g_t = grad L_t(theta_t),  v_{t+1} = mu v_t - alpha g_t,  theta_{t+1} = theta_t + v_{t+1},

carrying the tangents d theta_t / d u_i and d v_t / d u_i forward:

    dv_{t+1} = (d mu/d u_i) v_t + mu dv_t - (d alpha/d u_i) g_t - alpha H_t dtheta_t,
    dtheta_{t+1} = dtheta_t + dv_{t+1},      dtheta_0 = dv_0 = 0,

with g_t and H_t dtheta_t from the network's one forward-over-reverse pass (`net.grad_and_hvps`,
numeric/networks/net.py) and the recursion shared with offline SMD (numeric/meta/hypergrad.py `carry_tangents`).
The meta-objective is the training loss after the lookahead, J(u) = L_meta(theta_T), and
dJ/du_i = grad L_meta(theta_T) . dtheta_T. The lookahead is a simulation: the real (theta, v) are never changed by
it (Section 3.1, "meta-updates on separate SGD trajectories").

Stochastic lookahead: a fresh minibatch for every lookahead step and a fresh one for L_meta. Deterministic
lookahead (Figure 8): one minibatch for all T steps and for L_meta. Both draw new minibatches for every meta-step,
so each meta-gradient is an unbiased sample of the gradient of the expected meta-objective (`draw_lookahead`).

`lookahead_loss` is J(u) by a plain unroll of the network's taped loss: Autograd's reverse mode of it
(`reverse_lookahead_hypergrad`) and its central differences are the references the forward mode is checked against.
"""
import autograd.numpy as anp
import numpy as np
from autograd import grad

from shb.numeric.meta import hypergrad
from shb.numeric.meta.reparam import HYPERS, alpha_mu, d_alpha_mu
from shb.numeric.networks import training


def lookahead_hypergrad(net, u, theta, v, batches, meta_batch):
    """(J, dJ/du) for the lookahead over `batches` from (theta, v): exact forward mode (Eqs. 8-9).

    Returns the meta-objective J = L(theta_T; meta_batch) and its gradient with respect to
    u = (log alpha_eff, log(1 - mu)); theta and v are not modified. Computes in theta's dtype,
    updating copies in place, each update rounded as written (left to right).
    """
    alpha, mu = alpha_mu(u)
    dalpha, dmu = d_alpha_mu(u)
    theta, v = theta.copy(), v.copy()
    dtheta = np.zeros((len(HYPERS), theta.size), theta.dtype)
    dv = np.zeros_like(dtheta)
    for X, Y in batches:
        g, hvps = hypergrad.grad_and_hvps(net, theta, dtheta, X, Y)
        hypergrad.carry_tangents(dtheta, dv, g, hvps, alpha, mu, dalpha, v, dmu)  # before v is updated
        training.sgd_momentum_update(theta, v, g, alpha, mu)
    meta_loss, g_meta = net.loss_and_grad(theta, *meta_batch)
    return float(meta_loss), dtheta @ g_meta


def lookahead_loss(net, u, theta, v, batches, meta_batch):
    """J(u) by a plain unroll of the taped loss (`hypergrad.taped_unroll`), for Autograd's reverse mode and for
    central differences (`hypergrad.finite_difference_hypergrad(lookahead_loss, net, u, ...)`): the references."""
    alpha = anp.exp(u[0] + u[1])
    mu = 1.0 - anp.exp(u[1])
    return hypergrad.taped_unroll(net, theta, v, batches, meta_batch, lambda t: alpha, mu)


reverse_lookahead_hypergrad = grad(lookahead_loss, 1)


def draw_lookahead(rng, n_train, mode, horizon, batch_size, meta_batch):
    """Minibatch indices for one meta-step: (list of T index arrays, meta-batch indices).

    Stochastic: T + 1 fresh minibatches (the last, of `meta_batch` examples, for L_meta).
    Deterministic: one minibatch of `batch_size` examples for every step and for L_meta.
    """
    if mode == "deterministic":
        idx = training.batch_indices(rng, n_train, batch_size)
        return [idx] * horizon, idx
    steps = [training.batch_indices(rng, n_train, batch_size) for _ in range(horizon)]
    return steps, training.batch_indices(rng, n_train, meta_batch)


def batches_of(data, step_idx, meta_idx):
    """The minibatches (X, Y) of the indices `draw_lookahead` drew: (the T steps', the meta-batch)."""
    return [training.minibatch(data, idx) for idx in step_idx], training.minibatch(data, meta_idx)
