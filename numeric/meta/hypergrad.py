"""Exact forward-mode hypergradients for SGD with momentum (Section 3.1, Eqs. 8-9), for any network.

Hyperparameters lambda = (log alpha0, log beta) of the inverse-time decay
alpha_t = alpha0 (1 + t/K)^(-beta). Differentiating one step of SGD momentum

    g_t = grad L_t(theta_t),  v_{t+1} = mu v_t - alpha_t g_t,  theta_{t+1} = theta_t + v_{t+1}

with respect to each lambda_i gives the tangent recursion (Eq. 9 with momentum;
u = d theta / d lambda_i, w = d v / d lambda_i, H_t the minibatch Hessian)

    w_{t+1} = mu w_t - (d alpha_t / d lambda_i) g_t - alpha_t H_t u_t,
    u_{t+1} = u_t + w_{t+1},

    d alpha_t / d log alpha0 = alpha_t,   d alpha_t / d log beta = -alpha_t beta log(1 + t/K),

and for the meta-objective J = L_meta(theta_T) (Eq. 8) dJ/d lambda_i = grad L_meta(theta_T) . u_T.
g_t and H_t u_t for both tangents come from the network's one forward-over-reverse pass
(`net.grad_and_hvps`, numeric/networks/net.py; for the MLP backprop plus Pearlmutter's R-operator), so
memory stays O(#params x #hyperparameters) whatever the horizon T. The step computes in the dtype
of theta (float64, or float32 where a caller chooses it).

`meta_objective` is the same unrolled computation on the network's Autograd-taped loss
(`taped_unroll`), for Autograd's reverse mode and for finite differences: the two independent
references (float64). Online SMD (numeric/meta/online_smd.py) shares the tangent recursion, the taped
unroll and both references.
"""
import autograd.numpy as anp
import numpy as np
from autograd import grad

from shb.numeric.networks.training import K, MU, inverse_time_decay, sgd_momentum_update

HYPERS = ("log_alpha0", "log_beta")


def alpha_and_dalpha(alpha0, beta, t, k=K):
    """alpha_t and its derivatives with respect to (log alpha0, log beta)."""
    alpha = inverse_time_decay(alpha0, beta, t, k)
    return alpha, np.array([alpha, -alpha * beta * np.log1p(t / k)])


def grad_and_hvps(net, theta, tangents, X, Y):
    """g = grad L(theta) and H u for each row u of `tangents` (forward-over-reverse, all rows in one pass).

    Zero tangents (the first step) skip the Hessian: H 0 = 0. A nonzero last entry of each tangent (the usual
    case after the first step) rules that out without scanning them.
    """
    if not tangents[:, -1].any() and not tangents.any():
        return net.loss_and_grad(theta, X, Y)[1], np.zeros_like(tangents)
    return net.grad_and_hvps(theta, tangents, X, Y)


def carry_tangents(dtheta, dv, g, hvps, alpha, mu, dalpha, v=None, dmu=None):
    """In place, the tangent recursion of one step (Eq. 9 with momentum), for each hyperparameter i:

        dv_i <- mu dv_i [+ dmu_i v] - dalpha_i g - alpha H dtheta_i,   dtheta_i <- dtheta_i + dv_i,

    with v the velocity before this step's update (the bracket only when mu depends on the hyperparameters,
    as in online SMD). Rounded as written (left to right) in dv's dtype; hvps (H dtheta) is overwritten.
    """
    dtype = dv.dtype.type
    dv *= dtype(mu)
    for i in range(len(dv)):
        if dmu is not None:
            dv[i] += dtype(dmu[i]) * v
        dv[i] -= dtype(dalpha[i]) * g
    hvps *= dtype(alpha)
    dv -= hvps
    dtheta += dv


def hyper_step(net, theta, v, dtheta, dv, X, Y, alpha0, beta, t, mu=MU, k=K):
    """One SGD-momentum step carrying the tangents dtheta, dv (shape (2, n)) along (Eq. 9), in place:

        dv <- mu dv - dalpha_t g_t - alpha_t H_t dtheta,   dtheta <- dtheta + dv,
        v <- mu v - alpha_t g_t,                           theta <- theta + v,

    each rounded as written (left to right), in theta's dtype.
    """
    alpha, dalpha = alpha_and_dalpha(alpha0, beta, t, k)
    g, hvps = grad_and_hvps(net, theta, dtheta, X, Y)
    carry_tangents(dtheta, dv, g, hvps, alpha, mu, dalpha)
    sgd_momentum_update(theta, v, g, alpha, mu)


def hypergrad_run(net, log_hypers, theta, v, batches, meta_batch, mu=MU, k=K):
    """Train `net` on `batches` carrying tangents; return (J, dJ/d(log alpha0, log beta)) (Eq. 8).

    J = L(theta_T; meta_batch), the loss on `meta_batch` after T = len(batches) steps.
    Computes in theta's dtype; theta and v are not modified.
    """
    alpha0, beta = np.exp(log_hypers)
    theta, v = theta.copy(), v.copy()
    dtheta = np.zeros((len(HYPERS), theta.size), theta.dtype)
    dv = np.zeros_like(dtheta)
    for t, (X, Y) in enumerate(batches):
        hyper_step(net, theta, v, dtheta, dv, X, Y, alpha0, beta, t, mu, k)
    meta_loss, g = net.loss_and_grad(theta, *meta_batch)
    return float(meta_loss), dtheta @ g


# ---------------------------------------------------------------- the references

def taped_unroll(net, theta, v, batches, meta_batch, alpha, mu):
    """L(theta_T; meta_batch) after v <- mu v - alpha(t) grad L_t(theta), theta <- theta + v over `batches`.

    On the network's taped loss, so Autograd differentiates it through the unroll (reverse mode, and
    grad of the taped gradient inside); alpha(t) is the step size of step t.
    """
    loss_grad = grad(net.taped_loss)
    for t, (X, Y) in enumerate(batches):
        g = loss_grad(theta, X, Y)
        v = mu * v - alpha(t) * g
        theta = theta + v
    return net.taped_loss(theta, *meta_batch)


def meta_objective(net, log_hypers, theta, v, batches, meta_batch, mu=MU, k=K):
    """J(lambda) by a plain unroll of the taped loss; differentiable by Autograd's reverse mode through the unroll."""
    alpha0, beta = anp.exp(log_hypers[0]), anp.exp(log_hypers[1])
    return taped_unroll(net, theta, v, batches, meta_batch, lambda t: alpha0 * (1.0 + t / k) ** (-beta), mu)


reverse_hypergrad = grad(meta_objective, 1)


def finite_difference_hypergrad(objective, net, hypers, *args, eps=1e-6, **kwargs):
    """Central differences (J(h + eps e_i) - J(h - eps e_i)) / (2 eps), J(h) = objective(net, h, *args, **kwargs).

    For either meta-objective: `meta_objective` here (h = (log alpha0, log beta)) or online SMD's
    `lookahead_loss` (h = u). float64.
    """
    hypers = np.asarray(hypers, dtype=float)
    out = np.empty(len(hypers))
    for i in range(len(hypers)):
        step = np.zeros_like(hypers)
        step[i] = eps
        plus = objective(net, hypers + step, *args, **kwargs)
        minus = objective(net, hypers - step, *args, **kwargs)
        out[i] = (plus - minus) / (2 * eps)
    return out


def relative_errors(a, b):
    """|a - b| / max(|a|, |b|) elementwise (0 where both are 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(b))
    return np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1.0), 0.0)
