"""The CNN (numeric/networks/cnn.py): im2col convolution and pooling against loop references, Autograd
gradients and Hessian-vector products against finite differences, spatial sizes, and training."""
import numpy as np
import pytest
from autograd import grad, make_jvp

from shb.numeric.networks import cnn

from shb.numeric.networks import training

TINY = dict(filters=(2, 3, 2), hidden=5, n_classes=3)
K, PAD = cnn.KERNEL, cnn.PAD


def naive_conv3x3(x, W, b):
    """Direct loop convolution with zero padding: the reference for im2col."""
    n, h, w, c = x.shape
    f = W.shape[1]
    kernel = W.reshape(K, K, c, f)
    padded = np.zeros((n, h + 2 * PAD, w + 2 * PAD, c))
    padded[:, PAD:PAD + h, PAD:PAD + w, :] = x
    out = np.zeros((n, h, w, f))
    for i in range(h):
        for j in range(w):
            patch = padded[:, i:i + K, j:j + K, :]  # (n, 3, 3, c)
            out[:, i, j, :] = np.einsum("nabc,abcf->nf", patch, kernel) + b
    return out


def naive_maxpool2x2(x):
    """Loop 2x2/stride-2 max-pooling with floor."""
    n, h, w, c = x.shape
    out = np.empty((n, h // 2, w // 2, c))
    for i in range(h // 2):
        for j in range(w // 2):
            out[:, i, j, :] = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :].max(axis=(1, 2))
    return out


def tiny_problem(side=8, channels=1, n=6, seed=0):
    rng = np.random.default_rng(seed)
    net = cnn.make_net((side, side, channels), TINY["n_classes"], TINY["filters"], TINY["hidden"])
    # random biases too: with the zero initial biases, zero-input regions sit exactly on a ReLU kink
    theta = net.init(rng) + 0.05 * rng.standard_normal(net.n_params)
    X = rng.uniform(0, 1, (n, side * side * channels))
    Y = np.eye(TINY["n_classes"])[rng.integers(0, TINY["n_classes"], n)]
    return net, theta, X, Y, rng


@pytest.mark.parametrize("shape", [(2, 5, 5, 2), (1, 8, 7, 3), (3, 1, 1, 1)])
def test_im2col_convolution_matches_loop(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    W = rng.standard_normal((shape[3] * 9, 4))
    b = rng.standard_normal(4)
    np.testing.assert_allclose(cnn.conv3x3(x, W, b), naive_conv3x3(x, W, b), rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 5, 3))
    y = rng.standard_normal((2, 6, 5, 27))
    assert np.isclose(np.sum(cnn.im2col(x) * y), np.sum(x * cnn.col2im(y, x.shape)), rtol=1e-12)


@pytest.mark.parametrize("hw", [(8, 8), (7, 7), (6, 5)])
def test_maxpool_matches_loop_with_floor(hw):
    x = np.random.default_rng(3).standard_normal((2, *hw, 3))
    out = cnn.maxpool2x2(x)
    assert out.shape == (2, hw[0] // 2, hw[1] // 2, 3)
    np.testing.assert_array_equal(out, naive_maxpool2x2(x))


def test_paper_spatial_sizes():
    """28 -> 14 -> 7 -> 3 (Fashion-MNIST) and 32 -> 16 -> 8 -> 4 (CIFAR-10), 64 filters at the end."""
    for shape, side in (((28, 28, 1), 3), ((32, 32, 3), 4)):
        layout = cnn.make_layout(shape)
        assert layout.dense[0].w_shape == (side * side * 64, 100)
        conv_params = sum(c * 9 * f + f for c, f in zip((shape[2], 32, 32), (32, 32, 64)))
        dense_params = side * side * 64 * 100 + 100 + 100 * 10 + 10
        assert layout.n_params == conv_params + dense_params


def test_logits_match_a_loop_forward_pass():
    net, theta, X, _, _ = tiny_problem()
    layout = net.layout
    h = X.reshape(-1, 8, 8, 1)
    for p in layout.convs:
        W = theta[p.w_start:p.w_stop].reshape(p.w_shape)
        h = naive_maxpool2x2(np.maximum(0, naive_conv3x3(h, W, theta[p.b_start:p.b_stop])))
    h = h.reshape(len(X), -1)
    (d1, d2) = layout.dense
    h = np.maximum(0, h @ theta[d1.w_start:d1.w_stop].reshape(d1.w_shape) + theta[d1.b_start:d1.b_stop])
    z = h @ theta[d2.w_start:d2.w_stop].reshape(d2.w_shape) + theta[d2.b_start:d2.b_stop]
    np.testing.assert_allclose(net.logits(theta, X), z, rtol=1e-12, atol=1e-12)


def test_gradient_matches_finite_differences():
    net, theta, X, Y, rng = tiny_problem()
    g = net.loss_and_grad(theta, X, Y)[1]
    for _ in range(3):
        d = rng.standard_normal(theta.size)
        eps = 1e-6
        fd = (net.loss(theta + eps * d, X, Y) - net.loss(theta - eps * d, X, Y)) / (2 * eps)
        assert abs(g @ d - fd) <= 1e-6 * max(abs(fd), 1e-3)


def test_hessian_vector_product_matches_finite_differences():
    """Forward-over-reverse through im2col/col2im, as the hypergradient uses it."""
    net, theta, X, Y, rng = tiny_problem(side=9, channels=2)
    d = rng.standard_normal(theta.size)
    loss_grad = grad(net.loss)
    _, hvp = make_jvp(loss_grad)(theta, X, Y)(d)
    np.testing.assert_array_equal(net.grad_and_hvps(theta, d[None], X, Y)[1][0], hvp)  # the Net's H u is this one
    eps = 1e-6
    fd = (loss_grad(theta + eps * d, X, Y) - loss_grad(theta - eps * d, X, Y)) / (2 * eps)
    np.testing.assert_allclose(hvp, fd, rtol=1e-5, atol=1e-7 * np.max(np.abs(fd)))


def test_cnn_trains_on_learnable_data():
    """SGD momentum lowers the training loss of the tiny CNN on class-dependent images."""
    rng = np.random.default_rng(4)
    net = cnn.make_net((8, 8, 1), 3, filters=(4, 4, 4), hidden=8)
    labels = rng.integers(0, 3, 300)
    means = rng.uniform(0, 255, (3, 64))
    images = np.clip(means[labels] + rng.normal(0, 40, (300, 64)), 0, 255).astype(np.uint8)
    data = training.Dataset(images, labels, 3)
    theta, v = net.init(rng), np.zeros(net.n_params)
    X, Y = training.minibatch(data, np.arange(300))
    before = net.loss(theta, X, Y)
    for _ in range(60):
        Xb, Yb = training.minibatch(data, training.batch_indices(rng, 300, 32))
        theta, v = training.sgd_momentum_step(theta, v, net.loss_and_grad(theta, Xb, Yb)[1], 0.05, 0.9)
    after = net.loss(theta, X, Y)
    assert after < 0.2 * before


def test_too_small_input_is_rejected():
    with pytest.raises(ValueError, match="too small"):
        cnn.make_layout((4, 4, 1))
