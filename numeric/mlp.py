"""The paper's MLP (Section 3.2) as plain functions over one flat parameter vector.

Model: 784-100-100-10, ReLU hidden units, softmax cross-entropy, weights
N(0, 0.1^2), biases zero, inputs scaled to [0, 1], minibatches of 100.
Optimizer: SGD with momentum,

    v_{t+1} = mu v_t - alpha_t g_t,   theta_{t+1} = theta_t + v_{t+1},

with the inverse-time decay schedule alpha_t = alpha0 (1 + t/K)^(-beta)
(mu = 0.9, K = 5000), after a warm start of 50 steps at alpha = 0.1, mu = 0.9.

Parameters live in one flat vector (float64 by default; float32 where a caller asks
for it, see `init_params` and `minibatch`); `make_layout` fixes once where each layer's
weight matrix and bias sit in it, and `views` / `unflatten` only slice views.
Minibatches are drawn and indexed outside the differentiated loss.

Derivatives are hand-derived (numeric/backprop.py): `loss_and_grad` is backprop and
`grad_and_hvps` adds Pearlmutter's R-operator for K Hessian-vector products in the same
pass, the K tangents batched into the same matrix products. `loss` and `loss_grad` are Autograd
primitives defined by them (reverse and forward mode, to second order), so they
compose with Autograd like the taped loss did. `loss_taped` is the same loss composed
of autograd.numpy operations and differentiated by Autograd's tape: the reference
the hand-derived derivatives are tested against, and the loss that the reverse-mode
hypergradient references differentiate through the unroll.
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd import grad
from autograd.extend import defjvp, defvjp, primitive

from shb.numeric.backprop import as_dtype, forward_pass, grad_and_hvps, loss_and_grad, softmax_cross_entropy, views
from shb.numeric.malloc import keep_freed_memory

PAPER_SIZES = (784, 100, 100, 10)
INIT_SCALE = 0.1
MU = 0.9
K = 5000.0
BATCH_SIZE = 100
WARM_STEPS = 50
WARM_ALPHA = 0.1

keep_freed_memory()  # every process that trains the MLP imports this module: see numeric/malloc.py

Layer = namedtuple("Layer", ["w_start", "w_stop", "w_shape", "b_start", "b_stop"])
Dataset = namedtuple("Dataset", ["images", "labels", "n_classes"])  # uint8 (n, d), int (n,), int


def make_layout(layer_sizes):
    """Slices of each layer's (W, b) in the flat vector, and the total parameter count."""
    layout, start = [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        w_stop = start + n_in * n_out
        layout.append(Layer(start, w_stop, (n_in, n_out), w_stop, w_stop + n_out))
        start = w_stop + n_out
    return tuple(layout), start


@primitive
def block(theta, start, stop, shape):
    """The view theta[start:stop].reshape(shape)."""
    return theta[start:stop].reshape(shape)


@primitive
def embed(x, start, stop, size):
    """The vector of length `size` that is ravel(x) on [start, stop) and zero elsewhere (block's adjoint)."""
    out = np.zeros(size)
    out[start:stop] = np.ravel(x)
    return out


# block and embed are linear and adjoint to each other, so each one's derivatives are
# the other (or itself); this replaces Autograd's generic getitem adjoint (zeros + add.at)
# with one slice assignment, in reverse mode and in forward-over-reverse alike.
defvjp(block, lambda ans, theta, start, stop, shape: lambda g: embed(g, start, stop, theta.shape[0]))
defjvp(block, lambda g, ans, theta, start, stop, shape: block(g, start, stop, shape))
defvjp(embed, lambda ans, x, start, stop, size: lambda g: block(g, start, stop, np.shape(x)))
defjvp(embed, lambda g, ans, x, start, stop, size: embed(g, start, stop, size))


def unflatten(theta, layout):
    """[(W, b), ...] as views of theta at the fixed `layout` offsets (no copies on plain arrays)."""
    return [
        (block(theta, l.w_start, l.w_stop, l.w_shape), block(theta, l.b_start, l.b_stop, (l.b_stop - l.b_start,)))
        for l in layout
    ]


def init_params(layer_sizes, rng, scale=INIT_SCALE, dtype=np.float64):
    """theta_0: weights ~ N(0, scale^2), biases 0 (Section 3.2); drawn in float64, stored in `dtype`."""
    layout, n_params = make_layout(layer_sizes)
    theta = np.zeros(n_params)
    for layer in layout:
        theta[layer.w_start:layer.w_stop] = scale * rng.standard_normal(layer.w_stop - layer.w_start)
    return theta.astype(dtype, copy=False)


def logits(theta, X, layout):
    """ReLU MLP: h_{l+1} = max(0, h_l W_l + b_l), no ReLU on the output layer."""
    params = unflatten(theta, layout)
    h = X
    for W, b in params[:-1]:
        h = anp.maximum(0.0, anp.dot(h, W) + b)
    W, b = params[-1]
    return anp.dot(h, W) + b


def cross_entropy(z, Y):
    """Mean softmax cross-entropy of logits z (batch, classes) against one-hot Y, via a stable log-sum-exp."""
    z_max = anp.max(z, axis=1, keepdims=True)
    log_norm = anp.log(anp.sum(anp.exp(z - z_max), axis=1, keepdims=True)) + z_max
    return -anp.sum(Y * (z - log_norm)) / z.shape[0]


def loss_taped(theta, X, Y, layout):
    """Mean softmax cross-entropy over the minibatch (Y one-hot), composed of autograd.numpy operations.

    Differentiated by Autograd's tape: the reference for the hand-derived derivatives below.
    """
    return cross_entropy(logits(theta, X, layout), Y)


loss_grad_taped = grad(loss_taped)


# ---------------------------------------------------------------- the loss as Autograd primitives

@primitive
def loss(theta, X, Y, layout):
    """Mean softmax cross-entropy over the minibatch (Y one-hot), in theta's dtype.

    An Autograd primitive: its derivative is `loss_grad` in reverse and forward mode, whose own derivative
    is `hessian_vector_product`, so grad, make_jvp(grad) and grad-of-grad of it work as on `loss_taped`.
    """
    X, Y = as_dtype(theta, X, Y)
    return softmax_cross_entropy(forward_pass(views(theta, layout), X, slopes=False)[2], Y)[0]


@primitive
def loss_grad(theta, X, Y, layout):
    """dL/dtheta (`loss_and_grad`); an Autograd primitive whose derivative along u is H u in either mode (H = H^T)."""
    return loss_and_grad(theta, X, Y, layout)[1]


@primitive
def hessian_vector_product(theta, u, X, Y, layout):
    """H u for one tangent u: `grad_and_hvps` with K = 1 (third derivatives are not defined)."""
    return grad_and_hvps(theta, u[None, :], X, Y, layout)[1][0]


defvjp(loss, lambda ans, theta, X, Y, layout: lambda g: g * loss_grad(theta, X, Y, layout))
defjvp(loss, lambda u, ans, theta, X, Y, layout: anp.dot(loss_grad(theta, X, Y, layout), u))
defvjp(loss_grad, lambda ans, theta, X, Y, layout: lambda w: hessian_vector_product(theta, w, X, Y, layout))
defjvp(loss_grad, lambda u, ans, theta, X, Y, layout: hessian_vector_product(theta, u, X, Y, layout))


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


def dataset_loss(theta, data, layout, n_max=None):
    """Mean loss over the first n_max examples of `data` (all when None)."""
    n = data.images.shape[0] if n_max is None else min(n_max, data.images.shape[0])
    X, Y = minibatch(data, np.arange(n), theta.dtype)
    return float(loss(theta, X, Y, layout))


def train(theta, v, data, layout, alpha0, beta, steps, rng, mu=MU, k=K, batch_size=BATCH_SIZE, t0=0):
    """`steps` SGD-momentum steps with alpha_t = alpha0 (1 + t/K)^(-beta), t = t0, t0+1, ...

    Returns (theta, v, losses) where losses[t] is the minibatch loss at step t. Computes in theta's dtype.
    """
    losses = np.empty(steps)
    n = data.images.shape[0]
    theta, v = theta.copy(), v.copy()  # updated in place below; the caller's arrays are left alone
    for i in range(steps):
        X, Y = minibatch(data, batch_indices(rng, n, batch_size), theta.dtype)
        losses[i], g = loss_and_grad(theta, X, Y, layout)
        sgd_momentum_update(theta, v, g, inverse_time_decay(alpha0, beta, t0 + i, k), mu)
    return theta, v, losses


def warm_start(data, layout, layer_sizes, rng, steps=WARM_STEPS, alpha=WARM_ALPHA, mu=MU, batch_size=BATCH_SIZE,
               dtype=np.float64):
    """theta_0 ~ init, then `steps` steps of SGD momentum at a constant alpha (Section 3.2), in `dtype`."""
    theta = init_params(layer_sizes, rng, dtype=dtype)
    v = np.zeros_like(theta)
    theta, v, _ = train(theta, v, data, layout, alpha, 0.0, steps, rng, mu, batch_size=batch_size)
    return theta, v
