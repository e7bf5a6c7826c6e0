"""Online meta-optimization by a hypergradient trace with forgetting on a network (numeric/meta/trace.py, the
"trace" mode of numeric/meta/online_smd.py).

References: the trace over a window against central differences of a plain unroll of the network's taped loss with
the window's u_s moved by eps lambda^(W-1-s) (`window_difference`), at lambda 0, 0.7 and 1; and the run's own
trace, resumed from a saved state, equal to the one never interrupted. Bugs caught: a tangent term dropped or not
discounted, the velocity's term taken after the update, the meta-gradient from the wrong tangent, a trace lost or
changed by saving and loading.
"""
import numpy as np
import pytest

from shb.numeric.meta import online_smd, reparam, trace
from shb.numeric.meta.hypergrad import relative_errors
from shb.numeric.meta.online_state import RunState

from test_online import tiny_mlp


def window(seed=0, W=6):
    net, theta, v, batch = tiny_mlp(seed)
    rng = np.random.default_rng(seed + 1)
    us = np.array([reparam.hypers(a, m) for a, m in zip(rng.uniform(0.05, 0.3, W), rng.uniform(0.5, 0.9, W))])
    return net, us, theta, v, [batch() for _ in range(W)], batch()


@pytest.mark.parametrize("forget", [0.0, 0.7, 1.0])
def test_the_window_trace_is_the_derivative_under_the_discounted_perturbation(forget):
    net, us, theta, v, batches, loss_batch = window()
    theta0, v0 = theta.copy(), v.copy()
    exact = trace.window_trace(net, us, theta, v, batches, loss_batch, forget)
    fd = trace.window_difference(net, us, theta, v, batches, loss_batch, forget, 1e-6)
    assert np.max(relative_errors(exact, fd)) < 1e-6
    assert np.array_equal(theta, theta0) and np.array_equal(v, v0)


@pytest.mark.parametrize("broken", ["no discount", "velocity after the update", "no Hessian term"])
def test_a_broken_trace_fails_the_check(monkeypatch, broken):
    carry = trace.carry
    if broken == "no discount":
        monkeypatch.setattr(trace, "carry", lambda dth, dv, g, hvps, v, u, forget: carry(dth, dv, g, hvps, v, u, 1.0))
    elif broken == "velocity after the update":
        monkeypatch.setattr(trace, "carry", lambda dth, dv, g, hvps, v, u, forget: carry(
            dth, dv, g, hvps, reparam.alpha_mu(u)[1] * v - reparam.alpha_mu(u)[0] * g, u, forget))
    else:
        monkeypatch.setattr(trace, "carry", lambda dth, dv, g, hvps, v, u, forget: carry(
            dth, dv, g, 0.0 * hvps, v, u, forget))
    net, us, theta, v, batches, loss_batch = window()
    exact = trace.window_trace(net, us, theta, v, batches, loss_batch, 0.7)
    fd = trace.window_difference(net, us, theta, v, batches, loss_batch, 0.7, 1e-6)
    assert np.max(relative_errors(exact, fd)) > 1e-3


def tiny_run(tmp_path=None):
    from shb.experiments.figures.online.config import TINY, OnlineConfig

    net, theta, _, _ = tiny_mlp()
    rng = np.random.default_rng(3)
    X, labels = rng.uniform(0, 1, (200, 7)), rng.integers(0, 3, 200)
    from shb.numeric.networks import training

    data = training.Dataset(X, labels, 3)
    problem = online_smd.Problem(net, data, data, 50, 50)
    config = OnlineConfig({**TINY, "batch_size": 10, "meta_batch": 10, "eval_train": 50, "eval_test": 50})
    run = online_smd.RunSpec("trace", "trace", 0.1, 0.9, 7, forget=0.9, trace_lr=0.05)
    return problem, run, config, theta


