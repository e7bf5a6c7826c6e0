"""One burst of online SMD and the run around it (numeric/meta/online_smd.py, online_state.py), with the lookahead's
meta-gradient replaced by known values: Adam's first step, the box on u and its counter, a meta-gradient Adam cannot square,
the meta-loss a burst logs, when bursts run, where the minibatches come from, which meta-step the hypergradient
check audits, what `evaluate` averages over, the step a divergence is reported at, and what the progress file holds
and refuses."""
import dataclasses
import json
import time

import numpy as np
import pytest

from shb.experiments.figures.online import units
from shb.experiments.figures.online.config import TINY, OnlineConfig, run_specs
from shb.ground.errors import ProgressError
from shb.ground.io import to_json
from shb.numeric.meta import lookahead, online_smd, online_state, reparam
from shb.numeric.meta.online_state import RunState
from shb.numeric.networks import training


def set_up(data_dir, name="stochastic", **config):
    """(config, problem, run, fresh state) of the tiny MLP experiment's run `name`, with `config`'s changes."""
    config = dict(json.loads(json.dumps(TINY)), **config)
    problem = units.build_problem(config, "mlp", "fashion-mnist", data_dir)
    run = next(s for s in run_specs(config) if s.name == name)
    return config, problem, run, online_smd.new_state(run, config, problem.net.init(np.random.default_rng(0)))


def meta_gradients(monkeypatch, grads, losses=None):
    """The lookahead's meta-gradients replaced by `grads`, one per meta-step, and its meta-losses by `losses`
    (default 1)."""
    sequence = zip(losses or [1.0] * len(grads), (np.asarray(g, dtype=float) for g in grads))
    monkeypatch.setattr(lookahead, "lookahead_hypergrad", lambda *args: next(sequence))


def sizes_drawn(monkeypatch, module, name):
    """The set sizes n that `module.name(rng, n, ...)` (an index draw) is called with, recorded in the list returned."""
    drawn, draw = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda rng, n, *rest: drawn.append(n) or draw(rng, n, *rest))
    return drawn


def burst_with(monkeypatch, data_dir, grads, losses=None, **config):
    """(state before, state after, config) one burst of len(grads) meta-steps whose meta-gradients are `grads`
    (and meta-losses `losses`)."""
    config, problem, run, state = set_up(data_dir, meta_steps_per_burst=len(grads), **config)
    before = {"u": state.u.copy(), "clipped": state.clipped_meta_steps}
    meta_gradients(monkeypatch, grads, losses)
    online_smd.burst(state, problem, run, config, np.random.default_rng(0))
    return before, state, config


def test_adams_first_step_moves_each_hyperparameter_by_its_step_size(monkeypatch, data_dir):
    # Bias-corrected Adam's first step is lr * sign(g) whatever |g| (Kingma & Ba, 2015): catches a run that starts
    # with Adam's step count at 1 (its first step would be 0.74 lr) or without bias correction.
    before, state, config = burst_with(monkeypatch, data_dir, [[2.0, -0.3]])
    np.testing.assert_allclose(state.u - before["u"], [-config["meta_lr"], config["meta_lr"]], rtol=1e-6)
    assert state.adam_step == 1


def test_steps_inside_the_box_are_not_counted_as_clipped_and_steps_outside_are(monkeypatch, data_dir):
    before, state, _ = burst_with(monkeypatch, data_dir, [[1e-3, 1e-3]] * 3)
    assert before["clipped"] == 0 and state.clipped_meta_steps == 0
    # alpha_eff's upper bound at the start: every step up is clipped back to it.
    start = reparam.alpha_mu(reparam.hypers(TINY["init_lrs"][0], TINY["mu0"]))
    bound = start[0] / (1 - start[1])
    _, state, _ = burst_with(monkeypatch, data_dir, [[-1.0, 0.0]] * 3, alpha_eff_bounds=[1e-6, bound])
    assert state.clipped_meta_steps == 3
    assert np.exp(state.u[0]) == pytest.approx(bound, rel=1e-12)


