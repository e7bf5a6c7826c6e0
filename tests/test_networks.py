"""The network interface and registry (numeric/networks/net.py, numeric/networks/__init__.py): every registered network
agrees with its taped reference and runs with every configuration the experiments give it, `--net both` is the
paper's pair whatever else is registered, and a network registered in this file alone (its one registry entry)
serves training, offline and online SMD, and runs the offline and online experiments at tiny scale."""
import inspect
import json
import os

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, make_jvp

from shb.ground.errors import InputError
from shb.numeric import networks
from shb.numeric.meta import hypergrad
from shb.numeric.networks import mlp
from shb.numeric.meta import lookahead, online_smd, reparam
from shb.numeric.meta import smd
from shb.numeric.networks import training
from shb.numeric.networks.net import Network, autograd_net, cross_entropy

from shb.experiments.figures import offline, online
from shb.experiments.figures.offline import config as offline_config
from shb.experiments.figures.online import config as online_config
from shb.experiments.figures.online import units as online_units

from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest

N_CLASSES = 3


def make_tanh_net(input_shape, n_classes, hidden_sizes=(4,)):
    """A network that is not in the registry: an MLP with tanh units, its derivatives Autograd's."""
    sizes = (int(np.prod(input_shape)), *hidden_sizes, n_classes)
    layout, n_params = mlp.make_layout(sizes)

    def logits(theta, X):
        params = mlp.unflatten(theta, layout)
        h = X
        for W, b in params[:-1]:
            h = anp.tanh(anp.dot(h, W) + b)
        W, b = params[-1]
        return anp.dot(h, W) + b

    return autograd_net("tanh", layout, n_params, lambda rng: 0.3 * rng.standard_normal(n_params), logits)


# Its registry entry: the whole of what registers it (numeric/networks/net.py Network).
TANH = Network(make_tanh_net, sizes={"hidden_sizes": "hidden_sizes"}, tiny=((6,), {"hidden_sizes": (5,)}))


@pytest.fixture
def tanh_registered(monkeypatch):
    monkeypatch.setitem(networks.NETWORKS, "tanh", TANH)
    yield
    smd.build_problem.cache_clear()  # their caches hold problems with the temporary network
    online_units.cached_problem.cache_clear()


def point(net, n_inputs, seed=0, batch=5):
    """(theta, X, Y): random parameters (nonzero biases) and a random minibatch."""
    rng = np.random.default_rng(seed)
    theta = net.init(rng) + 0.05 * rng.standard_normal(net.n_params)
    X = rng.uniform(0, 1, (batch, n_inputs))
    Y = np.eye(N_CLASSES)[rng.integers(0, N_CLASSES, batch)]
    return theta, X, Y, rng


