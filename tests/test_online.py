"""Online SMD (numeric/meta/online_smd.py, experiments/figures/online.py, `shb online`) on tiny networks and data."""
import dataclasses
import json
import os

import numpy as np
import pytest

from shb.experiments.figures import online
from shb.experiments.figures.online import checks, units
from shb.experiments.figures.online.config import AUDIT_TOLERANCE, TINY, OnlineConfig, config_for, run_specs
from shb.experiments.runner import load_progress
from shb.numeric.networks import cnn
from shb.numeric.networks import mlp
from shb.numeric.meta import lookahead, online_smd, reparam
from shb.numeric.meta.online_state import RunState, identity
from shb.numeric.meta.hypergrad import finite_difference_hypergrad, relative_errors
from shb import cli
from shb.ground.errors import InputError, ProgressError

from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest


def data_name(data_dir):
    """What the reports call the synthetic IDX data of the tests: neither MNIST's nor Fashion-MNIST's class counts."""
    return f"IDX data in {data_dir}"


def tiny_mlp(seed=0, n=20):
    rng = np.random.default_rng(seed)
    net = mlp.make_net((7,), 3, hidden_sizes=(5,))
    theta = net.init(rng) + 0.05 * rng.standard_normal(net.n_params)
    v = 0.1 * rng.standard_normal(net.n_params)
    batch = lambda: (rng.uniform(0, 1, (n, 7)), np.eye(3)[rng.integers(0, 3, n)])  # noqa: E731
    return net, theta, v, batch


