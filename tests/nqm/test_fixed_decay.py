"""numeric/nqm/fixed_decay.py: a fixed learning rate followed by an exponential decay tail (Figure 2's dashed curves).

Catches: the tail built for the wrong alpha or decaying along the batch axis, a wrong per-step factor r (decay_to^(2/m),
decay_to^m, 1 at m = 1), a tail without steps reporting a decay, the fitted final fraction not the best of its grid
(the batched choice reading another fraction's loss), and a schedule dict whose loss is not its rollout's.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.fixed_decay import fixed_then_decay, fixed_then_decay_schedule
from shb.numeric.nqm.problem import chebyshev_extreme, make_problem

from .reference import NAMES, problems, stable_scale

HEAVY_BALL = nqm_optimizers.get("heavy-ball")


def noisy_ill_conditioned():
    h = chebyshev_extreme(20, 0.01, 1.0)
    return make_problem(h, 1.0 / h, 10.0, 0.0)


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)


def test_fixed_then_decay_schedule():
    alphas = np.array([0.5, 1.0])
    sched = fixed_then_decay(alphas, 10, 6, decay_to=0.01)
    assert sched.shape == (2, 16)
    assert np.all(sched[:, :10] == alphas[:, None])
    assert np.allclose(sched[:, 10:] / alphas[:, None], 0.01 ** (np.arange(1, 7) / 6))
    assert sched[1, -1] == pytest.approx(0.01)
    problem = noisy_ill_conditioned()
    out = fixed_then_decay_schedule(HEAVY_BALL, problem, 1.0, k=10, m=6, mu=0.5)
    assert np.allclose(out["alpha"], fixed_then_decay(1.0, 10, 6, out["decay_to"]))
    assert np.all(out["mu"] == 0.5)
    assert np.allclose(out["loss"], HEAVY_BALL.rollout(problem, out["alpha"], out["mu"])["loss"])
    # The fitted tail is the best on its grid: other final fractions are no better.
    for fraction in (1e-4, 1e-2, 0.3, 1.0):
        other = fixed_then_decay_schedule(HEAVY_BALL, problem, 1.0, 10, 6, mu=0.5, decay_to=fraction)
        assert other["loss"][-1] >= out["loss"][-1]


def test_fixed_then_decay_schedule_without_a_tail():
    # Catches: m = 0 (no decay steps) reporting a final fraction or a factor other than 1.
    # And the default momentum is plain SGD's (mu = 0), as Figure 2's dashed curves use.
    out = fixed_then_decay_schedule(HEAVY_BALL, noisy_ill_conditioned(), 0.5, 4, 0)
    assert out["alpha"].tolist() == [0.5] * 4 and out["decay_to"] == 1.0 and out["r"] == 1.0
    assert out["mu"].tolist() == [0.0] * 4


@pytest.mark.parametrize("m", [0, 1, 6])
def test_fixed_then_decay_schedule_reports_its_per_step_factor(m):
    # The extra "r" is the factor of each tail step: r^m = decay_to, the tail is alpha r^j, and r = 1 without a
    # tail. Catches a wrong r (decay_to * (1/m), decay_to^(2/m), decay_to^m, or 1 at m = 1; found by mutation
    # testing: the schedule itself is made by fixed_then_decay, so only the reported factor was wrong).
    out = fixed_then_decay_schedule(HEAVY_BALL, noisy_ill_conditioned(), 0.5, 10, m, mu=0.5, decay_to=0.01)
    if m == 0:
        assert out["r"] == 1.0
    else:
        assert out["r"] ** m == pytest.approx(0.01, rel=1e-12)
        assert np.allclose(out["alpha"][10:], 0.5 * out["r"] ** np.arange(1, m + 1), rtol=1e-12)


@given(st.lists(st.floats(0.01, 3.0), min_size=1, max_size=5), st.integers(0, 6), st.integers(0, 6),
       st.floats(1e-4, 1.0))
@example([0.5, 2.0], 3, 1, 0.1)  # one decay step: it runs at decay_to * alpha
@example([0.5], 2, 0, 0.1)  # no decay steps
def test_fixed_then_decay_of_an_array_equals_one_alpha_at_a_time(alphas, k, m, decay_to):
    # Catches: the batch axis of fixed_then_decay broadcast wrongly (the tail or the fixed part of another
    # alpha, the decay applied along the batch axis).
    alphas = np.array(alphas)
    batch = fixed_then_decay(alphas, k, m, decay_to)
    assert batch.shape == (alphas.size, k + m)
    for b, alpha in enumerate(alphas):
        one = fixed_then_decay(alpha, k, m, decay_to)
        assert one.shape == (k + m,)
        close(batch[b], one)
        close(one, [alpha] * k + [alpha * decay_to ** (j / m) for j in range(1, m + 1)])


@pytest.mark.parametrize("name", NAMES)
@given(problems(), st.integers(1, 4), st.integers(1, 4), st.floats(0.05, 1.5), st.floats(0.0, 0.9))
@example(make_problem([1.0, 0.2], [1.0, 2.0], [3.0, -2.0], [0.0, 0.5]), 3, 1, 1.0, 0.5)  # a one-step tail is fitted too
def test_fitted_decay_tail_equals_one_fraction_at_a_time(name, problem, k, m, alpha, mu):
    # Catches: fixed_then_decay_schedule's batched choice of the final fraction reading another fraction's loss,
    # and the schedule dict's loss not the rule's rollout of its schedule.
    opt = nqm_optimizers.get(name)
    alpha = alpha * stable_scale(opt, problem, k + m)
    fractions = np.geomspace(1e-3, 1.0, 13)
    out = fixed_then_decay_schedule(opt, problem, alpha, k, m, mu, fractions=fractions)
    grid = [fixed_then_decay(alpha, k, m, f) for f in fractions]
    with np.errstate(over="ignore", invalid="ignore"):
        losses = [float(opt.final_loss(problem, a, np.full(k + m, mu))) for a in grid]
    best = int(np.argmin(np.where(np.isfinite(losses), losses, np.inf)))
    close(out["alpha"], grid[best])
    assert out["decay_to"] == fractions[best]
    close(out["loss"], opt.rollout(problem, out["alpha"], out["mu"])["loss"])