def assert_matches_taped(net, theta, X, Y, rng):
    """Every function of `net` against Autograd's derivatives of its taped_loss (and logits against the loss)."""
    reference = net.taped_loss(theta, X, Y)
    g_reference = grad(net.taped_loss)(theta, X, Y)
    hvp_reference = make_jvp(grad(net.taped_loss))(theta, X, Y)
    scale = np.max(np.abs(g_reference))
    assert net.loss(theta, X, Y) == pytest.approx(reference, rel=1e-12)
    assert cross_entropy(net.logits(theta, X), Y) == pytest.approx(reference, rel=1e-12)
    assert net.logits(theta, X).shape == (len(X), Y.shape[1])
    value, g = net.loss_and_grad(theta, X, Y)
    assert value == pytest.approx(reference, rel=1e-12)
    np.testing.assert_allclose(g, g_reference, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(grad(net.loss)(theta, X, Y), g, rtol=1e-10, atol=1e-10 * scale)  # loss: Autograd's
    tangents = rng.standard_normal((2, net.n_params))
    g2, hvps = net.grad_and_hvps(theta, tangents, X, Y)
    np.testing.assert_array_equal(g2, g)
    assert hvps.shape == tangents.shape
    for u, hu in zip(tangents, hvps):
        expected = hvp_reference(u)[1]
        np.testing.assert_allclose(hu, expected, rtol=1e-9, atol=1e-9 * np.max(np.abs(expected)))


@pytest.mark.parametrize("name", sorted(networks.NETWORKS))
def test_registered_network_matches_its_taped_reference(name):
    shape, sizes = networks.entry(name).tiny
    net = networks.make(name, shape, N_CLASSES, **sizes)
    assert net.name == name
    theta0 = net.init(np.random.default_rng(1))
    assert theta0.shape == (net.n_params,) and theta0.dtype == np.float64
    assert_matches_taped(net, *point(net, int(np.prod(shape))))


@pytest.mark.parametrize("field", ["loss_and_grad", "grad_and_hvps"])
def test_the_reference_check_catches_a_wrong_derivative(field):
    net = networks.make("mlp", (7,), N_CLASSES, hidden_sizes=(5,))
    right = getattr(net, field)
    wrong = lambda *args: tuple(x * 1.001 if i == 1 else x for i, x in enumerate(right(*args)))  # noqa: E731
    with pytest.raises(AssertionError):
        assert_matches_taped(net._replace(**{field: wrong}), *point(net, 7))


def test_make_rejects_unknown_networks_and_sizes():
    with pytest.raises(InputError, match="unknown network 'resnet'"):
        networks.make("resnet", (7,), 3)
    with pytest.raises(InputError, match="'cnn' does not take"):
        networks.make("cnn", (8, 8, 1), 3, hidden_sizes=(5,))


def test_a_registered_network_serves_offline_hypergradients(tanh_registered):
    net = networks.make("tanh", (6,), N_CLASSES, hidden_sizes=(5,))
    assert_matches_taped(net, *point(net, 6))
    theta, _, _, rng = point(net, 6, seed=2)
    v = 0.01 * rng.standard_normal(net.n_params)
    batch = lambda: (rng.uniform(0, 1, (10, 6)), np.eye(N_CLASSES)[rng.integers(0, N_CLASSES, 10)])  # noqa: E731
    args = (theta, v, [batch() for _ in range(6)], batch())
    log_hypers = np.log([0.3, 2.0])
    _, forward = hypergrad.hypergrad_run(net, log_hypers, *args, k=5.0)
    reverse = hypergrad.reverse_hypergrad(net, log_hypers, *args, k=5.0)
    fd = hypergrad.finite_difference_hypergrad(hypergrad.meta_objective, net, log_hypers, *args, eps=1e-5, k=5.0)
    assert np.all(np.abs(forward) > 1e-8)
    assert np.max(hypergrad.relative_errors(forward, reverse)) < 1e-10
    assert np.max(hypergrad.relative_errors(forward, fd)) < 1e-6


def test_a_registered_network_serves_online_smd(tanh_registered):
    net = networks.make("tanh", (6,), N_CLASSES, hidden_sizes=(5,))
    theta, _, _, rng = point(net, 6, seed=3)
    v = 0.01 * rng.standard_normal(net.n_params)
    batch = lambda: (rng.uniform(0, 1, (10, 6)), np.eye(N_CLASSES)[rng.integers(0, N_CLASSES, 10)])  # noqa: E731
    batches, meta_batch = [batch() for _ in range(4)], batch()
    u = reparam.hypers(0.2, 0.8)
    _, forward = lookahead.lookahead_hypergrad(net, u, theta, v, batches, meta_batch)
    reverse = lookahead.reverse_lookahead_hypergrad(net, u, theta, v, batches, meta_batch)
    assert np.all(np.abs(forward) > 1e-8) and np.max(hypergrad.relative_errors(forward, reverse)) < 1e-10
    # evaluation reads the network's own logits and loss
    data = training.Dataset(rng.integers(0, 256, (30, 6), dtype=np.uint8), rng.integers(0, N_CLASSES, 30), N_CLASSES)
    train_loss, test_error = online_smd.evaluate(online_smd.Problem(net, data, data, 30, 30), theta)
    X, Y = training.minibatch(data, np.arange(30))
    assert train_loss == pytest.approx(float(net.loss(theta, X, Y)), rel=1e-12)
    assert test_error == np.mean(np.argmax(net.logits(theta, X), axis=1) != data.labels)


def test_a_registered_network_serves_offline_smd(tanh_registered, tmp_path):
    write_synthetic_split(str(tmp_path), n=120, shape=(3, 2), n_classes=N_CLASSES)
    spec = smd.ProblemSpec(str(tmp_path), (("hidden_sizes", (4,)),), None, 60, 0, 0.9, 50.0, 10, 20, "float64", "tanh")
    problem = smd.build_problem(spec)
    assert problem.net.name == "tanh" and problem.theta0.shape == (problem.net.n_params,)
    meta_loss, hypergrads = smd.meta_gradient(problem, np.log([0.1, 1.0]), 5, seed=1)
    assert np.isfinite(meta_loss) and np.all(np.isfinite(hypergrads)) and np.any(hypergrads != 0)
    (loss,) = smd.surface_losses(spec, 0.1, 1.0, [5], seed=2)
    assert np.isfinite(loss) and loss != smd.eval_loss(problem, problem.theta0)  # training moved theta


@pytest.mark.parametrize("name", sorted(networks.NETWORKS))
def test_every_network_takes_the_sizes_of_every_configuration_it_runs_with(name):
    # Catches a registry entry whose settings name a key the experiment does not have (the configuration refuses
    # it), whose size keys the configurations lack, or whose constructor does not take its size keywords.
    entry = networks.entry(name)
    configs = [online_config.config_for(scale, net=name) for scale in online_config.CONFIGS]
    configs += [offline_config.config_for(scale, net=name) for scale in offline_config.CONFIGS]
    for config in configs:
        sizes = networks.sizes(name, config)
        assert set(sizes) == set(entry.sizes)
        inspect.signature(entry.make).bind(entry.tiny[0], N_CLASSES, **sizes)
    assert set(entry.settings) <= {"offline", "online"} and set(entry.datasets) <= set(online_config.CONFIGS)
    for experiment, scales in entry.settings.items():
        assert set(scales) <= set((offline_config if experiment == "offline" else online_config).CONFIGS)


def test_both_is_the_papers_pair_by_name_whatever_else_is_registered(tanh_registered):
    # Catches --net both (and with it make reproduce) taking every registered network.
    assert online_config.nets_of("both") == ("mlp", "cnn")
    assert set(online_config.config_for("tiny", net="both")) == {"mlp", "cnn"}
    assert online_config.nets_of("tanh") == ("tanh",)
    with pytest.raises(InputError, match="unknown net 'resnet'; choose one of: mlp, mlp-autograd, cnn, tanh, both"):
        online_config.nets_of("resnet")


@pytest.mark.slow
def test_a_network_registered_here_runs_the_offline_and_online_experiments(tanh_registered, tmp_path, data_dir):
    # Registered by its entry alone (TANH, in this file): catches an experiment that still needs the network named
    # elsewhere (its sizes, its configuration, its data set, a list of known networks).
    out = str(tmp_path / "offline")
    result = offline.run(out, offline_config.config_for("tiny", net="tanh"), scale="tiny", data_dir=data_dir,
                         log=lambda line: None)
    with open(os.path.join(out, "offline.json")) as handle:
        saved = json.load(handle)
    assert result.complete and saved["config"]["net"] == "tanh" and saved["config"]["hidden_sizes"] == [10]
    assert len(saved["checks"]) >= 7 and all(isinstance(c["passed"], bool) for c in saved["checks"])
    assert "network `tanh` (hidden_sizes (10,))" in result.report and "--net tanh" in result.report
    out = str(tmp_path / "online")
    result = online.run(out, online_config.config_for("tiny", net="tanh"), scale="tiny", net="tanh",
                        data_dir=data_dir)
    with open(os.path.join(out, "online_tanh.json")) as handle:
        saved = json.load(handle)
    names = {c["name"] for c in saved["checks"]}
    assert result.complete and saved["net"] == "tanh" and "tanh_trains_fixed_baseline" in names
    assert {"hypergrad_used_vs_finite_differences_stochastic", "logged_lr_is_applied_deterministic"} <= names
    assert os.path.exists(os.path.join(out, "online_progress", "tanh_fashion-mnist_stochastic.npz"))


@pytest.mark.slow
def test_the_cnn_offline_and_the_autograd_mlp_online_run_from_the_command_line(tmp_path, data_dir, capsys):
    # `shb offline --net cnn` and `shb online --net mlp-autograd` at tiny scale: they run, and their checks are
    # computed (exit 0 when all pass, 1 when one fails; 2 would be an error).
    from shb.cli import main as shb_main

    out = tmp_path / "cnn"
    assert shb_main(["offline", "--net", "cnn", "--scale", "tiny", "--data-dir", data_dir, "--out", str(out)]) in (0, 1)
    saved = json.loads((out / "offline.json").read_text())
    assert saved["config"]["net"] == "cnn" and saved["config"]["cnn_filters"] == [2, 2, 2] and saved["checks"]
    assert saved["hypergrad_check"]["max_rel_error_reverse"] < 1e-8  # the CNN's forward mode against reverse mode
    out = tmp_path / "autograd"
    assert shb_main(["online", "--net", "mlp-autograd", "--scale", "tiny", "--data-dir", data_dir,
                     "--out", str(out)]) in (0, 1)
    saved = json.loads((out / "online_mlp-autograd.json").read_text())
    assert saved["net"] == "mlp-autograd" and len(saved["checks"]) == 8
    assert f"wrote {out / 'online_mlp-autograd.json'}" in capsys.readouterr().out