def test_a_start_on_the_box_s_edge_that_stays_there_is_not_counted_as_clipped(monkeypatch, data_dir):
    # Catches the counter's comparisons with the box made non-strict (u on a bound counted as clipped). A run
    # that starts at mu = 0 has u_1 = log(1 - mu) = 0, the upper bound of its coordinate; here alpha_eff also
    # starts on its lower bound, and zero meta-gradients leave both where they are.
    start = TINY["init_lrs"][0]
    before, state, _ = burst_with(monkeypatch, data_dir, [[0.0, 0.0]] * 3, mu0=0.0, alpha_eff_bounds=[start, 10.0])
    np.testing.assert_array_equal(before["u"], [np.log(start), 0.0])
    np.testing.assert_array_equal(state.u, before["u"])
    assert state.clipped_meta_steps == 0


@pytest.mark.parametrize("losses, logged", [([1.0, 3.0], 2.0), ([1.0, np.nan], np.inf)])
def test_a_burst_logs_the_mean_meta_loss_of_its_meta_steps(monkeypatch, data_dir, losses, logged):
    # Catches the finite and non-finite cases swapped when a burst's meta-losses are logged (Figure 7's
    # meta-objective), and a log of another statistic.
    _, state, _ = burst_with(monkeypatch, data_dir, [[1e-3, 1e-3]] * 2, losses=losses)
    assert state.meta["step"] == [0] and state.meta["meta_loss"] == [logged]


def test_the_meta_steps_run_every_burst_every_steps_before_adapt_steps_only(monkeypatch, data_dir):
    # Catches one more burst at t = adapt_steps, after which the lr is meant to follow its decay only.
    config, problem, run, state = set_up(data_dir)
    bursts = list(range(0, config["adapt_steps"], config["burst_every"]))
    assert config["adapt_steps"] % config["burst_every"] == 0 and len(bursts) > 1
    meta_gradients(monkeypatch, [[1e-3, 1e-3]] * config["meta_steps_per_burst"] * len(bursts))
    online_smd.advance(state, problem, run, config, config["steps"])
    assert state.meta["step"] == bursts and state.t == config["steps"]


def test_training_draws_its_minibatches_from_the_whole_training_set(monkeypatch, data_dir):
    # Catches the training minibatches drawn from range(n) of another axis of the images (the pixels per example).
    config, problem, run, state = set_up(data_dir, name="fixed")
    drawn = sizes_drawn(monkeypatch, training, "batch_indices")
    online_smd.advance(state, problem, run, config, 5)
    assert drawn == [problem.train.images.shape[0]] * 5 != [problem.train.images.shape[1]] * 5


def test_evaluate_averages_over_the_first_eval_train_and_eval_test_examples(data_dir):
    # Catches the evaluation subset sized by another axis of the images (e.g. the pixels per example).
    # The test subset lies between the pixels per example and the test set's size, so that such a mix-up shows.
    _, problem, _, _ = set_up(data_dir, eval_train=100, eval_test=80)
    theta = problem.net.init(np.random.default_rng(1))
    assert problem.train.images.shape[0] > 100 and problem.train.images.shape[1] != 100
    assert problem.test.images.shape[1] < 80 < problem.test.images.shape[0]
    train_loss, test_error = online_smd.evaluate(problem, theta)
    assert train_loss == pytest.approx(training.mean_loss(problem.net, theta, problem.train, 100), rel=1e-12)
    assert test_error == training.error_rate(problem.net, theta, problem.test, 80)
    assert test_error != training.error_rate(problem.net, theta, problem.test, problem.test.images.shape[1])


def test_a_non_finite_meta_gradient_counts_as_the_meta_gradient_1_0(monkeypatch, data_dir):
    # Catches another stand-in for a blown-up lookahead's meta-gradient: one that also moves mu (it should only
    # lower alpha_eff), or one of another size (Adam's later steps weigh it against the earlier meta-gradients).
    _, replaced, _ = burst_with(monkeypatch, data_dir, [[0.5, -0.2], [np.nan, 5.0], [0.3, 0.1]])
    _, explicit, _ = burst_with(monkeypatch, data_dir, [[0.5, -0.2], [1.0, 0.0], [0.3, 0.1]])
    np.testing.assert_array_equal(replaced.u, explicit.u)
    assert replaced.nonfinite_meta_grads == 1 and explicit.nonfinite_meta_grads == 0


