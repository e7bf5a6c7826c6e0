"""The MLP, its flat-vector layout and the SGD-momentum step, against independent references.

The hand-derived derivatives (backprop, the batched R-operator, the Autograd primitives built on them)
are checked against Autograd's taped derivatives of `mlp.loss_taped` on random networks.
"""

import numpy as np
import pytest
from autograd import grad, make_jvp
from hypothesis import assume, given, strategies as st

from shb.numeric.networks import backprop

from shb.numeric.networks import mlp

from shb.numeric.networks import training

SIZES = (20, 10, 3)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    layout, n = mlp.make_layout(SIZES)
    theta = mlp.init_params(SIZES, rng) + 0.05 * rng.standard_normal(n)  # nonzero biases too
    X = rng.uniform(0, 1, (7, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], 7)]
    return layout, theta, X, Y, rng


def reference_loss(theta, X, Y):
    """Cross-entropy written out layer by layer with explicit offsets (no layout code)."""
    W1 = theta[:200].reshape(20, 10)
    b1 = theta[200:210]
    W2 = theta[210:240].reshape(10, 3)
    b2 = theta[240:243]
    z = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[Y.astype(bool)]))


def test_layout_tiles_the_flat_vector_and_unflatten_returns_views(tiny):
    layout, theta, *_ = tiny
    _, n = mlp.make_layout(SIZES)
    assert n == 20 * 10 + 10 + 10 * 3 + 3 == theta.size
    assert mlp.make_layout(mlp.PAPER_SIZES)[1] == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10
    for (W, b), shape in zip(mlp.unflatten(theta, layout), [(20, 10), (10, 3)]):
        assert W.shape == shape and b.shape == (shape[1],)
        assert np.shares_memory(W, theta) and np.shares_memory(b, theta)


def test_loss_matches_reference(tiny):
    layout, theta, X, Y, _ = tiny
    assert mlp.loss(theta, X, Y, layout) == pytest.approx(reference_loss(theta, X, Y), rel=1e-12)


def test_gradient_matches_central_differences(tiny):
    # Catches a wrong adjoint for the block/embed primitives (e.g. misplaced offsets).
    layout, theta, X, Y, rng = tiny
    g = mlp.loss_grad(theta, X, Y, layout)
    for _ in range(5):
        d = rng.standard_normal(theta.size)
        fd = (reference_loss(theta + 1e-6 * d, X, Y) - reference_loss(theta - 1e-6 * d, X, Y)) / 2e-6
        assert g @ d == pytest.approx(fd, rel=1e-6)


def test_hessian_vector_product_forward_over_reverse(tiny):
    # Catches a wrong forward-mode rule (defjvp) for block/embed: H u vs differences of gradients.
    layout, theta, X, Y, rng = tiny
    u = rng.standard_normal(theta.size)
    g, hu = make_jvp(mlp.loss_grad)(theta, X, Y, layout)(u)
    fd = (mlp.loss_grad(theta + 1e-6 * u, X, Y, layout) - mlp.loss_grad(theta - 1e-6 * u, X, Y, layout)) / 2e-6
    np.testing.assert_allclose(g, mlp.loss_grad(theta, X, Y, layout), rtol=1e-12)
    np.testing.assert_allclose(hu, fd, rtol=1e-5, atol=1e-8)


