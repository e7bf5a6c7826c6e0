"""Forward-mode hypergradients (Eqs. 8-9 with momentum) against reverse mode and finite differences."""
import json

import numpy as np
import pytest

from shb.numeric.networks import mlp

from shb.numeric.networks import training
from shb.numeric.meta.hypergrad import (
    alpha_and_dalpha, finite_difference_hypergrad, grad_and_hvps, hyper_step, hypergrad_run, meta_objective,
    relative_errors, reverse_hypergrad,
)
from shb.cli import main as shb_main

from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest

SIZES = (20, 10, 3)


def problem(horizon, seed=0, k=50.0):
    """Tiny MLP, (theta, v) after a short warm start, a fixed minibatch sequence and meta-batch.

    K is small so beta matters within T steps.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, 300)
    images = np.clip(rng.uniform(30, 220, (3, 20))[labels] + rng.normal(0, 30, (300, 20)), 0, 255)
    data = training.Dataset(images.astype(np.uint8), labels, 3)
    net = mlp.make_net(SIZES[:1], SIZES[-1], SIZES[1:-1])
    theta, v = training.warm_start(net, data, rng, steps=5, batch_size=20)
    batches = [training.minibatch(data, training.batch_indices(rng, 300, 20)) for _ in range(horizon)]
    meta_batch = training.minibatch(data, training.batch_indices(rng, 300, 50))
    return net, (theta, v, batches, meta_batch), k


@pytest.mark.parametrize("log_hypers", [np.log([0.05, 1.0]), np.log([0.2, 3.0]), np.log([0.01, 0.1])])
def test_forward_mode_equals_reverse_mode_through_the_unroll(log_hypers):
    # Catches any error in the tangent recursion: momentum term, d alpha/d lambda, sign of H u.
    net, args, k = problem(horizon=12)
    _, forward = hypergrad_run(net, log_hypers, *args, k=k)
    reverse = reverse_hypergrad(net, log_hypers, *args, mu=training.MU, k=k)
    np.testing.assert_allclose(forward, reverse, rtol=1e-9, atol=1e-14)
    assert np.all(np.abs(forward) > 1e-6)  # both hyperparameters matter here


def test_forward_mode_matches_central_finite_differences():
    net, args, k = problem(horizon=10, seed=1)
    log_hypers = np.log([0.1, 2.0])
    meta_loss, forward = hypergrad_run(net, log_hypers, *args, k=k)
    fd = finite_difference_hypergrad(meta_objective, net, log_hypers, *args, eps=1e-5, k=k)
    assert np.max(relative_errors(forward, fd)) < 1e-6
    # the reported J is the meta-objective of the same run
    assert meta_loss == pytest.approx(float(meta_objective(net, log_hypers, *args, k=k)), rel=1e-12)


def test_one_step_has_no_beta_dependence():
    # alpha_0 = alpha0 (1 + 0/K)^(-beta) does not depend on beta: the log-beta hypergradient is exactly 0.
    net, args, k = problem(horizon=1)
    _, forward = hypergrad_run(net, np.log([0.1, 2.0]), *args, k=k)
    assert forward[1] == 0.0 and forward[0] != 0.0


def test_dalpha_matches_differences_of_the_schedule():
    lam = np.log([0.07, 1.3])
    _, dalpha = alpha_and_dalpha(*np.exp(lam), t=700, k=5000.0)
    for i in range(2):
        e = np.eye(2)[i] * 1e-6
        fd = (training.inverse_time_decay(*np.exp(lam + e), 700)
              - training.inverse_time_decay(*np.exp(lam - e), 700)) / 2e-6
        assert dalpha[i] == pytest.approx(fd, rel=1e-7)


def test_hyper_step_in_place_rounds_as_the_tangent_recursion_is_written():
    # Eq. 9 with momentum as new arrays, rounded left to right, against the in-place step (catches a wrong
    # order, sign or momentum term in the in-place updates, and an update of dtheta before H dtheta is taken).
    net, (theta, v, batches, _), k = problem(horizon=1)
    rng = np.random.default_rng(7)
    dtheta, dv = 1e-2 * rng.standard_normal((2, 2, theta.size))
    X, Y = batches[0]
    alpha, dalpha = alpha_and_dalpha(0.05, 2.0, 3, k)
    g, hvps = mlp.grad_and_hvps(theta, dtheta, X, Y, net.layout)
    dv_expected = training.MU * dv - dalpha[:, None] * g[None, :] - alpha * hvps
    expected = (theta + (training.MU * v - alpha * g), training.MU * v - alpha * g, dtheta + dv_expected, dv_expected)
    state = [x.copy() for x in (theta, v, dtheta, dv)]
    hyper_step(net, *state, X, Y, 0.05, 2.0, 3, k=k)
    for actual, wanted in zip(state, expected):
        np.testing.assert_array_equal(actual, wanted)


def test_float32_hypergradient_is_close_to_float64_and_leaves_its_inputs():
    net, (theta, v, batches, meta_batch), k = problem(horizon=12)
    log_hypers = np.log([0.05, 1.0])
    copies = theta.copy(), v.copy()
    meta_loss, forward = hypergrad_run(net, log_hypers, theta, v, batches, meta_batch, k=k)
    np.testing.assert_array_equal(theta, copies[0])
    np.testing.assert_array_equal(v, copies[1])
    as32 = lambda batch: tuple(x.astype(np.float32) for x in batch)  # noqa: E731
    meta_loss32, forward32 = hypergrad_run(net, log_hypers, theta.astype(np.float32), v.astype(np.float32),
                                           [as32(b) for b in batches], as32(meta_batch), k=k)
    assert forward32.dtype == np.float32
    assert meta_loss32 == pytest.approx(meta_loss, rel=1e-5)
    np.testing.assert_allclose(forward32, forward, rtol=1e-4)


def test_zero_tangents_skip_the_hessian_but_not_the_gradient():
    net, (theta, v, batches, _), _ = problem(horizon=1)
    X, Y = batches[0]
    g, hvps = grad_and_hvps(net, theta, np.zeros((2, theta.size)), X, Y)
    np.testing.assert_allclose(g, mlp.loss_grad(theta, X, Y, net.layout))
    assert hvps.shape == (2, theta.size) and not hvps.any()


def test_a_tangent_whose_last_entry_is_zero_still_gets_its_hessian_product():
    # The zero-tangent shortcut looks at the last entries first: catches a shortcut taken when only they are zero.
    net, (theta, v, batches, _), _ = problem(horizon=1)
    X, Y = batches[0]
    tangents = np.random.default_rng(3).standard_normal((2, theta.size))
    tangents[:, -1] = 0.0
    g, hvps = grad_and_hvps(net, theta, tangents, X, Y)
    g_ref, hvps_ref = net.grad_and_hvps(theta, tangents, X, Y)
    assert np.abs(hvps_ref).max() > 0
    np.testing.assert_array_equal(hvps, hvps_ref)
    np.testing.assert_array_equal(g, g_ref)


def test_relative_errors():
    # Catches a denominator floored at 1 (an absolute error for small values): 0.5 against 0.25 is 50% off.
    np.testing.assert_allclose(relative_errors([1.0, 0.0, -2.0, 0.5], [1.1, 0.0, 2.0, 0.25]),
                               [0.1 / 1.1, 0.0, 2.0, 0.5])


def test_cli_hypergrad_check_json(tmp_path, capsys):
    # T = 10: at T = 6 dJ/d log beta is ~2e-7 and the central difference's round-off alone is ~1e-4 of it
    # (1.5e-4 or 7.5e-5 depending on the last bits of the warm start); at T = 10 it agrees to ~1e-6.
    write_synthetic_split(str(tmp_path), n=200)
    status = shb_main(["hypergrad-check", "--json", "--data-dir", str(tmp_path), "--horizon", "10", "--beta", "30",
                       "--n-train", "200"])
    result = json.loads(capsys.readouterr().out)
    assert status == 0 and result["passed"]
    assert result["max_rel_error"] < 1e-4 and result["max_rel_error_reverse"] < 1e-8
    assert result["horizon"] == 10 and len(result["forward"]) == 2


def test_cli_hypergrad_check_rejects_bad_values(capsys):
    assert shb_main(["hypergrad-check", "--beta", "-1"]) == 2
    assert "--beta must be a positive number, got -1.0" in capsys.readouterr().err