@pytest.mark.parametrize("huge", [1e200, np.inf])
def test_a_meta_gradient_adam_cannot_square_lowers_alpha_eff_and_is_counted(monkeypatch, data_dir, huge):
    # Catches a frozen meta-optimizer: a finite meta-gradient of 1e200 squares to inf in Adam's second moment,
    # whose update of that coordinate is then m / sqrt(inf) = 0 for the rest of the run (seen in the deterministic
    # lookahead runs, whose lr then stayed constant while the lookahead kept blowing up).
    before, state, config = burst_with(monkeypatch, data_dir, [[huge, 1e-3], [1e-3, 1e-3], [1e-3, 1e-3]])
    assert state.nonfinite_meta_grads == 1
    assert np.all(np.isfinite(state.adam_v)) and np.all(np.isfinite(state.adam_m))
    assert state.u[0] < before["u"][0] - config["meta_lr"], "alpha_eff kept falling after the huge meta-gradient"


def test_each_meta_step_draws_its_minibatches_from_the_whole_training_set(monkeypatch, data_dir):
    # Catches the lookahead's minibatches drawn from range(n) of another axis of the images (the pixels per example):
    # on Fashion-MNIST that is the first 784 of 60 000 examples.
    config, problem, run, state = set_up(data_dir)
    n_train, pixels = problem.train.images.shape
    assert n_train != pixels
    drawn = sizes_drawn(monkeypatch, lookahead, "draw_lookahead")
    meta_gradients(monkeypatch, [[1e-3, 1e-3]] * config["meta_steps_per_burst"])
    online_smd.burst(state, problem, run, config, np.random.default_rng(0))
    assert drawn == [n_train] * config["meta_steps_per_burst"]


def test_the_hypergradient_check_audits_the_first_meta_step_at_or_after_check_step(monkeypatch, data_dir):
    # Catches the audited meta-step taken later in its burst (its u is then not the u the burst started from), or
    # overwritten by every later meta-step (the check would audit the last one instead of the first).
    config, problem, run, state = set_up(data_dir, meta_steps_per_burst=2)
    meta_gradients(monkeypatch, [[1e-3, 1e-3]] * 6)
    rng = np.random.default_rng(0)
    state.t = config["check_step"] - 1
    online_smd.burst(state, problem, run, config, rng)
    assert state.hypergrad_sample is None
    state.t, u_start = config["check_step"], state.u.copy()
    online_smd.burst(state, problem, run, config, rng)
    sample = state.hypergrad_sample
    assert sample.t == config["check_step"]
    np.testing.assert_array_equal(sample.u, u_start)
    state.t += config["burst_every"]
    online_smd.burst(state, problem, run, config, rng)
    assert state.hypergrad_sample is sample


def overflowing_step(monkeypatch, at):
    """SGD steps as usual, except the step number `at` (counted from 0), which leaves the weights non-finite."""
    step, taken = training.sgd_momentum_step, []

    def patched(theta, v, g, alpha, mu):
        theta, v = step(theta, v, g, alpha, mu)
        taken.append(1)
        if len(taken) == at + 1:
            theta = theta.copy()
            theta[0] = np.inf
        return theta, v
    monkeypatch.setattr(training, "sgd_momentum_step", patched)


def test_a_divergence_is_reported_at_the_step_that_made_the_weights_non_finite(monkeypatch, data_dir):
    # Catches a divergence reported only once the loss is non-finite too (one step late: the loss of step 3 was
    # computed before its update overflowed), and a run that goes on after it.
    config, problem, run, state = set_up(data_dir, name="fixed")
    overflowing_step(monkeypatch, at=3)
    online_smd.advance(state, problem, run, config, config["steps"])
    assert state.diverged_at == 3 and state.t == 4


def test_the_progress_file_holds_each_array_once_and_a_diverged_run_reads_back(monkeypatch, data_dir, tmp_path):
    # Catches the weights written a second time into the JSON header (as text, with inf as null) beside the binary
    # arrays; and a diverged run's progress (inf in the weights, NaN in the log) that does not read back as saved.
    config, problem, run, state = set_up(data_dir, name="fixed")
    overflowing_step(monkeypatch, at=3)
    online_smd.advance(state, problem, run, config, config["steps"])
    path = tmp_path / "progress.npz"
    state.save(path, run, config)
    with np.load(path) as npz:
        header = json.loads(npz["header"].tobytes().decode("utf-8"))
    arrays = online_state.arrays_of(RunState)
    assert set(arrays) == {"theta", "v", "u", "adam_m", "adam_v"} and not set(header) & set(arrays)
    saved, read = RunState.load(path)
    assert saved == online_state.identity(run, config)
    for key in arrays:
        np.testing.assert_array_equal(getattr(read, key), getattr(state, key))
    assert json.loads(json.dumps(read.log)) == json.loads(json.dumps(state.log))
    assert read.diverged_at == state.diverged_at == 3 and read.t == state.t and read.rng == state.rng