@st.composite
def networks(draw):
    """(layout, theta, X, Y, rng): 1-3 weight layers of 1-9 units (2-6 classes), batch 1-8, random parameters.

    Parameters and inputs are continuous random numbers, so no pre-activation is exactly 0 (a ReLU tie has
    probability 0): ties are tested on purpose in test_relu_ties_follow_autograds_convention. The softmax
    is kept unsaturated (every p_ic < 1 - 1e-4): as p -> one-hot, dL/dz = (p - Y)/B and R p = p o (R z - <p, R z>)
    become differences of nearly equal numbers, which Autograd forms in another order, so the two agree
    only to ~1e-16 / (1 - max p) relative to the (then tiny) gradient and Hessian.
    """
    hidden = draw(st.lists(st.integers(1, 9), min_size=0, max_size=2))
    sizes = (draw(st.integers(1, 9)), *hidden, draw(st.integers(2, 6)))
    batch = draw(st.integers(1, 8))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layout, n = mlp.make_layout(sizes)
    X = rng.uniform(0, 1, (batch, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    theta = scale * rng.standard_normal(n)
    z = mlp.logits(theta, X, layout)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assume(np.max(e / e.sum(axis=1, keepdims=True)) < 1 - 1e-4)
    return layout, theta, X, Y, rng


def assert_close(actual, expected, rtol):
    """|actual - expected| <= rtol (|expected| + max |expected|): relative, with entries near 0 judged on the scale."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected)))


@given(networks())
def test_backprop_equals_the_taped_gradient(net):
    # Catches any error in the backprop recursion or in where a block's gradient lands in the flat vector.
    layout, theta, X, Y, _ = net
    value, g = backprop.loss_and_grad(theta, X, Y, layout)
    assert value == mlp.loss_taped(theta, X, Y, layout)  # the same forward operations, to the last bit
    assert_close(g, mlp.loss_grad_taped(theta, X, Y, layout), rtol=1e-10)
    assert mlp.loss(theta, X, Y, layout) == value
    np.testing.assert_array_equal(mlp.loss_grad(theta, X, Y, layout), g)


@given(networks(), st.integers(1, 3))
def test_batched_hvps_equal_autograd_forward_over_reverse_of_the_taped_gradient(net, k):
    # Catches errors in the R-operator (a missing R h^T delta or delta U^T term, the softmax's R p) and in
    # the batching of the K tangents (one tangent's blocks leaking into another's).
    layout, theta, X, Y, rng = net
    tangents = rng.standard_normal((k, theta.size))
    g, hvps = backprop.grad_and_hvps(theta, tangents, X, Y, layout)
    np.testing.assert_array_equal(g, backprop.loss_and_grad(theta, X, Y, layout)[1])
    jvp = make_jvp(mlp.loss_grad_taped)(theta, X, Y, layout)
    for u, hu in zip(tangents, hvps):
        assert_close(hu, jvp(u)[1], rtol=1e-9)


@given(networks())
def test_loss_primitives_compose_with_autograd_to_second_order(net):
    # grad, forward mode, forward-over-reverse and reverse-over-reverse of the primitives all give the
    # hand-derived g and H u (catches a wrong defvjp/defjvp rule, e.g. H u for the loss's own derivative).
    layout, theta, X, Y, rng = net
    u, w = rng.standard_normal((2, theta.size))
    (g, (hu,)), (_, (hw,)) = (backprop.grad_and_hvps(theta, x[None], X, Y, layout) for x in (u, w))
    np.testing.assert_array_equal(grad(mlp.loss)(theta, X, Y, layout), g)
    assert make_jvp(mlp.loss)(theta, X, Y, layout)(u)[1] == g @ u
    np.testing.assert_array_equal(make_jvp(mlp.loss_grad)(theta, X, Y, layout)(u)[1], hu)
    np.testing.assert_array_equal(grad(lambda th: mlp.loss_grad(th, X, Y, layout) @ w)(theta), hw)


def test_relu_ties_follow_autograds_convention(tiny, monkeypatch):
    # A zero input row with zero first-layer biases puts every hidden unit of that example exactly at the kink
    # a = 0, where Autograd's np.maximum gives the derivative 1/2 (numpy_vjps.balanced_eq). The hand-derived
    # gradient and Hessian-vector products must match it there too.
    layout, theta, X, Y, rng = tiny
    (_, b1), _ = backprop.views(theta, layout)
    b1[:] = 0.0
    X[0] = 0.0
    assert not (X @ backprop.views(theta, layout)[0][0] + b1)[0].any()
    u = rng.standard_normal(theta.size)
    g, (hu,) = backprop.grad_and_hvps(theta, u[None], X, Y, layout)
    assert_close(g, mlp.loss_grad_taped(theta, X, Y, layout), rtol=1e-12)
    assert_close(hu, make_jvp(mlp.loss_grad_taped)(theta, X, Y, layout)(u)[1], rtol=1e-10)
    # ... and the test can tell: with the slope 1 at the kink (a >= 0) the bias gradient is different.
    monkeypatch.setattr(backprop, "relu_slope", lambda a: (a >= 0).astype(a.dtype))
    assert not np.allclose(backprop.loss_and_grad(theta, X, Y, layout)[1], mlp.loss_grad_taped(theta, X, Y, layout))


def test_views_of_tangent_rows_are_blocks_of_each_row(tiny):
    layout, theta, *_ = tiny
    tangents = np.arange(3 * theta.size, dtype=float).reshape(3, theta.size)
    (W1, b1), (W2, b2) = backprop.views(tangents, layout)
    assert W1.shape == (3, 20, 10) and b2.shape == (3, 3) and np.shares_memory(W1, tangents)
    for k in range(3):
        (w1, _), (_, c2) = mlp.unflatten(tangents[k], layout)
        np.testing.assert_array_equal(W1[k], w1)
        np.testing.assert_array_equal(b2[k], c2)


def test_float32_agrees_with_float64_to_float32_precision():
    # Catches a float32 path that silently computes in float64 (dtype) or mixes precisions wrongly (values).
    sizes = (50, 20, 20, 5)
    rng = np.random.default_rng(3)
    layout, n = mlp.make_layout(sizes)
    theta = mlp.init_params(sizes, rng) + 0.05 * rng.standard_normal(n)
    data = training.Dataset(rng.integers(0, 256, (300, 50), dtype=np.uint8), rng.integers(0, 5, 300), 5)
    X, Y = training.minibatch(data, np.arange(40))
    X32, Y32 = training.minibatch(data, np.arange(40), np.float32)
    assert X32.dtype == Y32.dtype == np.float32
    np.testing.assert_array_equal(X32, X.astype(np.float32))
    theta32, tangents = theta.astype(np.float32), rng.standard_normal((2, n))
    value, g = backprop.loss_and_grad(theta, X, Y, layout)
    value32, g32 = backprop.loss_and_grad(theta32, X32, Y32, layout)
    assert g32.dtype == np.float32 and np.asarray(value32).dtype == np.float32
    assert value32 == pytest.approx(value, rel=1e-6)
    assert_close(g32, g, rtol=1e-5)
    _, hvps = backprop.grad_and_hvps(theta, tangents, X, Y, layout)
    _, hvps32 = backprop.grad_and_hvps(theta32, tangents.astype(np.float32), X32, Y32, layout)
    assert hvps32.dtype == np.float32
    assert_close(hvps32, hvps, rtol=1e-5)
    # training: 30 steps stay float32 (the step size given as a numpy float64 included) and close to float64
    v, net = np.zeros(n), mlp.make_net(sizes[:1], sizes[-1], sizes[1:-1])
    after, _, losses = training.train(net, theta, v, data, np.float64(0.1), 1.0, 30, np.random.default_rng(4))
    after32, v32, losses32 = training.train(net, theta32, v.astype(np.float32), data, np.float64(0.1), 1.0, 30,
                                            np.random.default_rng(4))
    assert after32.dtype == v32.dtype == np.float32
    assert_close(after32, after, rtol=1e-4)
    np.testing.assert_allclose(losses32, losses, rtol=1e-4)


def test_malloc_thresholds_are_set_unless_the_environment_sets_them(monkeypatch):
    from shb.numeric.networks.malloc import keep_freed_memory

    assert keep_freed_memory() in (True, False)  # False off glibc
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    assert keep_freed_memory() is False


def test_init_weights_normal_scale_and_zero_biases():
    layout, _ = mlp.make_layout(mlp.PAPER_SIZES)
    theta = mlp.init_params(mlp.PAPER_SIZES, np.random.default_rng(1))
    (W1, b1), (W2, b2), (W3, b3) = mlp.unflatten(theta, layout)
    assert W1.std() == pytest.approx(0.1, rel=0.02) and abs(W1.mean()) < 0.002
    assert not (b1.any() or b2.any() or b3.any())
