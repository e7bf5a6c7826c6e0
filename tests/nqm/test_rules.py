"""numeric/nqm/rules.py: how the engine drives a rule's generated functions (its metadata, the extras of each step,
its start, its loss), against this file's own reading of the generated metadata (tests/nqm/reference.py).

Catches: a per-step extra (an average's gamma_t) given at the wrong step or of the wrong length, an extra missing
or unknown to the rule accepted, the state started elsewhere than k theta(0), the loss read off another moment,
an unknown rule accepted, and a batch of schedules against a batch of problems broadcast into the wrong shape.
"""
import numpy as np
import pytest

from shb.ground.errors import InputError
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import rules as nqm_rules
from shb.numeric.nqm.problem import make_problem

from .reference import NAMES, RULE_NAMES, extras_of_step, initial_stats, loss_of_stats


def extras_of(rule, T=4):
    """The extras of the first registry entry of `rule` (its defaults) on a 3-coordinate problem over T steps."""
    name = next(name for name in NAMES if nqm_optimizers.get(name).rule == rule)
    return nqm_optimizers.get(name).extras(make_problem([1.0, 0.3, 0.05], [1.0, 2.0, 0.0], 1.0, 0.0), T)


def test_the_generated_rules_are_the_registrys():
    assert list(gen.RULES) == RULE_NAMES
    with pytest.raises(InputError, match="unknown update rule 'adam'") as caught:
        nqm_rules.spec("adam")
    assert "\n" not in str(caught.value) and "heavy_ball" in str(caught.value)
    assert nqm_rules.generated("heavy_ball", "step") is gen.heavy_ball_step


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_the_extras_of_each_step(rule):
    extras = extras_of(rule)
    assert set(extras) == set(gen.RULES[rule]["extras"])
    steps = nqm_rules.extras_at(rule, extras, 4)
    assert len(steps) == 4
    for t, extra in enumerate(steps):
        assert len(extra) == len(gen.RULES[rule]["extras"])
        for got, want in zip(extra, extras_of_step(rule, extras, t)):
            np.testing.assert_array_equal(got, want)


def test_bad_extras_are_one_line_input_errors():
    for rule, extras, words in (("minibatch", {}, ["missing ['B']"]), ("heavy_ball", {"B": 2.0}, ["unknown ['B']"]),
                                ("averaged", {"gamma": np.full(3, 0.1)}, ["gamma", "per step", "(4,)"]),
                                ("averaged", {"gamma": 0.1}, ["gamma", "per step"])):
        with pytest.raises(InputError) as caught:
            nqm_rules.extras_at(rule, extras, 4)
        assert "\n" not in str(caught.value) and all(w in str(caught.value) for w in words), str(caught.value)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_the_start_and_the_loss(rule):
    mean0, var0 = np.array([2.0, -1.0, 0.0]), np.array([0.5, 0.0, 1.0])
    h = np.array([1.0, 0.3, 0.05])
    for shape in ((3,), (2, 3)):
        ours = nqm_rules.initial_central(rule, mean0, var0, shape)
        for got, want in zip(ours, initial_stats(rule, mean0, var0, shape)):
            assert np.shape(got) == shape
            np.testing.assert_array_equal(got, want)
    stats = initial_stats(rule, mean0, var0, (3,))
    raw = nqm_rules.generated(rule, "raw_moments")(*stats)
    np.testing.assert_allclose(nqm_rules.loss_of(rule, h, raw), loss_of_stats(rule, h, stats), rtol=1e-15)
    assert nqm_rules.pairs(rule) == gen.RULES[rule]["pairs"]


def test_schedules_and_batches_of_problems_broadcast():
    assert nqm_rules.batch_shape(np.ones(5), np.ones(3)) == (3,)
    assert nqm_rules.batch_shape(np.ones((4, 5)), np.ones(3)) == (4, 3)
    assert nqm_rules.batch_shape(np.ones((4, 5)), np.ones((4, 3))) == (4, 3)
    alpha = np.arange(6.0).reshape(2, 3)
    columns = nqm_rules.per_step(alpha)
    assert len(columns) == 3 and all(c.shape == (2, 1) for c in columns)
    np.testing.assert_array_equal(np.hstack(columns), alpha)
    assert nqm_rules.per_step(np.array([0.5, 0.25])) == [0.5, 0.25]
    for a, m in ((np.ones(3), np.ones(2)), (np.ones((1, 2, 3)),) * 2, (np.float64(0.5),) * 2):
        with pytest.raises(ValueError, match=r"must have one shape, \(T,\) or \(B, T\)"):
            nqm_rules.check_schedule(a, m)
