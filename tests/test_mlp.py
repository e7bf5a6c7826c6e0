"""The MLP, its flat-vector layout and the SGD-momentum step, against independent references."""
import json

import numpy as np
import pytest
from autograd import make_jvp

from numeric import mlp

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


def test_init_weights_normal_scale_and_zero_biases():
    layout, _ = mlp.make_layout(mlp.PAPER_SIZES)
    theta = mlp.init_params(mlp.PAPER_SIZES, np.random.default_rng(1))
    (W1, b1), (W2, b2), (W3, b3) = mlp.unflatten(theta, layout)
    assert W1.std() == pytest.approx(0.1, rel=0.02) and abs(W1.mean()) < 0.002
    assert not (b1.any() or b2.any() or b3.any())


def test_inverse_time_decay():
    assert mlp.inverse_time_decay(0.3, 2.0, 0) == 0.3
    assert mlp.inverse_time_decay(0.3, 2.0, 5000) == pytest.approx(0.3 / 4)
    assert mlp.inverse_time_decay(0.3, 0.5, 15000, k=5000) == pytest.approx(0.3 / 2)


def test_sgd_momentum_two_steps_by_hand():
    theta, v = np.array([1.0, -2.0]), np.zeros(2)
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    theta, v = mlp.sgd_momentum_step(theta, v, g1, 0.1, 0.9)
    np.testing.assert_allclose(theta, [0.95, -2.1])
    theta, v = mlp.sgd_momentum_step(theta, v, g2, 0.2, 0.9)
    # v2 = 0.9 * (-0.05, -0.1) - 0.2 * (-1, 2) = (0.155, -0.49)
    np.testing.assert_allclose(v, [0.155, -0.49])
    np.testing.assert_allclose(theta, [1.105, -2.59])


def test_minibatch_scales_inputs_and_one_hot_labels():
    data = mlp.Dataset(np.array([[0, 255], [51, 102]], dtype=np.uint8), np.array([2, 0]), 3)
    X, Y = mlp.minibatch(data, np.array([1, 0, 1]))
    np.testing.assert_allclose(X, [[0.2, 0.4], [0, 1], [0.2, 0.4]])
    np.testing.assert_array_equal(Y, [[1, 0, 0], [0, 0, 1], [1, 0, 0]])


def test_training_reduces_loss_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    images = np.clip(rng.uniform(30, 220, (3, 20))[labels] + rng.normal(0, 30, (400, 20)), 0, 255).astype(np.uint8)
    data = mlp.Dataset(images, labels, 3)
    layout, _ = mlp.make_layout(SIZES)
    theta, v = mlp.warm_start(data, layout, SIZES, np.random.default_rng(1), batch_size=20)
    before = mlp.dataset_loss(theta, data, layout)
    after, _, losses = mlp.train(theta, v, data, layout, 0.05, 1.0, 200, np.random.default_rng(2), batch_size=20)
    assert mlp.dataset_loss(after, data, layout) < 0.5 * before
    again, _, _ = mlp.train(theta, v, data, layout, 0.05, 1.0, 200, np.random.default_rng(2), batch_size=20)
    np.testing.assert_array_equal(after, again)
    assert losses.shape == (200,)


def test_bench_mlp_reports_the_three_timings(capsys):
    from shb.cli import main as shb_main

    assert shb_main(["bench", "mlp", "--json", "--repeats", "1", "--steps", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("ms_plain_step", "ms_hyper_step", "ms_matmul_floor"):
        assert result[key] > 0
    assert shb_main(["bench", "mlp", "--repeats", "0"]) == 2