def test_a_progress_file_with_a_pickled_object_is_refused(data_dir, tmp_path):
    # Catches RunState.load loading with allow_pickle=True: unpickling a file can run arbitrary code, and a progress
    # file holds only numbers (arrays and a strict-JSON header).
    config, problem, run, state = set_up(data_dir, name="fixed")
    path = tmp_path / "progress.npz"
    state.save(path, run, config)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["theta"] = np.array([{"not": "a number"}], dtype=object)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(ProgressError, match="unreadable"):
        RunState.load(path)


def test_a_run_s_cpu_time_is_that_of_its_own_segments(data_dir):
    # Catches a fresh run whose CPU-time account does not start at 0 (the report's per-run CPU seconds).
    config, problem, run, state = set_up(data_dir, name="fixed")
    started = time.process_time()
    units.segment(OnlineConfig(config), "mlp", "fashion-mnist", data_dir, run, state, 3)
    assert 0.0 < state.cpu_seconds <= time.process_time() - started and state.t == 3


# The saved form of a run state before it was a type (the dict of these keys written by online_smd.save_state), kept
# here as it was: catches a RunState.load that no longer reads progress saved then.
OLD_ARRAY_KEYS = ("theta", "v", "u", "adam_m", "adam_v")
OLD_RUN_KEYS = ("name", "mode", "alpha", "mu", "seed")  # a RunSpec's fields then
OLD_SAMPLE_ARRAYS = {"hypergrad_sample": ("u", "theta", "v", "step_idx", "meta_idx", "hypergrad_used"),
                     "audit": ("theta_before", "v_before", "idx", "theta_after")}


def save_as_before(path, state, run, config):
    """Write `state` (the old dict) as the old online_smd.save_state did."""
    arrays = {k: np.asarray(state[k]) for k in OLD_ARRAY_KEYS}
    header = {k: v for k, v in state.items() if k not in OLD_ARRAY_KEYS and k not in OLD_SAMPLE_ARRAYS}
    header["run"], header["config"] = {k: v for k, v in run._asdict().items() if k in OLD_RUN_KEYS}, config
    for key, names in OLD_SAMPLE_ARRAYS.items():
        sample = state[key]
        header[key] = None if sample is None else {k: v for k, v in sample.items() if k not in names}
        if sample is not None:
            arrays.update({f"{key}.{k}": np.asarray(sample[k]) for k in names})
    arrays["header"] = np.frombuffer(to_json(header).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_progress_saved_before_the_state_was_a_type_resumes_to_the_same_numbers(data_dir, tmp_path):
    config, problem, run, state = set_up(data_dir)
    state.inputs = {"dataset": "D"}
    online_smd.advance(state, problem, run, config, 15)  # past the hypergradient sample and the audit
    assert state.hypergrad_sample is not None and state.audit is not None
    old = {f.name: getattr(state, f.name) for f in dataclasses.fields(state) if f.name not in online_state.OPTIONAL}
    for key in OLD_SAMPLE_ARRAYS:
        old[key] = dataclasses.asdict(old[key])
    path = tmp_path / "before.npz"
    save_as_before(path, old, run, config)
    saved, read = RunState.load(path)
    assert saved == online_state.identity(run, config)
    for field in dataclasses.fields(state):
        a, b = getattr(read, field.name), getattr(state, field.name)
        if field.name in OLD_SAMPLE_ARRAYS:
            a, b = dataclasses.asdict(a), dataclasses.asdict(b)
        np.testing.assert_equal(a, b, err_msg=field.name)
    online_smd.advance(read, problem, run, config, config["steps"])
    online_smd.advance(state, problem, run, config, config["steps"])
    np.testing.assert_array_equal(read.theta, state.theta)
    assert read.log == state.log and read.meta == state.meta
