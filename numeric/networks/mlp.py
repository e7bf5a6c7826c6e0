"""The paper's MLP (Section 3.2) as plain functions over one flat parameter vector, and its Net.

Model: 784-100-100-10, ReLU hidden units, softmax cross-entropy, weights N(0, 0.1^2),
biases zero; trained as every network is (numeric/networks/training.py: SGD momentum, inputs in
[0, 1], minibatches of 100, warm start).

Parameters live in one flat vector (float64 by default; float32 where a caller asks
for it, see `init_params` and training.minibatch); `make_layout` fixes once where each layer's
weight matrix and bias sit in it, and `views` / `unflatten` only slice views.

Derivatives are hand-derived (numeric/networks/backprop.py): `loss_and_grad` is backprop and
`grad_and_hvps` adds Pearlmutter's R-operator for K Hessian-vector products in the same
pass, the K tangents batched into the same matrix products. `loss` and `loss_grad` are Autograd
primitives defined by them (reverse and forward mode, to second order), so they
compose with Autograd like the taped loss did. `loss_taped` is the same loss composed
of autograd.numpy operations and differentiated by Autograd's tape: the reference
the hand-derived derivatives are tested against, and the loss that the reverse-mode
hypergradient references differentiate through the unroll. `make_net` binds them to one
layout as the network's `Net` (numeric/networks/net.py); `NETWORK` is its registry entry "mlp".
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd import grad

from shb.numeric.networks.backprop import grad_and_hvps, loss_and_grad, loss_value, views
from shb.numeric.networks.net import Net, Network, bind, block, cross_entropy, hand_derived

PAPER_SIZES = (784, 100, 100, 10)
INIT_SCALE = 0.1

Layer = namedtuple("Layer", ["w_start", "w_stop", "w_shape", "b_start", "b_stop"])


def make_layout(layer_sizes):
    """Slices of each layer's (W, b) in the flat vector, and the total parameter count."""
    layout, start = [], 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        w_stop = start + n_in * n_out
        layout.append(Layer(start, w_stop, (n_in, n_out), w_stop, w_stop + n_out))
        start = w_stop + n_out
    return tuple(layout), start


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


def loss_taped(theta, X, Y, layout):
    """Mean softmax cross-entropy over the minibatch (Y one-hot), composed of autograd.numpy operations.

    Differentiated by Autograd's tape: the reference for the hand-derived derivatives below.
    """
    return cross_entropy(logits(theta, X, layout), Y)


loss_grad_taped = grad(loss_taped)


# ---------------------------------------------------------------- the loss as Autograd primitives

# L and dL/dtheta in theta's dtype, as Autograd primitives (net.hand_derived): their derivatives are `loss_grad`
# and H u (`grad_and_hvps` with K = 1) in reverse and forward mode, so grad, make_jvp(grad) and grad-of-grad of
# them work as on `loss_taped`.
loss, loss_grad = hand_derived(loss_value, loss_and_grad, grad_and_hvps)


def make_net(input_shape, n_classes, hidden_sizes=PAPER_SIZES[1:-1]):
    """The MLP prod(input_shape)-hidden_sizes-n_classes as a Net (numeric/networks/net.py); weights N(0, 0.1^2).

    Its loss, gradient and Hessian-vector products are the hand-derived ones (in theta's dtype), its
    taped_loss `loss_taped`; init draws float64.
    """
    sizes = (int(np.prod(input_shape)), *hidden_sizes, n_classes)
    layout, n_params = make_layout(sizes)
    return Net("mlp", layout, n_params, lambda rng: init_params(sizes, rng), bind(loss, layout),
               bind(loss_and_grad, layout), bind(grad_and_hvps, layout), bind(logits, layout),
               bind(loss_taped, layout))


# The registry entry (numeric/networks/__init__.py). The experiments' own configurations are the MLP's (the paper's
# Section 3 is written around it), so it changes nothing in them; its hidden layers are their "hidden_sizes".
NETWORK = Network(make_net, sizes={"hidden_sizes": "hidden_sizes"}, tiny=((7,), {"hidden_sizes": (5, 4)}))
