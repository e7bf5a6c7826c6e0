"""The CNN's hand-derived derivatives (numeric/networks/cnn_backprop.py) against Autograd's derivatives of its taped loss.

Random tiny CNNs (input sizes that survive three poolings, odd sides included, 1-3 channels and filters), in two
regimes: continuous random parameters and inputs, where a ReLU kink or a pooling tie has probability 0, and
dyadic ones (inputs in {0, 1/2, 1} with zero regions, weights and biases in {-4/8, ..., 4/8}) where the forward
pass is exact in any summation order and kinks (a = 0) and ties (equal window maxima, positive or all-zero) are
everywhere: there the tie convention decides the derivative, and it must be Autograd's.
"""
import numpy as np
import pytest
from autograd import grad, make_jvp
from hypothesis import assume, given, settings, strategies as st

from shb.numeric.networks import cnn

from shb.numeric.networks import cnn_backprop

settings.register_profile("cnn", max_examples=30, deadline=None)


def tiny_cnn(rng, shape, filters, hidden, n_classes, batch, dyadic, scale=1.0):
    """(layout, theta, X, Y, rng): random parameters and inputs, continuous or dyadic (module doc)."""
    layout = cnn.make_layout(shape, filters, hidden, n_classes)
    if dyadic:
        theta = rng.integers(-4, 5, layout.n_params) / 8.0
        X = rng.integers(0, 3, (batch,) + shape) / 2.0
        X[:, : shape[0] // 2, : shape[1] // 2] = 0.0  # a blank region, as in Fashion-MNIST's borders
        X = X.reshape(batch, -1)
    else:
        theta = scale * rng.standard_normal(layout.n_params)
        X = rng.uniform(0, 1, (batch, int(np.prod(shape))))
    return layout, theta, X, np.eye(n_classes)[rng.integers(0, n_classes, batch)], rng


def unsaturated(layout, theta, X):
    """Every softmax probability below 1 - 1e-4 (see tests/test_mlp.py's networks for why)."""
    z = cnn.logits(theta, X, layout)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.max(e / e.sum(axis=1, keepdims=True)) < 1 - 1e-4


@st.composite
def cnns(draw, dyadic=False):
    """A tiny CNN: sides 8-13 (odd ones pool with the floor), 1-3 channels and filters, 2-4 classes, batch 1-4."""
    shape = (draw(st.integers(8, 13)), draw(st.integers(8, 11)), draw(st.integers(1, 3)))
    filters = tuple(draw(st.integers(1, 3)) for _ in range(3))
    net = tiny_cnn(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), shape, filters, draw(st.integers(1, 5)),
                   draw(st.integers(2, 4)), draw(st.integers(1, 4)), dyadic, draw(st.sampled_from([0.3, 1.0])))
    assume(unsaturated(*net[:3]))
    return net


def assert_close(actual, expected, rtol):
    """|actual - expected| <= rtol (|expected| + max |expected|)."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected)))


def check_against_taped(layout, theta, X, Y, rng, k):
    """Loss (to the last bit: the same forward operations), gradient and K batched H u vs Autograd's."""
    value, g = cnn_backprop.loss_and_grad(theta, X, Y, layout)
    assert value == cnn.taped_loss(theta, X, Y, layout)
    np.testing.assert_array_equal(cnn_backprop.logits(theta, X, layout), cnn.logits(theta, X, layout))
    taped_grad = grad(cnn.taped_loss)
    assert_close(g, taped_grad(theta, X, Y, layout), rtol=1e-10)
    tangents = rng.standard_normal((k, theta.size))
    g2, hvps = cnn_backprop.grad_and_hvps(theta, tangents, X, Y, layout)
    np.testing.assert_array_equal(g2, g)
    jvp = make_jvp(taped_grad)(theta, X, Y, layout)
    for u, hu in zip(tangents, hvps):
        assert_close(hu, jvp(u)[1], rtol=1e-9)


@settings(settings.get_profile("cnn"))
@given(cnns(), st.integers(1, 3))
def test_derivatives_equal_autograds_of_the_taped_loss(net, k):
    # Catches an error in backprop (unpooling, col2im, a misplaced block of g) or in the R-operator (a missing
    # patches(R x)^T delta or delta U^T term, the tangents' side-by-side products mixing up tangents).
    check_against_taped(*net, k)


@settings(settings.get_profile("cnn"))
@given(cnns(dyadic=True), st.integers(1, 2))
def test_kinks_and_pooling_ties_follow_autograds_convention(net, k):
    # Catches a tie convention other than Autograd's (np.max's even split, ReLU's 1/2 at 0) wherever one occurs.
    check_against_taped(*net, k)


def pooling_ties(layout, theta, X):
    """(positive ties, zero ties with a kink): windows whose maximum is shared (> 0), or is 0 with some a = 0."""
    x = X.reshape((len(X),) + layout.input_shape)
    positive = zero = 0
    for p in layout.convs:
        W, b = theta[p.w_start:p.w_stop].reshape(p.w_shape), theta[p.b_start:p.b_stop]
        a = (cnn_backprop.patches(x) @ W + b).reshape(x.shape[:3] + (W.shape[1],))
        corners = np.stack(cnn_backprop._corners(a))
        m = corners.max(axis=0)
        count = (corners == m).sum(axis=0)
        positive += int(np.sum((m > 0) & (count > 1)))
        zero += int(np.sum(m == 0))
        x = cnn_backprop.relu_pool(a)[0]
    return positive, zero


