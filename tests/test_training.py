"""SGD momentum, the schedule, minibatches and the training loop (numeric/networks/training.py), on the MLP."""
import numpy as np
import pytest

from shb.numeric.networks import mlp

from shb.numeric.networks import training

SIZES = (20, 10, 3)


def tiny_net():
    return mlp.make_net(SIZES[:1], SIZES[-1], SIZES[1:-1])


def test_in_place_sgd_rounds_like_the_functional_step_and_train_leaves_its_inputs():
    rng = np.random.default_rng(5)
    theta, v, g = rng.standard_normal((3, 50))
    expected = training.sgd_momentum_step(theta, v, g, 0.037, 0.91)
    theta2, v2, g2 = theta.copy(), v.copy(), g.copy()
    training.sgd_momentum_update(theta2, v2, g2, 0.037, 0.91)
    np.testing.assert_array_equal(theta2, expected[0])
    np.testing.assert_array_equal(v2, expected[1])
    data = training.Dataset(rng.integers(0, 256, (40, 20), dtype=np.uint8), rng.integers(0, 3, 40), 3)
    net = tiny_net()
    theta0, v0 = mlp.init_params(SIZES, rng), np.full(net.n_params, 0.01)
    copies = theta0.copy(), v0.copy()
    training.train(net, theta0, v0, data, 0.1, 1.0, 3, rng, batch_size=5)
    np.testing.assert_array_equal(theta0, copies[0])
    np.testing.assert_array_equal(v0, copies[1])


def test_inverse_time_decay():
    assert training.inverse_time_decay(0.3, 2.0, 0) == 0.3
    assert training.inverse_time_decay(0.3, 2.0, 5000) == pytest.approx(0.3 / 4)
    assert training.inverse_time_decay(0.3, 0.5, 15000, k=5000) == pytest.approx(0.3 / 2)


def test_sgd_momentum_two_steps_by_hand():
    theta, v = np.array([1.0, -2.0]), np.zeros(2)
    g1, g2 = np.array([0.5, 1.0]), np.array([-1.0, 2.0])
    theta, v = training.sgd_momentum_step(theta, v, g1, 0.1, 0.9)
    np.testing.assert_allclose(theta, [0.95, -2.1])
    theta, v = training.sgd_momentum_step(theta, v, g2, 0.2, 0.9)
    # v2 = 0.9 * (-0.05, -0.1) - 0.2 * (-1, 2) = (0.155, -0.49)
    np.testing.assert_allclose(v, [0.155, -0.49])
    np.testing.assert_allclose(theta, [1.105, -2.59])


def test_minibatch_scales_inputs_and_one_hot_labels():
    data = training.Dataset(np.array([[0, 255], [51, 102]], dtype=np.uint8), np.array([2, 0]), 3)
    X, Y = training.minibatch(data, np.array([1, 0, 1]))
    np.testing.assert_allclose(X, [[0.2, 0.4], [0, 1], [0.2, 0.4]])
    np.testing.assert_array_equal(Y, [[1, 0, 0], [0, 0, 1], [1, 0, 0]])


def test_mean_loss_is_the_mean_over_examples_whatever_the_chunks():
    # Catches a chunked mean that weights chunks equally (the last one is shorter) or drops the remainder.
    rng = np.random.default_rng(3)
    data = training.Dataset(rng.integers(0, 256, (50, 20), dtype=np.uint8), rng.integers(0, 3, 50), 3)
    net = tiny_net()
    theta = net.init(rng)
    per_example = [net.loss(theta, *training.minibatch(data, np.array([i]))) for i in range(37)]
    for chunk in (1, 5, 16, 37, 5000):
        assert training.mean_loss(net, theta, data, 37, chunk=chunk) == pytest.approx(np.mean(per_example), rel=1e-12)
    assert training.mean_loss(net, theta, data) == pytest.approx(
        float(net.loss(theta, *training.minibatch(data, np.arange(50)))), rel=1e-12)


def test_training_reduces_loss_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    images = np.clip(rng.uniform(30, 220, (3, 20))[labels] + rng.normal(0, 30, (400, 20)), 0, 255).astype(np.uint8)
    data = training.Dataset(images, labels, 3)
    net = tiny_net()
    theta, v = training.warm_start(net, data, np.random.default_rng(1), batch_size=20)
    before = training.mean_loss(net, theta, data)
    after, _, losses = training.train(net, theta, v, data, 0.05, 1.0, 200, np.random.default_rng(2), batch_size=20)
    assert training.mean_loss(net, after, data) < 0.5 * before
    again, _, _ = training.train(net, theta, v, data, 0.05, 1.0, 200, np.random.default_rng(2), batch_size=20)
    np.testing.assert_array_equal(after, again)
    assert losses.shape == (200,)


def test_error_rate_counts_wrong_argmaxes_whatever_the_chunks():
    # Catches a chunked count that drops the remainder or compares against the wrong labels.
    rng = np.random.default_rng(4)
    data = training.Dataset(rng.integers(0, 256, (50, 20), dtype=np.uint8), rng.integers(0, 3, 50), 3)
    net = tiny_net()
    theta = net.init(rng)
    wrong = [int(np.argmax(net.logits(theta, training.minibatch(data, [i])[0])[0]) != data.labels[i])
             for i in range(37)]
    assert 0 < sum(wrong) < 37
    for chunk in (1, 5, 16, 37, 5000):
        assert training.error_rate(net, theta, data, 37, chunk=chunk) == sum(wrong) / 37
