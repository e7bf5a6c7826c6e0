"""The paper's CNN (Section 3.3): its architecture and flat-vector layout, the Autograd-taped reference, and its Net.

Architecture (adapted from Caffe's CIFAR-10 example, as in the paper): three 3x3
convolutions with 32, 32 and 64 filters (stride 1, "same" zero padding, ReLU), each
followed by 2x2 max-pooling with stride 2, then a fully connected ReLU layer of 100
units and the linear output layer; softmax cross-entropy (numeric/networks/net.py).

Spatial sizes: pooling takes the floor (an odd row/column at the border is dropped),
so CIFAR-10 (32x32x3) goes 32 -> 16 -> 8 -> 4 (4*4*64 = 1024 features) and the
embedded Fashion-MNIST (28x28x1) goes 28 -> 14 -> 7 -> 3 (3*3*64 = 576 features).

Convolution is im2col + matrix product: for an (n, H, W, C) input, `im2col` gives
the (n, H, W, 9*C) array of zero-padded 3x3 patches (index (3*di + dj)*C + c within
a patch), and conv(x) = im2col(x) @ W + b with W of shape (9*C, F), computed as one
2-D matrix product (n*H*W, 9*C) @ (9*C, F). im2col is linear; its
adjoint `col2im` sums each patch entry back onto the pixel it came from. Both are
Autograd primitives whose derivatives are each other (as `block`/`embed` in
numeric/networks/net.py), so reverse mode and forward-over-reverse both work on `logits`: the
taped reference loss (`taped_loss`), and all the derivatives of `taped_net`.

`make_net`'s derivatives are hand-derived (numeric/networks/cnn_backprop.py): backprop for the
gradient and the batched R-operator for the gradient and K Hessian-vector products in
one pass, tested against Autograd's derivatives of `taped_loss`.

Inputs are flat rows in [0, 1] in (H, W, C) order, as `training.minibatch` returns them,
so the same SGD, minibatch and hypergradient code serves every network.
Initialization: weights ~ N(0, 2 / fan_in) (He et al., 2015), biases zero.

`NETWORK` is its registry entry "cnn": its sizes in the experiments' configurations ("cnn_filters", "cnn_hidden")
and the settings of the online experiment it runs with (batches, steps, learning rates; CIFAR-10 at paper scale).
"""
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd.extend import defjvp, defvjp, primitive

from shb.numeric.networks import cnn_backprop
from shb.numeric.networks.cnn_backprop import KERNEL, PAD
from shb.numeric.networks.net import Net, Network, autograd_net, bind, block, cross_entropy, hand_derived

PAPER_FILTERS = (32, 32, 64)
PAPER_HIDDEN = 100

# slices of one layer's weights and bias in the flat vector
Param = namedtuple("Param", ["w_start", "w_stop", "w_shape", "b_start", "b_stop"])
CNNLayout = namedtuple("CNNLayout", ["input_shape", "convs", "dense", "n_params"])


def pooled(size):
    """Side length after 2x2 max-pooling with stride 2 (floor)."""
    return size // 2


def make_layout(input_shape, filters=PAPER_FILTERS, hidden=PAPER_HIDDEN, n_classes=10):
    """Where each layer's (W, b) sits in theta, for inputs of shape (H, W, C)."""
    h, w, c = input_shape
    start, convs = 0, []
    for f in filters:
        w_stop = start + c * KERNEL * KERNEL * f
        convs.append(Param(start, w_stop, (c * KERNEL * KERNEL, f), w_stop, w_stop + f))
        start, c = w_stop + f, f
        h, w = pooled(h), pooled(w)
    if h < 1 or w < 1:
        raise ValueError(f"input {input_shape} is too small for {len(filters)} poolings")
    dense = []
    for n_in, n_out in ((h * w * c, hidden), (hidden, n_classes)):
        w_stop = start + n_in * n_out
        dense.append(Param(start, w_stop, (n_in, n_out), w_stop, w_stop + n_out))
        start = w_stop + n_out
    return CNNLayout(tuple(input_shape), tuple(convs), tuple(dense), start)


