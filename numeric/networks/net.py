"""What every network is to training, hypergradients and SMD: the `Net` interface (Sections 3.1-3.3).

A network maps a minibatch X (B examples as flat rows, inputs in [0, 1]) to logits z = f(theta; X) of
shape (B, classes), with all its parameters in one flat vector theta in R^n. Its loss is the mean softmax
cross-entropy against one-hot labels Y,

    L(theta; X, Y) = -(1/B) sum_i sum_c Y_ic log softmax(z_i)_c          (`cross_entropy`).

SGD momentum (numeric/networks/training.py) needs L and g = grad L; the forward-mode hypergradients of SMD
(Eqs. 8-9: numeric/meta/hypergrad.py offline, numeric/meta/online_smd.py online) also need H u for each tangent u
(H the minibatch Hessian); their references differentiate the unrolled training through `taped_loss`
with Autograd, in reverse mode and by finite differences. A `Net` holds these as functions with the
network's layout already bound, so callers pass only theta and the data:

    name                          its name in the registry (numeric/networks/__init__.py)
    layout, n_params              where each layer's parameters sit in theta (the network's own), and n
    init(rng)                     theta_0, float64
    loss(theta, X, Y)             L; differentiable by Autograd (grad, make_jvp) to second order
    loss_and_grad(theta, X, Y)    (L, g), plain numpy
    grad_and_hvps(theta, U, X, Y) (g, H U): H u_k for each row u_k of the (K, n) array U, in one pass
    logits(theta, X)              z
    taped_loss(theta, X, Y)       L composed of autograd.numpy operations, differentiated by Autograd's tape:
                                  the reference every hand-derived derivative is tested against
                                  (tests/test_networks.py)

Each network module (numeric/networks/mlp.py, numeric/networks/cnn.py, ...) builds its Net with a
`make_net(input_shape, n_classes, **sizes)` and states how experiments run it in its `NETWORK`, a `Network`, the
entry the registry (numeric/networks/__init__.py) lists under the network's name. A network whose derivatives are
Autograd's needs only its logits: `autograd_net`; one with hand-derived derivatives makes its `loss` an Autograd
primitive with `hand_derived`.
"""
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Callable, Mapping

import autograd.numpy as anp
import numpy as np
from autograd import grad, make_jvp, value_and_grad
from autograd.extend import defjvp, defvjp, primitive

from shb.numeric.networks.malloc import keep_freed_memory

keep_freed_memory()  # every process that trains a network imports this module: see numeric/networks/malloc.py

Net = namedtuple("Net", ["name", "layout", "n_params", "init", "loss", "loss_and_grad", "grad_and_hvps", "logits",
                         "taped_loss"])


@dataclass(frozen=True)
class Network:
    """A network as the registry lists it: everything an experiment needs to run it by name.

    make        its constructor: make(input_shape, n_classes, **sizes) -> Net
    sizes       {constructor keyword: configuration key}: each size keyword is read from the experiment's
                configuration under that key (a list read as a tuple)
    tiny        (input_shape, {keyword: size}): a tiny instance, which tests/test_networks.py checks against the
                network's taped loss
    settings    {experiment: {scale: {key: value}}}: what the network changes in that experiment's configuration
                at that scale ("offline", "online"; the rest is the experiment's own configuration)
    datasets    {scale: data set}: the online experiment's data set at that scale where it is not Fashion-MNIST
    """

    make: Callable
    sizes: Mapping
    tiny: tuple
    settings: Mapping = field(default_factory=dict)
    datasets: Mapping = field(default_factory=dict)


def bind(f, layout):
    """f(*args, layout) as a function of *args: one of a network's functions with its layout fixed."""
    return lambda *args: f(*args, layout)


def cross_entropy(z, Y):
    """Mean softmax cross-entropy of logits z (batch, classes) against one-hot Y, via a stable log-sum-exp."""
    z_max = anp.max(z, axis=1, keepdims=True)
    log_norm = anp.log(anp.sum(anp.exp(z - z_max), axis=1, keepdims=True)) + z_max
    return -anp.sum(Y * (z - log_norm)) / z.shape[0]


def autograd_net(name, layout, n_params, init, logits):
    """The Net of a network given by its logits(theta, X) (autograd.numpy operations) and init(rng).

    taped_loss = loss = cross_entropy(logits); g by Autograd's reverse mode; H u by forward mode over it
    (make_jvp of grad L), one pass per tangent.
    """
    def loss(theta, X, Y):
        return cross_entropy(logits(theta, X), Y)

    loss_grad = grad(loss)

    def grad_and_hvps(theta, tangents, X, Y):
        jvp = make_jvp(loss_grad)(theta, X, Y)
        hvps = np.empty_like(tangents)
        for i, tangent in enumerate(tangents):
            g, hvps[i] = jvp(tangent)
        return g, hvps

    return Net(name, layout, n_params, init, loss, value_and_grad(loss), grad_and_hvps, logits, loss)


def hand_derived(value, value_and_grad, grad_and_hvps):
    """(loss, loss_grad): Autograd primitives f(theta, X, Y, layout) of a network's loss L and gradient g = grad L,
    defined by its hand-derived functions value -> L, value_and_grad -> (L, g), grad_and_hvps(theta, U, ...) -> (g, H U).

    The derivative of `loss` along u is g . u (forward mode) and its adjoint g (reverse mode); that of `loss_grad`
    along u is H u in either mode (H = H^T), from grad_and_hvps with K = 1. So grad, make_jvp, forward-over-reverse
    and reverse-over-reverse of them work as on a taped loss; third derivatives are not defined.
    """
    @primitive
    def loss(theta, X, Y, layout):
        return value(theta, X, Y, layout)

    @primitive
    def loss_grad(theta, X, Y, layout):
        return value_and_grad(theta, X, Y, layout)[1]

    @primitive
    def hessian_vector_product(theta, u, X, Y, layout):
        return grad_and_hvps(theta, u[None, :], X, Y, layout)[1][0]

    defvjp(loss, lambda ans, theta, X, Y, layout: lambda g: g * loss_grad(theta, X, Y, layout))
    defjvp(loss, lambda u, ans, theta, X, Y, layout: anp.dot(loss_grad(theta, X, Y, layout), u))
    defvjp(loss_grad, lambda ans, theta, X, Y, layout: lambda w: hessian_vector_product(theta, w, X, Y, layout))
    defjvp(loss_grad, lambda u, ans, theta, X, Y, layout: hessian_vector_product(theta, u, X, Y, layout))
    return loss, loss_grad


# ---------------------------------------------------------------- views of the flat parameter vector

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
