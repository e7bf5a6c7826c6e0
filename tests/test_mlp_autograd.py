"""The MLP with Autograd's derivatives ("mlp-autograd", numeric/networks/mlp_autograd.py) gives the numbers of the
MLP with hand-derived ones ("mlp", numeric/networks/backprop.py) in whole experiments: tiny offline and online runs
of each, compared number by number.

Tolerance: 1e-9 relative, in float64. The two networks compute the same functions in a different order of floating-
point operations (backprop and the R-operator written out, or Autograd's reverse pass and forward-over-reverse
pass), so each gradient and Hessian-vector product agrees to a few units of float64's 1.1e-16, and what the tiny runs
make of them (a few dozen SGD steps, Adam meta-steps on hypergradients carried through 15-step horizons) stays
orders of magnitude inside 1e-9. A derivative off by 1e-6 relative moves the hypergradients (and with them the
meta-losses, Adam's moments and the hyperparameters) by the order of 1e-6 relative, far outside 1e-9: the test below
that perturbs one derivative sees the comparison fail, in the offline and in the online experiment alike.

Not compared: what measures round-off itself, or magnifies it. Central differences (finite_difference):
(J(u + eps) - J(u - eps)) / (2 eps) turns a change of J by rounding, 1e-16 J, into a change of about
1e-16 J / (eps |dJ/du|) relative, above 1e-9 with the online check's eps = 1e-6 (as between two runs of the same
network on another BLAS); max_rel_error and max_rel_error_reverse, the relative errors of the forward hypergradient
against central differences and reverse mode, whose digits are those differences' round-off (the forward and reverse
hypergradients themselves are compared); the checks' details that print them, and the conclusions' statements, which
quote a failed check's detail (their text and whether they hold are compared); times; the network's name.
Figure 6's curves are trained in float64 here (curve_dtype), not in the scales' float32: in float32 the two
networks' rounding differs by float32's 6e-8 per operation and the curves' losses near zero by up to 1e-4.
"""
import json
import math
import os

import numpy as np
import pytest

from shb.experiments.figures import offline, online
from shb.experiments.figures.offline.config import config_for as offline_config
from shb.experiments.figures.online.config import config_for as online_config
from shb.experiments.figures.online import units
from shb.experiments.figures.online.panel import json_name
from shb.numeric import networks
from shb.numeric.meta import smd
from shb.numeric.networks import mlp_autograd
from shb.numeric.networks.net import Network

pytestmark = pytest.mark.slow  # whole tiny experiments, four or more

RTOL = 1e-9
UNCOMPARED = {"finite_difference", "max_rel_error", "max_rel_error_reverse", "cpu_seconds", "seconds", "net", "detail",
              "command", "statement"}


def unnamed(text):
    """`text` with the Autograd MLP's name (as check names and conclusions spell it) in place of the MLP's."""
    return text.replace("mlp-autograd", "mlp").replace("MLP-AUTOGRAD", "MLP")


def differences(a, b, path=""):
    """[(path, a, b)] where the JSON values a and b differ: numbers by more than RTOL relative, anything else at
    all; keys in UNCOMPARED are skipped, text is compared without the network's name in it."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) - UNCOMPARED != set(b) - UNCOMPARED:
            return [(path, sorted(a), sorted(b))]
        return [d for k in a if k not in UNCOMPARED for d in differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [(path, len(a), len(b))]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        scale = max(abs(a), abs(b))
        return [] if a == b or (math.isfinite(scale) and abs(a - b) <= RTOL * scale) else [(path, a, b)]
    if isinstance(a, str) and isinstance(b, str):  # check names and conclusions name the network
        return [] if unnamed(a) == unnamed(b) else [(path, a, b)]
    return [] if a == b else [(path, a, b)]


def run_both(out, data_dir, net):
    """{"offline": offline.json, "online": the panel's JSON} of tiny runs of `net` (Figure 6's curves in float64)."""
    config = offline_config("tiny", net=net).replace(curve_dtype="float64")
    offline.run(os.path.join(out, "offline"), config, scale="tiny", data_dir=data_dir, log=lambda line: None)
    online.run(os.path.join(out, "online"), online_config("tiny", net=net), scale="tiny", net=net, data_dir=data_dir)
    with open(os.path.join(out, "offline", "offline.json")) as a, open(os.path.join(out, "online", json_name(net))) as b:
        return {"offline": json.load(a), "online": json.load(b)}


@pytest.fixture
def fresh_problems():
    """The per-process caches of built problems (keyed on the network's name) emptied before and after the test."""
    smd.build_problem.cache_clear()
    units.cached_problem.cache_clear()
    yield
    smd.build_problem.cache_clear()
    units.cached_problem.cache_clear()


@pytest.fixture(scope="module")
def hand_derived(tmp_path_factory, data_dir):
    return run_both(str(tmp_path_factory.mktemp("mlp")), data_dir, "mlp")


def test_the_autograd_mlp_gives_the_hand_derived_mlps_numbers(hand_derived, tmp_path, data_dir, fresh_problems):
    autograd = run_both(str(tmp_path), data_dir, "mlp-autograd")
    assert autograd["offline"]["config"]["net"] == "mlp-autograd" and "net" not in hand_derived["offline"]["config"]
    assert autograd["online"]["net"] == "mlp-autograd"
    # the comparison has something to compare: hypergradients, meta-losses, trajectories, curves, logs
    assert len(hand_derived["offline"]["horizons"]["15"]["chains"][0]["hypergrads"]) == 2
    assert hand_derived["online"]["hypergrad_check"]["stochastic"]["used"]
    assert differences(hand_derived, autograd) == []


def perturbed(which):
    """make_net of mlp-autograd with one derivative multiplied by 1 + 1e-6: the Hessian-vector products ("hvp"), or
    the gradient ("gradient", in every function that returns it)."""
    def make(*args, **kwargs):
        net = mlp_autograd.make_net(*args, **kwargs)
        grad_and_hvps, loss_and_grad = net.grad_and_hvps, net.loss_and_grad

        def with_hvps(theta, tangents, X, Y):
            g, hvps = grad_and_hvps(theta, tangents, X, Y)
            return (g * (1 + 1e-6), hvps) if which == "gradient" else (g, hvps * (1 + 1e-6))

        def with_gradient(theta, X, Y):
            value, g = loss_and_grad(theta, X, Y)
            return value, g * (1 + 1e-6) if which == "gradient" else g

        return net._replace(grad_and_hvps=with_hvps, loss_and_grad=with_gradient)
    return make


@pytest.mark.parametrize("which", ["hvp", "gradient"])
def test_the_comparison_fails_when_one_derivative_is_off_by_one_part_in_a_million(hand_derived, tmp_path, data_dir,
                                                                                 monkeypatch, fresh_problems, which):
    # Catches a tolerance too loose to tell the two networks apart from a wrong derivative.
    monkeypatch.setitem(networks.NETWORKS, "mlp-autograd", Network(perturbed(which), **{
        k: getattr(mlp_autograd.NETWORK, k) for k in ("sizes", "tiny", "settings", "datasets")}))
    found = differences(hand_derived, run_both(str(tmp_path), data_dir, "mlp-autograd"))
    parts = {path.split("/")[1] for path, _, _ in found}
    assert parts == {"offline", "online"}, parts  # each experiment alone catches it
    relative = max(abs(a - b) / max(abs(a), abs(b)) for _, a, b in found
                   if isinstance(a, float) and isinstance(b, float))
    assert relative > 100 * RTOL