def init_params(layout, rng):
    """theta_0: weights ~ N(0, 2 / fan_in), biases 0."""
    theta = np.zeros(layout.n_params)
    for p in layout.convs + layout.dense:
        theta[p.w_start:p.w_stop] = rng.standard_normal(p.w_stop - p.w_start) * np.sqrt(2.0 / p.w_shape[0])
    return theta


def _params(theta, p):
    return block(theta, p.w_start, p.w_stop, p.w_shape), block(theta, p.b_start, p.b_stop, (p.b_stop - p.b_start,))


# ---------------------------------------------------------------- im2col and its adjoint

@primitive
def im2col(x):
    """(n, H, W, C) -> (n, H, W, 9*C): the zero-padded 3x3 patch around every pixel, index (3*di + dj)*C + c."""
    return cnn_backprop.patches(x).reshape(x.shape[:3] + (KERNEL * KERNEL * x.shape[3],))


@primitive
def col2im(cols, x_shape):
    """The adjoint of im2col: scatter-add every patch entry back to its pixel (padding dropped)."""
    return cnn_backprop.unpatch(cols, x_shape)


defvjp(im2col, lambda ans, x: lambda g: col2im(g, x.shape))
defjvp(im2col, lambda g, ans, x: im2col(g))
defvjp(col2im, lambda ans, cols, x_shape: lambda g: im2col(g))
defjvp(col2im, lambda g, ans, cols, x_shape: col2im(g, x_shape))


def conv3x3(x, W, b):
    """'Same' 3x3 convolution (cross-correlation) of (n, H, W, C) with W (9*C, F): (n, H, W, F)."""
    n, h, w, _ = x.shape
    cols = anp.reshape(im2col(x), (n * h * w, W.shape[0]))
    return anp.reshape(anp.dot(cols, W) + b, (n, h, w, W.shape[1]))


def maxpool2x2(x):
    """2x2 max-pooling, stride 2, floor: (n, H, W, C) -> (n, H//2, W//2, C)."""
    n, h, w, c = x.shape
    h2, w2 = pooled(h), pooled(w)
    if (h, w) != (2 * h2, 2 * w2):
        x = x[:, : 2 * h2, : 2 * w2, :]
    return anp.max(anp.reshape(x, (n, h2, 2, w2, 2, c)), axis=(2, 4))


# ---------------------------------------------------------------- the network

def logits(theta, X, layout):
    """conv-ReLU-pool x3, dense-ReLU, dense. X: (n, H*W*C) rows in (H, W, C) order."""
    h = anp.reshape(X, (X.shape[0],) + layout.input_shape)
    for p in layout.convs:
        W, b = _params(theta, p)
        h = maxpool2x2(anp.maximum(0.0, conv3x3(h, W, b)))
    h = anp.reshape(h, (X.shape[0], -1))
    (W1, b1), (W2, b2) = (_params(theta, p) for p in layout.dense)
    h = anp.maximum(0.0, anp.dot(h, W1) + b1)
    return anp.dot(h, W2) + b2


def taped_loss(theta, X, Y, layout):
    """Mean softmax cross-entropy of `logits`, composed of autograd.numpy operations: the reference."""
    return cross_entropy(logits(theta, X, layout), Y)


# L and dL/dtheta as Autograd primitives defined by the hand-derived derivatives (net.hand_derived).
loss, loss_grad = hand_derived(cnn_backprop.loss_value, cnn_backprop.loss_and_grad, cnn_backprop.grad_and_hvps)


def make_net(input_shape, n_classes, filters=PAPER_FILTERS, hidden=PAPER_HIDDEN):
    """The CNN for inputs of shape (H, W, C) as a Net (numeric/networks/net.py): loss, gradient, Hessian-vector products
    and logits hand-derived (numeric/networks/cnn_backprop.py, in theta's dtype), taped_loss Autograd's; init draws float64."""
    layout = make_layout(input_shape, filters, hidden, n_classes)
    return Net("cnn", layout, layout.n_params, lambda rng: init_params(layout, rng), bind(loss, layout),
               bind(cnn_backprop.loss_and_grad, layout), bind(cnn_backprop.grad_and_hvps, layout),
               bind(cnn_backprop.logits, layout), bind(taped_loss, layout))