def first_maximum(J, pooled):
    """Another convention: all of a window's derivative to its first maximum (an argmax-based max-pool)."""
    first, taken = np.zeros_like(J), np.zeros(J.shape[1:], bool)
    for i in range(4):
        first[i] = (J[i] > 0) & ~taken
        taken |= J[i] > 0
    return first


def relu_slope_one_at_zero(J, pooled):
    """Another convention: ReLU's slope 1 at a = 0 (windows whose maximum is 0 get twice Autograd's weights)."""
    return np.where(pooled == 0, 2 * J, J)


@pytest.mark.parametrize("convention", [first_maximum, relu_slope_one_at_zero])
def test_the_dyadic_regime_has_ties_and_the_tie_convention_matters(monkeypatch, convention):
    # The regime above tests ties only if it has them; and another convention must fail the comparison there.
    nets = [tiny_cnn(np.random.default_rng(seed), (10, 9, 2), (3, 2, 3), 4, 3, 3, dyadic=True) for seed in range(4)]
    counts = [pooling_ties(*net[:3]) for net in nets]
    assert sum(c[0] for c in counts) > 0 and sum(c[1] for c in counts) > 0
    for net in nets:
        check_against_taped(*net, 1)
    real = cnn_backprop.relu_pool

    def other(a):
        pooled, J = real(a)
        return pooled, convention(J, pooled)

    monkeypatch.setattr(cnn_backprop, "relu_pool", other)
    failures = 0
    for net in nets:
        try:
            check_against_taped(*net, 1)
        except AssertionError:
            failures += 1
    assert failures > 0


def test_relu_pool_window_weights_on_chosen_windows():
    # The table of the module doc, one window each: a unique maximum, a shared positive maximum, a zero maximum
    # with kinks, a negative window; and the floor (a dropped last row/column gets weight 0 in the unpooling).
    a = np.array([[3.0, 1.0], [2.0, 0.5]]), np.array([[2.0, 2.0], [-1.0, 2.0]]), \
        np.array([[0.0, -1.0], [0.0, -3.0]]), np.array([[-1.0, -2.0], [-0.5, -4.0]])
    windows = np.stack(a)                                       # (4, 2, 2): four windows
    x = np.concatenate([np.concatenate(list(windows[:2]), axis=1), np.concatenate(list(windows[2:]), axis=1)])
    x = np.pad(x, ((0, 1), (0, 1)), constant_values=9.0)[None, :, :, None]  # 5x5: the 9s are dropped
    pooled, J = cnn_backprop.relu_pool(x)
    np.testing.assert_array_equal(pooled[0, :, :, 0], [[3.0, 2.0], [0.0, 0.0]])
    weights = J[:, 0, :, :, 0]                                  # (corner, window row, window column)
    np.testing.assert_array_equal(weights[:, 0, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(weights[:, 0, 1], [1 / 3, 1 / 3, 0, 1 / 3])
    np.testing.assert_array_equal(weights[:, 1, 0], [1 / 8, 0, 1 / 8, 0])
    np.testing.assert_array_equal(weights[:, 1, 1], [0, 0, 0, 0])
    back = cnn_backprop.unpool(np.ones((1, 2, 2, 1)), J, x.shape)
    assert back.shape == x.shape and not back[0, 4, :, 0].any() and not back[0, :, 4, 0].any()


def test_patches_and_unpatch_are_adjoint_and_match_the_taped_im2col():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 5, 7, 3)), rng.standard_normal((2 * 5 * 7, 27))
    cols = cnn_backprop.patches(x)
    assert np.isclose(np.sum(cols * y), np.sum(x * cnn_backprop.unpatch(y, x.shape)), rtol=1e-12)
    np.testing.assert_array_equal(cols.reshape(2, 5, 7, 27)[:, 2, 3], x[:, 1:4, 2:5].reshape(2, 27))


def test_float32_agrees_with_float64_to_float32_precision():
    # Catches a float32 path that silently computes in float64 (dtype) or mixes precisions wrongly (values).
    rng = np.random.default_rng(1)
    layout = cnn.make_layout((12, 10, 2), (3, 4, 3), 6, 4)
    theta = cnn.init_params(layout, rng) + 0.05 * rng.standard_normal(layout.n_params)
    X, Y = rng.uniform(0, 1, (5, 240)), np.eye(4)[rng.integers(0, 4, 5)]
    tangents = rng.standard_normal((2, layout.n_params))
    value, g = cnn_backprop.loss_and_grad(theta, X, Y, layout)
    value32, g32 = cnn_backprop.loss_and_grad(theta.astype(np.float32), X, Y, layout)
    assert g32.dtype == np.float32 and np.asarray(value32).dtype == np.float32
    assert value32 == pytest.approx(value, rel=1e-5)
    assert_close(g32, g, rtol=1e-4)
    _, hvps = cnn_backprop.grad_and_hvps(theta, tangents, X, Y, layout)
    _, hvps32 = cnn_backprop.grad_and_hvps(theta.astype(np.float32), tangents.astype(np.float32), X, Y, layout)
    assert hvps32.dtype == np.float32
    assert_close(hvps32, hvps, rtol=1e-4)
