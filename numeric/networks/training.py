"""Training any network (numeric/networks/net.py) with SGD momentum on minibatches (Section 3.2).

Optimizer: SGD with momentum,

    v_{t+1} = mu v_t - alpha_t g_t,   theta_{t+1} = theta_t + v_{t+1},   g_t = grad L_t(theta_t),

with the inverse-time decay schedule alpha_t = alpha0 (1 + t/K)^(-beta) (mu = 0.9, K = 5000),
after a warm start of 50 steps at alpha = 0.1, mu = 0.9 from the network's initialization.
Minibatches of 100 examples are drawn i.i.d. uniformly from the training set, with inputs
scaled to [0, 1] and one-hot labels; they are drawn and indexed outside the differentiated loss.
Everything computes in theta's dtype (float64, or float32 where a caller asks for it and the
network supports it).
"""
from collections import namedtuple

import numpy as np

MU = 0.9
K = 5000.0
BATCH_SIZE = 100
WARM_STEPS = 50
WARM_ALPHA = 0.1

Dataset = namedtuple("Dataset", ["images", "labels", "n_classes"])  # uint8 (n, d), int (n,), int


def inverse_time_decay(alpha0, beta, t, k=K):
    """alpha_t = alpha0 (1 + t/K)^(-beta) (Welling & Teh, 2011; Section 3.2)."""
    return alpha0 * (1.0 + t / k) ** (-beta)


def sgd_momentum_step(theta, v, g, alpha, mu=MU):
    """v' = mu v - alpha g, theta' = theta + v' (new arrays; `sgd_momentum_update` is the in-place form)."""
    alpha, mu = v.dtype.type(alpha), v.dtype.type(mu)
    v = mu * v - alpha * g
    return theta + v, v


def sgd_momentum_update(theta, v, g, alpha, mu=MU):
    """In place: v <- mu v - alpha g, theta <- theta + v, rounded exactly as `sgd_momentum_step`; g becomes alpha g.

    For training loops that own theta, v and g: no new arrays per step. The arithmetic is in theta's dtype.
    """
    v *= v.dtype.type(mu)
    g *= g.dtype.type(alpha)
    v -= g
    theta += v


def batch_indices(rng, n_examples, batch_size=BATCH_SIZE):
    """Indices of one minibatch, drawn i.i.d. uniformly from the training set."""
    return rng.integers(0, n_examples, size=batch_size)


def minibatch(data, idx, dtype=np.float64):
    """(X in [0, 1], one-hot Y) in `dtype` for the examples `idx`."""
    X = np.divide(data.images[idx], 255.0, dtype=dtype)
    Y = np.zeros((len(idx), data.n_classes), dtype)
    Y[np.arange(len(idx)), data.labels[idx]] = 1.0
    return X, Y


def chunks(n, chunk):
    """Index arrays of the examples 0 .. n-1, `chunk` consecutive ones at a time."""
    return (np.arange(start, min(n, start + chunk)) for start in range(0, n, chunk))


def mean_loss(net, theta, data, n=None, chunk=5000):
    """(1/n) sum_i L(theta; x_i, y_i) over the first n examples of `data` (all when None), `chunk` at a time."""
    n = data.images.shape[0] if n is None else n
    return sum(float(net.loss(theta, *minibatch(data, idx, theta.dtype))) * len(idx) for idx in chunks(n, chunk)) / n


def error_rate(net, theta, data, n=None, chunk=5000):
    """Fraction of the first n examples of `data` (all when None) whose argmax logit is not the label."""
    n = data.images.shape[0] if n is None else n
    wrong = (np.argmax(net.logits(theta, minibatch(data, idx, theta.dtype)[0]), axis=1) != data.labels[idx]
             for idx in chunks(n, chunk))
    return sum(int(np.sum(w)) for w in wrong) / n


def train(net, theta, v, data, alpha0, beta, steps, rng, mu=MU, k=K, batch_size=BATCH_SIZE, t0=0):
    """`steps` SGD-momentum steps of `net` with alpha_t = alpha0 (1 + t/K)^(-beta), t = t0, t0+1, ...

    Returns (theta, v, losses) where losses[t] is the minibatch loss at step t. Computes in theta's dtype.
    """
    losses = np.empty(steps)
    n = data.images.shape[0]
    theta, v = theta.copy(), v.copy()  # updated in place below; the caller's arrays are left alone
    for i in range(steps):
        X, Y = minibatch(data, batch_indices(rng, n, batch_size), theta.dtype)
        losses[i], g = net.loss_and_grad(theta, X, Y)
        sgd_momentum_update(theta, v, g, inverse_time_decay(alpha0, beta, t0 + i, k), mu)
    return theta, v, losses


def warm_start(net, data, rng, steps=WARM_STEPS, alpha=WARM_ALPHA, mu=MU, batch_size=BATCH_SIZE,
               dtype=np.float64):
    """theta_0 = net.init(rng), then `steps` steps of SGD momentum at a constant alpha (Section 3.2), in `dtype`."""
    theta = net.init(rng).astype(dtype, copy=False)
    v = np.zeros_like(theta)
    theta, v, _ = train(net, theta, v, data, alpha, 0.0, steps, rng, mu, batch_size=batch_size)
    return theta, v
