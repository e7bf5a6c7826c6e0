"""The network interface and registry (numeric/networks/net.py, numeric/networks/__init__.py): every registered network agrees with
its taped reference, and a network added to the registry serves training, offline and online SMD unchanged."""
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
    smd.build_problem.cache_clear()  # its cache holds a problem with the temporary network


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