def test_reparameterization_round_trip_and_derivatives():
    u = reparam.hypers(0.03, 0.95)
    alpha, mu = reparam.alpha_mu(u)
    assert np.isclose(alpha, 0.03) and np.isclose(mu, 0.95)
    assert np.isclose(np.exp(u[0]), 0.03 / 0.05) and np.isclose(np.exp(u[1]), 0.05)
    dalpha, dmu = reparam.d_alpha_mu(u)
    eps = 1e-6
    for i in range(2):
        e = np.zeros(2)
        e[i] = eps
        (ap, mp), (am, mm) = reparam.alpha_mu(u + e), reparam.alpha_mu(u - e)
        assert np.isclose(dalpha[i], (ap - am) / (2 * eps), rtol=1e-7)
        assert np.isclose(dmu[i], (mp - mm) / (2 * eps), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("deterministic", [False, True])
def test_lookahead_hypergradient_matches_finite_differences_and_reverse_mode(deterministic):
    net, theta, v, batch = tiny_mlp()
    batches = [batch()] * 5 if deterministic else [batch() for _ in range(5)]
    meta_batch = batches[0] if deterministic else batch()
    u = reparam.hypers(0.2, 0.8)
    theta_copy, v_copy = theta.copy(), v.copy()
    _, forward = lookahead.lookahead_hypergrad(net, u, theta, v, batches, meta_batch)
    np.testing.assert_array_equal(theta, theta_copy)  # the lookahead never touches the real weights
    np.testing.assert_array_equal(v, v_copy)
    fd = finite_difference_hypergrad(lookahead.lookahead_loss, net, u, theta, v, batches, meta_batch)
    reverse = lookahead.reverse_lookahead_hypergrad(net, u, theta, v, batches, meta_batch)
    assert np.all(np.abs(forward) > 1e-8)
    assert np.max(relative_errors(forward, fd)) < 1e-6
    assert np.max(relative_errors(forward, reverse)) < 1e-10


def test_lookahead_hypergradient_on_the_cnn():
    rng = np.random.default_rng(5)
    net = cnn.make_net((8, 8, 1), 3, filters=(2, 2, 2), hidden=4)
    theta = net.init(rng) + 0.05 * rng.standard_normal(net.n_params)
    v = np.zeros(net.n_params)
    batches = [(rng.uniform(0, 1, (4, 64)), np.eye(3)[rng.integers(0, 3, 4)]) for _ in range(4)]
    u = reparam.hypers(0.1, 0.9)
    _, forward = lookahead.lookahead_hypergrad(net, u, theta, v, batches[:3], batches[3])
    fd = finite_difference_hypergrad(lookahead.lookahead_loss, net, u, theta, v, batches[:3], batches[3])
    assert np.max(relative_errors(forward, fd)) < 1e-5


def test_lookahead_draws():
    rng = np.random.default_rng(0)
    steps, meta = lookahead.draw_lookahead(rng, 1000, "deterministic", 5, 10, 50)
    assert all(np.array_equal(s, meta) for s in steps) and len(meta) == 10
    steps, meta = lookahead.draw_lookahead(rng, 1000, "stochastic", 5, 10, 50)
    assert len(meta) == 50 and len({tuple(s) for s in steps}) == 5


def test_decay_reaches_final_lr_exponentially():
    a = [online_smd.decayed_alpha(0.2, t, 100, 201, 1e-4) for t in (100, 150, 200)]
    assert np.isclose(a[0], 0.2) and np.isclose(a[2], 1e-4) and np.isclose(a[1], np.sqrt(0.2 * 1e-4))
    assert np.isclose(online_smd.decayed_alpha(1e-5, 200, 100, 201, 1e-4), 1e-5)  # never raised
    assert np.isclose(online_smd.decayed_alpha(0.2, 101, 100, 102, 1e-4), 1e-4)  # a tail of one step


@pytest.mark.slow
def test_run_writes_results_and_checks(tmp_path, data_dir):
    out = str(tmp_path / "out")
    result = online.run(out, config=TINY, net="mlp", data_dir=data_dir)
    assert result.complete and result.figures == ["fig7", "fig8"]
    saved = json.load(open(os.path.join(out, "online.json")))
    assert set(saved["runs"]) == {"fixed", "stochastic", "stochastic_lr0.01", "deterministic"}
    for name, log in saved["runs"].items():
        assert log["step"] == list(range(0, 40, 5)) + [40]
        assert all(len(log[k]) == len(log["step"]) for k in ("lr", "mu", "train_loss", "test_error"))
    fixed, sto = saved["runs"]["fixed"], saved["runs"]["stochastic_lr0.01"]
    assert np.allclose(fixed["lr"][:4], 0.1, rtol=1e-12) and np.isclose(fixed["lr"][-1], 1e-4)
    assert saved["summary"]["stochastic_lr0.01"]["initial_lr"] == 0.01
    # the burst at step 0 runs before step 0 is taken: 2 Adam steps of at most ~meta_lr in each of u_0, u_1
    assert 0 < abs(np.log(sto["lr"][0] / 0.01)) <= 4 * TINY["meta_lr"] * 1.01
    assert len(set(sto["lr"][:4])) == 4  # adapted between bursts
    names = {c["name"]: c for c in result.checks}
    assert names["hypergrad_used_vs_finite_differences_stochastic"]["passed"]
    assert names["hypergrad_used_vs_finite_differences_deterministic"]["passed"]
    assert all(names[f"logged_lr_is_applied_{n}"]["passed"] for n in ("fixed", "stochastic", "deterministic"))
    for name in ("fig7", "fig8"):
        assert os.path.exists(os.path.join(out, f"{name}.png"))
        assert json.load(open(os.path.join(out, f"{name}.json")))["evidence"]
    assert "| check | kind | passed | detail |" in result.report and "shb online" in result.report
    assert result.paper_vs_ours[0]["ours"] == pytest.approx(
        saved["summary"]["stochastic"]["initial_lr"] / saved["summary"]["stochastic"]["lr_end_of_adaptation"])


@pytest.fixture(scope="module")
def both(tmp_path_factory, data_dir):
    """A whole two-panel run at tiny settings (the MLP and the CNN, as `make reproduce` runs them): (out, result)."""
    out = str(tmp_path_factory.mktemp("both"))
    return out, online.run(out, config=config_for("tiny", net="both"), scale="tiny", net="both", data_dir=data_dir)


@pytest.mark.slow
def test_both_networks_give_two_columns_and_leave_the_mlp_alone(tmp_path, data_dir, both):
    # Catches: the MLP's online.json changed by running the CNN beside it (a number, a key, a check name), a panel
    # missing from a figure or its sidecar, check names that collide across panels, a CNN panel without its JSON
    # or without its checks, the report not naming each panel's data set.
    alone = str(tmp_path / "alone")
    online.run(alone, config=TINY, scale="tiny", net="mlp", data_dir=data_dir)
    out, result = both
    mlp_alone, mlp_both = (json.load(open(os.path.join(d, "online.json"))) for d in (alone, out))
    strip = lambda saved: dict(saved, seconds=None, summary={run: dict(s, cpu_seconds=None)  # noqa: E731
                                                             for run, s in saved["summary"].items()})
    assert strip(mlp_alone) == strip(mlp_both)
    cnn_saved = json.load(open(os.path.join(out, "online_cnn.json")))
    # the synthetic IDX data is named as what it is, not as the --dataset choice (fashion-mnist) it was read under
    assert set(cnn_saved) == set(mlp_both) and cnn_saved["net"] == "cnn" and cnn_saved["dataset"] == data_name(data_dir)
    names = [c["name"] for c in result.checks]
    assert len(names) == len(set(names)) and {n.split("/")[0] for n in names} == {"mlp", "cnn"}
    for panel in ("mlp", "cnn"):  # every check of the MLP's is there for the CNN too
        assert {n.split("/", 1)[1] for n in names if n.startswith(panel + "/")} >= {
            "hypergrad_used_vs_finite_differences_stochastic", "hypergrad_used_vs_finite_differences_deterministic",
            "logged_lr_is_applied_fixed", "logged_lr_is_applied_stochastic", "logged_lr_is_applied_deterministic",
            "stochastic_lr_falls_3x", "stochastic_lr_3x_below_deterministic", f"{panel}_trains_fixed_baseline"}
    for figure in ("fig7", "fig8"):
        sidecar = json.load(open(os.path.join(out, f"{figure}.json")))
        assert set(sidecar["data"]) == set(sidecar["config"]) == {"mlp", "cnn"}
        assert {c["name"].split("/")[0] for c in sidecar["evidence"]} == {"mlp", "cnn"}
    name = data_name(data_dir)
    assert f"### MLP on {name}" in result.report and f"### CNN on {name}" in result.report
    assert "on fashion-mnist" not in result.report.lower()
    assert {row["quantity"].split(": ")[0] for row in result.paper_vs_ours} == {f"MLP on {name}", f"CNN on {name}"}
    with pytest.raises(InputError, match="one configuration per network"):
        online.run(str(tmp_path / "bad"), config=TINY, net="both", data_dir=data_dir)


@pytest.mark.slow
def test_two_panels_resume_to_the_same_result(tmp_path, data_dir, both):
    # Catches progress files that collide across panels (the same run name in both), a panel whose runs a resume
    # restarts or skips, and segment counts that mix the panels' configurations.
    configs = config_for("tiny", net="both")
    parts = str(tmp_path / "parts")
    first = online.run(parts, config=configs, scale="tiny", net="both", data_dir=data_dir, stop_after=4)
    assert first.complete is False and not os.path.exists(os.path.join(parts, "online_cnn.json"))
    started = [units.progress_path(parts, net, "fashion-mnist", "stochastic") for net in ("mlp", "cnn")]
    assert any(os.path.exists(p) for p in started)
    online.run(parts, config=configs, scale="tiny", net="both", data_dir=data_dir)
    strip = lambda summary: {k: dict(s, cpu_seconds=None) for k, s in summary.items()}  # noqa: E731
    for name in ("online.json", "online_cnn.json"):
        a, b = (json.load(open(os.path.join(d, name))) for d in (both[0], parts))
        assert a["runs"] == b["runs"] and strip(a["summary"]) == strip(b["summary"])
        assert a["hypergrad_check"] == b["hypergrad_check"]


def test_a_wrong_cnn_input_fails_its_checks(data_dir, both):
    # Catches a CNN panel whose checks cannot fail: a hypergradient the run did not compute (off by 1%), and a
    # logged learning rate that is not the one applied (off by 1%), each fail the CNN's own named check.
    from shb.experiments.figures.online import panel
    out, _ = both
    config = config_for("tiny", net="cnn")
    problem = units.build_problem(config, "cnn", "fashion-mnist", data_dir)
    specs = run_specs(config)
    states = {s.name: RunState.load(units.progress_path(out, "cnn", "fashion-mnist", s.name))[1]
              for s in specs}
    cnn_panel = units.Panel("cnn", "fashion-mnist", data_dir, config, specs, None)
    passed = lambda o: {c["name"]: c["passed"] for c in o.checks7 + o.checks8}  # noqa: E731
    right = passed(panel.outcome(cnn_panel, problem, states, "tiny"))
    assert right["hypergrad_used_vs_finite_differences_stochastic"] and right["logged_lr_is_applied_deterministic"]
    sample = states["stochastic"].hypergrad_sample
    wrong = dataclasses.replace(states["stochastic"], hypergrad_sample=dataclasses.replace(
        sample, hypergrad_used=np.asarray(sample.hypergrad_used) * 1.01))
    wrong_log = json.loads(json.dumps(states["deterministic"].log))
    wrong_log["lr"][wrong_log["step"].index(config["audit_step"])] *= 1.01
    result = passed(panel.outcome(cnn_panel, problem, dict(states, stochastic=wrong, deterministic=dataclasses.replace(
        states["deterministic"], log=wrong_log)), "tiny"))
    assert not result["hypergrad_used_vs_finite_differences_stochastic"]
    assert not result["logged_lr_is_applied_deterministic"]
    assert result["hypergrad_used_vs_finite_differences_deterministic"] and result["logged_lr_is_applied_fixed"]


def test_an_audit_step_that_is_not_logged_is_refused_before_work(tmp_path, data_dir):
    # Catches a configuration whose audited step has no logged lr: it crashed after the whole run (ValueError in
    # the audit) instead of failing at the start with a one-line error; and a configuration not checked when read.
    with pytest.raises(InputError, match="audit_step 7 must be a logged step"):
        OnlineConfig(dict(TINY, audit_step=7))
    with pytest.raises(InputError, match="^the online configuration: audit_step 7 must be a logged step"):
        online.run(str(tmp_path / "o"), config=dict(TINY, audit_step=7), net="mlp", data_dir=data_dir)
    assert not (tmp_path / "o").exists()


def test_audit_check_fails_when_the_logged_lr_is_not_the_applied_one(tmp_path, data_dir):
    config = json.loads(json.dumps(TINY))
    problem = units.build_problem(config, "mlp", "fashion-mnist", data_dir)
    run = next(s for s in run_specs(config) if s.name == "stochastic")
    state = online_smd.run_online(problem, run, config, problem.net.init(np.random.default_rng(0)))
    err, _, _ = checks.audit_check(problem, state, state.log)
    assert err <= AUDIT_TOLERANCE
    log = json.loads(json.dumps(state.log))
    i = log["step"].index(config["audit_step"])
    log["lr"][i] *= 1.01
    assert checks.audit_check(problem, state, log)[0] > AUDIT_TOLERANCE


def test_segments_do_not_change_a_number(data_dir):
    # Catches state that a segment boundary loses or repeats (the RNG state, Adam's moments, the burst clock):
    # advancing 13 + 27 steps, across a burst boundary and not at a save point, equals 40 steps at once.
    config = json.loads(json.dumps(TINY))
    problem = units.build_problem(config, "mlp", "fashion-mnist", data_dir)
    run = run_specs(config)[0]
    theta0 = problem.net.init(np.random.default_rng(0))
    whole = online_smd.run_online(problem, run, config, theta0)
    parts = online_smd.new_state(run, config, theta0)
    for until in (13, config["steps"]):
        online_smd.advance(parts, problem, run, config, until)
    np.testing.assert_array_equal(whole.theta, parts.theta)
    np.testing.assert_array_equal(whole.u, parts.u)
    assert whole.log == parts.log and whole.meta == parts.meta and whole.rng == parts.rng


@pytest.mark.slow
def test_resume_gives_the_same_result(tmp_path, data_dir):
    whole = str(tmp_path / "whole")
    online.run(whole, config=TINY, net="mlp", data_dir=data_dir)
    parts = str(tmp_path / "parts")
    first = online.run(parts, config=TINY, net="mlp", data_dir=data_dir, stop_after=3)  # 3 segments of 10 steps
    assert first.complete is False and not os.path.exists(os.path.join(parts, "online.json"))
    path = units.progress_path(parts, "mlp", "fashion-mnist", "stochastic")
    _, saved = RunState.load(path)
    assert saved.t == 30 and saved.adam_step > 0  # in this process, runs go one after another
    # Other data (a smaller set, as the IndexError case) is refused, naming what differs, and the saved
    # progress stays as it was: catches a resume that mixes two data sets in one run.
    other = str(tmp_path / "other")
    write_synthetic_split(other, "train", n=200, shape=(8, 8), n_classes=3, seed=5)
    write_synthetic_split(other, "test", n=100, shape=(8, 8), n_classes=3, seed=1)
    before = open(path, "rb").read()
    with pytest.raises(ProgressError, match=r"made from other data \(.*train\.examples: saved 300, now 200"):
        online.run(parts, config=TINY, net="mlp", data_dir=other)
    assert open(path, "rb").read() == before
    online.run(parts, config=TINY, net="mlp", data_dir=data_dir)
    a = json.load(open(os.path.join(whole, "online.json")))
    b = json.load(open(os.path.join(parts, "online.json")))
    assert a["runs"] == b["runs"]
    strip = lambda summary: {k: {f: v for f, v in s.items() if f != "cpu_seconds"} for k, s in summary.items()}  # noqa: E731
    assert strip(a["summary"]) == strip(b["summary"])
    changed = dict(TINY, meta_lr=0.02)
    with pytest.raises(ProgressError, match="different configuration"):
        online.run(parts, config=changed, net="mlp", data_dir=data_dir)


@pytest.mark.slow
def test_cnn_runs_on_a_cifar_directory(tmp_path):
    """`online.run` with the CNN reads the pickle batches (32x32x3: 32 -> 16 -> 8 -> 4) and completes."""
    from test_cifar import write_tiny_cifar  # tests/ is on sys.path under pytest (rootdir-relative, no package)
    from data_writers import write_batch

    cifar_dir = str(tmp_path / "cifar")
    written = write_tiny_cifar(cifar_dir)
    classes = 1 + max(int(labels.max()) for name, (_, labels) in written.items() if name != "test_batch")
    images, labels = written["test_batch"]
    write_batch(os.path.join(cifar_dir, "test_batch"), images, labels % classes)  # only classes trained on
    train, test, shape = units.load_data("cifar10", cifar_dir)
    assert shape == (32, 32, 3) and train.images.shape == (15, 3072) and test.images.shape == (3, 3072)
    config = dict(TINY, steps=12, adapt_steps=6, burst_every=3, audit_step=5, check_step=3, save_every=6,
                  batch_size=4, meta_batch=4, init_lrs=[0.1])
    problem = units.build_problem(config, "cnn", "cifar10", cifar_dir)
    assert problem.net.layout.dense[0].w_shape[0] == 4 * 4 * 2
    out = str(tmp_path / "cnn")
    result = online.run(out, net="cnn", dataset="cifar10", config=config, data_dir=cifar_dir)
    assert result.complete
    names = {c["name"]: c["passed"] for c in result.checks}
    assert names["hypergrad_used_vs_finite_differences_stochastic"] and names["logged_lr_is_applied_stochastic"]
    saved = json.load(open(os.path.join(out, "online_cnn.json")))
    assert saved["net"] == "cnn" and saved["runs"]["fixed"]["step"][-1] == 12
    assert saved["dataset"] == f"CIFAR-10-format data in {cifar_dir}"  # 15 random images are not CIFAR-10
    assert not os.path.exists(os.path.join(out, "online.json"))  # the MLP's file


@pytest.mark.parametrize("argv, expected", [
    (["--dataset", "cifar10"], "needs --data-dir"),
    (["--data-dir", "/nonexistent/dir"], "not found"),
    (["--dataset", "mnist"], "needs --data-dir"),
])
def test_cli_bad_input_is_one_line_error(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.delenv("SHB_DATA", raising=False)
    status = cli.main(["online", "--out", str(tmp_path / "o"), *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2 and expected in err and "\n" not in err and err.startswith("shb: ")
    assert not os.path.exists(tmp_path / "o" / "online.json")


def test_corrupt_progress_file_is_a_one_line_error(tmp_path):
    path = str(tmp_path / "run.npz")
    with open(path, "wb") as handle:
        handle.write(b"PK\x03\x04 truncated")
    config = json.loads(json.dumps(TINY))
    run = run_specs(config)[0]
    with pytest.raises(ProgressError, match="unreadable") as err:
        load_progress(path, identity(run, config), dict, RunState.load)
    assert path in str(err.value) and "\n" not in str(err.value)
    assert load_progress(str(tmp_path / "absent.npz"), identity(run, config), dict,
                         RunState.load) == {}  # nothing saved: the fresh state


@pytest.mark.slow
def test_dask_cluster_gives_the_in_process_results(tmp_path, data_dir):
    # Catches a run whose numbers depend on where its segments ran (state lost in transit, a worker's own seed).
    from distributed import LocalCluster

    here = str(tmp_path / "here")
    online.run(here, config=TINY, net="mlp", data_dir=data_dir)
    there = str(tmp_path / "there")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        online.run(there, config=TINY, net="mlp", data_dir=data_dir, scheduler=cluster.scheduler_address)
    a, b = (json.load(open(os.path.join(d, "online.json"))) for d in (here, there))
    assert a["runs"] == b["runs"] and a["hypergrad_check"] == b["hypergrad_check"]