def test_a_trace_run_adapts_records_its_window_and_resumes_bit_for_bit(tmp_path):
    problem, run, config, theta0 = tiny_run()
    whole = online_smd.run_online(problem, run, config, theta0)
    assert len(whole.meta["u"]) > 1 and not np.allclose(whole.meta["u"][0], whole.meta["u"][-1])
    w = whole.trace_window
    assert w.t == config["check_step"] and w.filled == len(w.us) + 1 == trace.window(config) + 1
    state = online_smd.new_state(run, config, theta0)
    online_smd.advance(state, problem, run, config, config["check_step"] + 2)  # mid-window
    state.save(tmp_path / "s.npz", run, config)
    _, state = RunState.load(tmp_path / "s.npz")
    online_smd.advance(state, problem, run, config, config["steps"])
    assert np.array_equal(state.theta, whole.theta) and np.array_equal(state.u, whole.u)
    assert np.array_equal(state.trace.dtheta, whole.trace.dtheta)
    assert np.array_equal(state.trace_window.us, w.us) and np.array_equal(state.trace_window.idx, w.idx)


def test_the_run_window_replays_to_the_runs_own_pairs(tmp_path):
    # The recorded window is what the run did: replaying its pairs and minibatches from its snapshot by plain SGD
    # momentum gives the run's weights at the window's end.
    problem, run, config, theta0 = tiny_run()
    state = online_smd.new_state(run, config, theta0)
    w_len = trace.window(config)
    online_smd.advance(state, problem, run, config, config["check_step"] + w_len)
    w = state.trace_window
    theta, v = w.theta.copy(), w.v.copy()
    from shb.numeric.networks import training

    for u, idx in zip(w.us, w.idx[:-1]):
        X, Y = training.minibatch(problem.train, idx)
        g = problem.net.loss_and_grad(theta, X, Y)[1]
        training.sgd_momentum_update(theta, v, g, *reparam.alpha_mu(u))
    np.testing.assert_allclose(theta, state.theta, rtol=1e-12, atol=1e-15)


def test_the_trace_experiment_shares_the_online_experiments_runs_and_reads_the_offline_schedule(tmp_path, data_dir):
    # Its stochastic-lookahead and fixed runs are the online experiment's own: run after it into the same folder,
    # they are read from the saved progress (their numbers equal online.json's); the offline long-horizon schedule
    # comes from offline.json there, and each trace's learning rate is set beside it.
    import json

    from shb.experiments.registry import EXPERIMENTS

    out = str(tmp_path)
    EXPERIMENTS["online"].run(out, "tiny", net="mlp", data_dir=data_dir)
    online = json.load(open(tmp_path / "online.json"))
    (tmp_path / "offline.json").write_text(json.dumps({"horizons": {"100": {"alpha0": 0.05, "beta": 0.5}},
                                                       "config": {"k": 5000.0}}))
    saved = {p: p.stat().st_mtime_ns for p in (tmp_path / "online_progress").iterdir()}
    result = EXPERIMENTS["online-trace"].run(out, "tiny", data_dir=data_dir)
    assert all(p.stat().st_mtime_ns == t for p, t in saved.items())  # not run again, not even re-saved
    assert len(list((tmp_path / "online_progress").iterdir())) == len(saved) + 2  # the two traces'
    sidecar = json.load(open(tmp_path / "online_trace.json"))
    for name in ("stochastic", "fixed"):
        assert sidecar["data"]["summaries"][name]["final_train_loss"] == online["summary"][name]["final_train_loss"]
        assert sidecar["data"]["runs"][name] == online["runs"][name]
    assert sidecar["data"]["offline_schedule"] == {"alpha0": 0.05, "beta": 0.5, "k": 5000.0, "horizon": 100}
    assert "times the offline long-horizon schedule's" in result.report
    assert result.passed


@pytest.mark.parametrize("spoil, words", [
    (lambda s: setattr(s.trace, "dtheta", s.trace.dtheta[:, :-1]), "trace.dtheta has shape"),
    (lambda s: setattr(s.trace_window, "idx", s.trace_window.idx[:-1]), "trace_window.idx has shape"),
    (lambda s: setattr(s.trace_window, "filled", 99), "trace_window.filled"),
])
def test_a_saved_trace_run_wrong_inside_is_refused_by_the_schema(spoil, words):
    # Catches a resume that would carry tangents of the wrong length into the run, or replay a broken window.
    from shb.ground import schema
    from shb.numeric.meta import online_schema

    problem, run, config, theta0 = tiny_run()
    state = online_smd.run_online(problem, run, config, theta0)
    online_schema.validate(state, config, theta0.size, 200)  # as saved: valid
    spoil(state)
    with pytest.raises(schema.Invalid, match=words):
        online_schema.validate(state, config, theta0.size, 200)