def taped_net(input_shape, n_classes, filters=PAPER_FILTERS, hidden=PAPER_HIDDEN):
    """The same CNN with every derivative Autograd's (net.autograd_net of `logits`; H u by make_jvp per tangent):
    the network before its derivatives were hand-derived, kept as `shb bench cnn`'s reference."""
    layout = make_layout(input_shape, filters, hidden, n_classes)
    return autograd_net("cnn", layout, layout.n_params, lambda rng: init_params(layout, rng), bind(logits, layout))


# The CNN's settings in the online experiment (experiments/figures/online/config.py is the MLP's; these replace its
# values). Paper: the public code's hand-tuned CIFAR-10 lr 5e-3 and its initial lrs for SMD, on CIFAR-10.
ONLINE_PAPER = dict(fixed_lr=0.005, deterministic_lr=0.005, init_lrs=[0.005, 0.01, 0.001, 0.0005])
# Quick, sized from measured costs (one BLAS thread, float64, Fashion-MNIST; `shb bench cnn` for the step against its
# floor): a training step and a T=5 lookahead meta-step scale with the batch, so batch 10 buys 900 training steps and
# 140 meta-steps (2 every 10 steps for the first 700) per SMD run, within `make reproduce`'s ten minutes beside
# everything else (README: timings). Initial lr 0.05 for both lookaheads (at 0.1 with mu 0.9 the CNN stops learning
# within 100 steps). Adam's step 0.15: the stochastic lookahead lowers mu as well as alpha_eff, and
# alpha = alpha_eff (1 - mu) fell short of 3x with step 0.05 or 0.1 (also with batch 25, meta-batch 100, or 1000 and
# 1200 adaptation steps); at 0.2 its lr overshot and the CNN stopped learning: a tuned setting, marked below (the
# alpha fall at 0.05, 0.1, 0.15 and 0.2: `shb sensitivity online-cnn-meta-lr`, REPORT.md's "Tuned settings"). The
# fixed baseline keeps the public code's hand-tuned CIFAR-10 lr 5e-3.
ONLINE_QUICK = dict(
    fixed_lr=0.005,
    batch_size=10,
    meta_batch=10,
    steps=900,
    adapt_steps=700,
    burst_every=10,
    meta_steps_per_burst=2,
    meta_lr=0.15,
    log_every=100,
    eval_train=500,
    eval_test=500,
    check_step=300,
    audit_step=200,            # a logged step (the audit reads the logged lr)
    init_lrs=[0.05],
    deterministic_lr=0.05,
    tuned={"meta_lr": "online-cnn-meta-lr"},  # chosen after seeing its check: experiments/sensitivity.py
)
# Tiny (seconds, for the tests): fewer and smaller steps than the MLP's tiny runs.
ONLINE_TINY = dict(steps=12, adapt_steps=6, burst_every=3, audit_step=5, check_step=3, save_every=6, batch_size=4,
                   meta_batch=4, init_lrs=[0.1])
# Offline: the paper's CNN in the offline experiment as it is configured for the MLP (only tiny has been run:
# quick and larger take the MLP's horizons and sample counts at the CNN's step cost).
OFFLINE_SIZES = {"tiny": dict(cnn_filters=[2, 2, 2], cnn_hidden=4)}
OFFLINE_SIZES.update({scale: dict(cnn_filters=list(PAPER_FILTERS), cnn_hidden=PAPER_HIDDEN)
                      for scale in ("quick", "medium", "paper")})

NETWORK = Network(
    make_net, sizes={"filters": "cnn_filters", "hidden": "cnn_hidden"},
    tiny=((8, 8, 2), {"filters": (2, 3, 2), "hidden": 4}),
    settings={"online": {"tiny": ONLINE_TINY, "quick": ONLINE_QUICK, "paper": ONLINE_PAPER}, "offline": OFFLINE_SIZES},
    datasets={"paper": "cifar10"},  # the paper trains its CNN on CIFAR-10 (Section 3.3); quick and tiny: Fashion-MNIST
)
