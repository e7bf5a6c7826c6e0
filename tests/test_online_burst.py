"""One burst of online SMD and the evaluation it logs (numeric/online_smd.py), with the lookahead's meta-gradient
replaced by known values: Adam's first step, the box on u and its counter, a meta-gradient Adam cannot square, and
what `evaluate` averages over."""
import json

import numpy as np
import pytest

from shb.experiments.online import units
from shb.experiments.online.config import TINY, run_specs
from shb.numeric import online_smd, training


def burst_with(monkeypatch, data_dir, grads, **config):
    """(state before, state after) one burst of len(grads) meta-steps whose meta-gradients are `grads`."""
    config = dict(json.loads(json.dumps(TINY)), meta_steps_per_burst=len(grads), **config)
    problem = units.build_problem(config, "mlp", "fashion-mnist", data_dir)
    run = next(s for s in run_specs(config) if s.name == "stochastic")
    state = online_smd.new_state(run, config, problem.net.init(np.random.default_rng(0)))
    before = {"u": state["u"].copy(), "clipped": state["clipped_meta_steps"]}
    sequence = iter(np.asarray(g, dtype=float) for g in grads)
    monkeypatch.setattr(online_smd, "lookahead_hypergrad", lambda *args: (1.0, next(sequence)))
    online_smd.burst(state, problem, run, config, np.random.default_rng(0))
    return before, state, config


def test_adams_first_step_moves_each_hyperparameter_by_its_step_size(monkeypatch, data_dir):
    # Bias-corrected Adam's first step is lr * sign(g) whatever |g| (Kingma & Ba, 2015): catches a run that starts
    # with Adam's step count at 1 (its first step would be 0.74 lr) or without bias correction.
    before, state, config = burst_with(monkeypatch, data_dir, [[2.0, -0.3]])
    np.testing.assert_allclose(state["u"] - before["u"], [-config["meta_lr"], config["meta_lr"]], rtol=1e-6)
    assert state["adam_step"] == 1


def test_steps_inside_the_box_are_not_counted_as_clipped_and_steps_outside_are(monkeypatch, data_dir):
    before, state, _ = burst_with(monkeypatch, data_dir, [[1e-3, 1e-3]] * 3)
    assert before["clipped"] == 0 and state["clipped_meta_steps"] == 0
    # alpha_eff's upper bound at the start: every step up is clipped back to it.
    start = online_smd.alpha_mu(online_smd.hypers(TINY["init_lrs"][0], TINY["mu0"]))
    bound = start[0] / (1 - start[1])
    _, state, _ = burst_with(monkeypatch, data_dir, [[-1.0, 0.0]] * 3, alpha_eff_bounds=[1e-6, bound])
    assert state["clipped_meta_steps"] == 3
    assert np.exp(state["u"][0]) == pytest.approx(bound, rel=1e-12)


def test_evaluate_averages_over_the_first_eval_train_examples(data_dir):
    # Catches the evaluation subset sized by another axis of the images (e.g. the pixels per example).
    config = dict(json.loads(json.dumps(TINY)), eval_train=100, eval_test=50)
    problem = units.build_problem(config, "mlp", "fashion-mnist", data_dir)
    theta = problem.net.init(np.random.default_rng(1))
    assert problem.train.images.shape[0] > 100 and problem.train.images.shape[1] != 100
    train_loss, test_error = online_smd.evaluate(problem, theta)
    assert train_loss == pytest.approx(training.mean_loss(problem.net, theta, problem.train, 100), rel=1e-12)
    assert test_error == training.error_rate(problem.net, theta, problem.test, 50)


@pytest.mark.parametrize("huge", [1e200, np.inf])
def test_a_meta_gradient_adam_cannot_square_lowers_alpha_eff_and_is_counted(monkeypatch, data_dir, huge):
    # Catches a frozen meta-optimizer: a finite meta-gradient of 1e200 squares to inf in Adam's second moment,
    # whose update of that coordinate is then m / sqrt(inf) = 0 for the rest of the run (seen in the deterministic
    # lookahead runs, whose lr then stayed constant while the lookahead kept blowing up).
    before, state, config = burst_with(monkeypatch, data_dir, [[huge, 1e-3], [1e-3, 1e-3], [1e-3, 1e-3]])
    assert state["nonfinite_meta_grads"] == 1
    assert np.all(np.isfinite(state["adam_v"])) and np.all(np.isfinite(state["adam_m"]))
    assert state["u"][0] < before["u"][0] - config["meta_lr"], "alpha_eff kept falling after the huge meta-gradient"
