"""numeric/nqm/optimizers.py: a registry entry with its options bound (UpdateRule), every computation of the engine
through it, and its options checked with one-line errors.

Catches: an entry that does not run with its defaults, an option of one rule accepted by another (or silently
dropped), a bad option value accepted (a fractional batch size, a negative preconditioner, gamma outside (0, 1]),
an error that is not a one-line InputError, and a rule that is heavy ball in a special case (B = 1, p = 1, gamma = 1)
computing something else.
"""
import autograd
import numpy as np
import pytest

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.symbolic.optimizers import DEFAULT, OPTIMIZERS

from .reference import NAMES, small_problem, stable_scale


def test_the_registry_is_the_symbolic_one_default_first():
    assert nqm_optimizers.names() == list(OPTIMIZERS) and nqm_optimizers.names()[0] == DEFAULT == "heavy-ball"
    opt = nqm_optimizers.get()
    assert (opt.name, opt.rule, opt.entry, opt.options) == ("heavy-ball", "heavy_ball", OPTIMIZERS["heavy-ball"], {})
    assert nqm_optimizers.get("polyak").rule == nqm_optimizers.get("ema").rule == "averaged"
    every = nqm_optimizers.options()
    assert sorted(every) == sorted({o.name for entry in OPTIMIZERS.values() for o in entry.options})
    assert all(isinstance(option, Option) for option in every.values())


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_runs_with_its_defaults(name):
    problem, opt = small_problem(), nqm_optimizers.get(name)
    T = 12
    alpha, mu = np.full(T, 0.3 * stable_scale(opt, problem, T)), np.full(T, 0.5)
    assert opt.label == OPTIMIZERS[name].label and opt.rule in gen.RULES
    curve = opt.loss_curve(problem, alpha, mu)
    assert set(opt.rollout(problem, alpha, mu)) == {*opt.statistics(), "loss"}
    assert curve.shape == (T + 1,) and np.isclose(curve[-1], opt.final_loss(problem, alpha, mu))
    assert np.all(np.isfinite(autograd.grad(lambda a: opt.final_loss(problem, a, mu, 1e2))(alpha)))
    assert opt.max_component_ratio(problem, alpha, mu) >= 1.0
    greedy = opt.greedy(problem, T)
    assert greedy["alpha"].shape == (T,) and greedy["loss"][-1] < greedy["loss"][0]
    names = gen.RULES[opt.rule]["state"]
    assert set(opt.simulate(problem, alpha, mu, 50, 0)) == {"steps"} | {f"{m}_{x}" for x in names
                                                                      for m in ("mean", "var")}
    assert opt.sample_paths(problem, alpha, mu, 3, 0).shape == (3, T + 1, problem.h.size)
    assert set(opt.extras(problem, T)) == set(gen.RULES[opt.rule]["extras"])


def test_registry_errors_are_one_line_input_errors():
    problem = small_problem()
    alpha = mu = np.full(4, 0.3)
    for call, words in ((lambda: nqm_optimizers.get("adam"), ["'adam'", "heavy-ball", "polyak"]),
                        (lambda: nqm_optimizers.get("minibatch", B=2.5).rollout(problem, alpha, mu), ["B", "2.5"]),
                        (lambda: nqm_optimizers.get("minibatch", B=0).rollout(problem, alpha, mu), ["B", "0"]),
                        (lambda: nqm_optimizers.get("preconditioned", p=[1.0, -1.0, 1.0]).rollout(problem, alpha, mu),
                         ["p", "-1.0"]),
                        (lambda: nqm_optimizers.get("preconditioned", p=[1.0, 2.0]).rollout(problem, alpha, mu),
                         ["p", "(3,)"]),
                        (lambda: nqm_optimizers.get("ema", gamma=0.0).rollout(problem, alpha, mu), ["gamma", "0.0"]),
                        (lambda: nqm_optimizers.get("ema", gamma=1.5).rollout(problem, alpha, mu), ["gamma", "1.5"]),
                        (lambda: nqm_optimizers.get("nesterov", B=2), ["nesterov", "B"]),
                        (lambda: nqm_optimizers.get("polyak", gamma=0.5), ["polyak", "gamma"]),
                        (lambda: nqm_optimizers.parse_options("nesterov", {"B": "4"}), ["--batch-size", "minibatch"]),
                        (lambda: nqm_optimizers.parse_options("minibatch", {"B": "2.5"}), ["--batch-size", "'2.5'"]),
                        (lambda: OPTIMIZERS["minibatch"].resolve(problem, 4, p=1.0), ["minibatch", "p"])):
        with pytest.raises(InputError) as err:
            call()
        assert "\n" not in str(err.value) and all(word in str(err.value) for word in words), str(err.value)


def test_parse_options_checks_the_values_and_skips_what_was_not_given():
    assert nqm_optimizers.parse_options("minibatch", {"B": "4", "gamma": None, "p": None}) == {"B": 4}
    assert nqm_optimizers.parse_options("ema", {"gamma": "0.5", "B": None}) == {"gamma": 0.5}
    assert nqm_optimizers.parse_options("heavy-ball", {"B": None, "gamma": None, "p": None}) == {}
    assert nqm_optimizers.get("minibatch", B=None).options == {}  # None: the default


@pytest.mark.parametrize("name, options", [("minibatch", {"B": 1}), ("preconditioned", {"p": 1.0}),
                                           ("ema", {"gamma": 1.0})])
def test_a_rule_that_is_heavy_ball_for_an_option_computes_heavy_balls_numbers(name, options):
    # A minibatch of one, p = 1 and an average of weight 1 are heavy ball: their generated moments (each rule's own)
    # must give heavy ball's loss, and its schedules. Catches an option not reaching the generated functions.
    problem = small_problem()
    T = 10
    alpha, mu = np.full(T, 0.4), np.full(T, 0.6)
    heavy, opt = nqm_optimizers.get(), nqm_optimizers.get(name, **options)
    np.testing.assert_allclose(opt.loss_curve(problem, alpha, mu), heavy.loss_curve(problem, alpha, mu), rtol=1e-13)
    np.testing.assert_allclose(opt.greedy(problem, T)["alpha"], heavy.greedy(problem, T)["alpha"], rtol=1e-10)
    grad = autograd.grad(lambda a: opt.final_loss(problem, a, mu, 1e2))(alpha)
    np.testing.assert_allclose(grad, autograd.grad(lambda a: heavy.final_loss(problem, a, mu, 1e2))(alpha),
                               rtol=1e-10)
    # ... and not for another value of the option
    other = nqm_optimizers.get(name, **{key: 2 * value if key != "gamma" else 0.5 for key, value in options.items()})
    assert not np.allclose(other.loss_curve(problem, alpha, mu), heavy.loss_curve(problem, alpha, mu), rtol=1e-6)
