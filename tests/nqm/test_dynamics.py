"""numeric/nqm/dynamics.py: the exact moments of every rule over a schedule (its Theorem 1), the loss, the
safeguard's ratio, batches of schedules, and the memory estimate.

References: heavy ball against the paper's Theorem 1 (symbolic/dynamics.py, derived from symbolic/model.py's update,
not by the rule engine) lambdified and stepped here; every rule's batch against one schedule at a time; the loss
and the safeguard's ratio against their definitions from the rollout's statistics. (Each rule's moments against
Monte-Carlo of its own update: tests/nqm/test_montecarlo.py.)

Catches: the engine's heavy ball drifting from Theorem 1, the loss taken at the wrong iterate (theta for an average),
a wrong slice of the batch axis (the step axis taken for the batch one, [:1] for [:-1], a transposed schedule:
silent when B == T, so the strategies draw B == T and B == 1), a statistic of another step, a ratio over the exempt
coordinates (L_i(0) = 0), and a memory estimate below what a rollout allocates.
"""
import tracemalloc

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from shb.numeric.nqm import dynamics as nqm_dynamics
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import make_problem
from shb.symbolic import dynamics as symbolic_dynamics, model

from .reference import NAMES, batches, entry, loss_of_stats, problems, small_problem, stable_scale

RTOL = 1e-12


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.isfinite(b)), b  # a comparison of inf or nan would say nothing
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-300)


def theorem1():
    """The paper's Theorem 1 (symbolic/dynamics.py) as one numpy step of the five statistics."""
    step = symbolic_dynamics.theorem1()
    args = (model.alpha, model.mu, model.h, model.sigma2) + model.STATE
    return sp.lambdify(args, [step[s.name] for s in model.STATE], modules="numpy")


@given(problems(max_d=4), st.integers(1, 12), st.data())
def test_heavy_balls_rollout_is_the_papers_theorem_1(problem, T, data):
    # The engine derives heavy ball's moments from its update (symbolic/rule_moments.py); the paper's Theorem 1 is
    # derived separately (symbolic/dynamics.py). Catches the two drifting apart, and the rollout reporting the
    # statistics of another step or the loss at another iterate.
    alpha = np.array(data.draw(st.lists(st.floats(0.05, 1.5), min_size=T, max_size=T))) / problem.h.max()
    mu = np.array(data.draw(st.lists(st.floats(-0.5, 0.95), min_size=T, max_size=T)))
    out = nqm_optimizers.get("heavy-ball").rollout(problem, alpha, mu)
    step = theorem1()
    stats = [problem.mean0, np.zeros_like(problem.h), problem.var0, np.zeros_like(problem.h), np.zeros_like(problem.h)]
    for t in range(T + 1):
        if t:
            stats = [np.broadcast_to(x, problem.h.shape) for x in step(alpha[t - 1], mu[t - 1], problem.h,
                                                                        problem.sigma2, *stats)]
        for s, value in zip(model.STATE, stats):
            np.testing.assert_allclose(out[s.name][t], value, rtol=1e-13, atol=1e-15)
        loss = np.sum(0.5 * problem.h * (stats[0] ** 2 + stats[2]))  # Eq. 6 without its constant
        assert out["loss"][t] == pytest.approx(loss, rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_the_rollout_starts_at_k_theta0_and_its_loss_is_at_the_loss_iterate(name):
    # z(0) = k theta(0) (velocity 0, an average equal to theta(0)), and L(t) = sum 1/2 h (E[x]^2 + V[x]) at the
    # rule's loss iterate x, per coordinate in loss_components. Catches an average starting at 0, the loss of an
    # averaged rule taken at theta, and loss_components of another iterate.
    problem, T = small_problem(), 7
    opt = nqm_optimizers.get(name)
    alpha, mu = np.full(T, 0.4 * stable_scale(opt, problem, T)), np.full(T, 0.5)
    out = opt.rollout(problem, alpha, mu)
    meta = gen.RULES[opt.rule]
    assert set(out) == set(opt.statistics()) | {"loss"} and list(opt.statistics()) == list(meta["central"])
    for k, x in zip(meta["initial"], meta["state"]):
        close(out[f"mean_{x}"][0], k * problem.mean0) if k else np.testing.assert_array_equal(out[f"mean_{x}"][0], 0)
    stats = [out[name][:, None] for name in meta["central"]]
    components = loss_of_stats(opt.rule, problem.h, [s[:, 0] for s in stats])
    close(opt.loss_components(problem, out), components)
    close(out["loss"], components.sum(axis=-1))
    close(opt.loss_curve(problem, alpha, mu), out["loss"])
    assert out["loss"][-1] == pytest.approx(float(opt.final_loss(problem, alpha, mu)), rel=1e-12)
    x = meta["state"][meta["loss_index"]]
    if x != "theta":  # the loss iterate is not theta: its loss differs from theta's
        theta_loss = np.sum(0.5 * problem.h * (out["mean_theta"] ** 2 + out["var_theta"]), axis=-1)
        assert not np.allclose(theta_loss[1:], out["loss"][1:], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_max_component_ratio_is_its_definition(name):
    # max over t and the coordinates with L_i(0) > 0 of L_i(t) / L_i(0), from the rollout's per-coordinate losses.
    # Catches an exempt coordinate (here coordinate 1 starts at its optimum) counted (its ratio is infinite), the
    # ratio of the last step only, and a ratio below 1 (t = 0 counts).
    problem = make_problem([1.0, 0.5, 0.05], [1.0, 2.0, 0.0], [3.0, 0.0, 1.0], [0.5, 0.0, 0.0])
    opt, T = nqm_optimizers.get(name), 9
    for alpha in (0.3, 1.9):  # gentle (ratio 1, from t = 0) and violent (some component rises)
        a, mu = np.full(T, alpha * stable_scale(opt, problem, T)), np.full(T, 0.3)
        components = opt.loss_components(problem, opt.rollout(problem, a, mu))
        expected = max(1.0, np.max(components[:, [0, 2]] / components[0, [0, 2]]))
        assert opt.max_component_ratio(problem, a, mu) == pytest.approx(expected, rel=1e-12)
    assert opt.max_component_ratio(problem, np.full(T, 1e-9), np.zeros(T)) == 1.0



@pytest.mark.parametrize("name", NAMES)
@given(batches(), st.data())
def test_rollout_and_losses_of_a_batch_equal_one_schedule_at_a_time(name, case, data):
    # Catches: the batch axis of rollout / final_loss / loss_curve / max_component_ratio sliced wrongly (a (B, T)
    # schedule read as x[t], a loss summed over the batch axis, the per-step extras of the batch's rows).
    problem, alpha, mu = case
    opt = entry(name, data.draw)
    B, T = alpha.shape
    alpha = alpha * stable_scale(opt, problem, T)
    batch = opt.rollout(problem, alpha, mu)
    assert batch["loss"].shape == (B, T + 1) and batch["mean_theta"].shape == (B, T + 1, problem.h.size)
    final, penalized = opt.final_loss(problem, alpha, mu), opt.final_loss(problem, alpha, mu, penalty_weight=10.0)
    curve, ratio = opt.loss_curve(problem, alpha, mu), opt.max_component_ratio(problem, alpha, mu)
    for b in range(B):
        one = opt.rollout(problem, alpha[b], mu[b])
        for name_ in (*opt.statistics(), "loss"):
            close(batch[name_][b], one[name_])
        close(final[b], opt.final_loss(problem, alpha[b], mu[b]))
        close(penalized[b], opt.final_loss(problem, alpha[b], mu[b], penalty_weight=10.0))
        close(curve[b], one["loss"])
        close(opt.loss_components(problem, batch)[b], opt.loss_components(problem, one))
        close(ratio[b], opt.max_component_ratio(problem, alpha[b], mu[b]))


@pytest.mark.parametrize("name", NAMES)
@given(batches())
def test_moments_of_a_batch_equal_one_schedule_at_a_time(name, case):
    # Catches: moments slicing the batch wrongly: zeros of shape alpha.shape[:1] instead of [:-1] (a single
    # schedule's moments then come back T-fold), or per_step iterating over the batch axis instead of the steps
    # (silently wrong when B == T).
    problem, alpha, mu = case
    opt = nqm_optimizers.get(name)
    B, T = alpha.shape
    args = (problem.h, problem.sigma2, problem.mean0, problem.var0, opt.extras(problem, T))
    batch = list(nqm_dynamics.moments(opt.rule, alpha, mu, *args))
    assert len(batch) == T + 1
    for b in range(B):
        single = list(nqm_dynamics.moments(opt.rule, alpha[b], mu[b], *args))
        assert len(single) == T + 1
        for t in range(T + 1):
            assert all(np.shape(x) == problem.h.shape for x in single[t])
            for x_batch, x_single in zip(batch[t], single[t]):
                close(np.asarray(x_batch)[b], x_single)


@pytest.mark.parametrize("name, d, T, batch", [("heavy-ball", 200_000, 1, None), ("heavy-ball", 20_000, 1, 8),
                                               ("heavy-ball", 2_000, 200, None), ("heavy-ball", 500, 100, 8),
                                               *((name, 20_000, 1, None) for name in NAMES[1:]),
                                               ("polyak", 2_000, 200, None), ("polyak", 500, 100, 8)])
def test_rollout_bytes_bounds_what_a_rollout_allocates(name, d, T, batch):
    # The size check before work (`shb nqm dynamics`) trusts it. Measured by tracemalloc (numpy reports its
    # buffers), at sizes where arrays dominate Python's own objects; an average has nine statistics where heavy ball
    # has five, and its generated step 33 temporaries where heavy ball's has 12. Catches an estimate below the peak (a
    # wrong power of T or d, a step's temporaries left out: they dominate at T = 1; heavy ball's statistics or step
    # counted for every rule: an average's peak was 1.12 times that estimate) or far above it (a batch counted twice).
    problem = make_problem(np.linspace(0.1, 1.0, d), np.ones(d), np.ones(d), np.zeros(d))
    opt = nqm_optimizers.get(name)
    alpha = np.full((T,) if batch is None else (batch, T), 0.1)
    tracemalloc.start()
    opt.rollout(problem, alpha, np.full_like(alpha, 0.5))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate = nqm_dynamics.rollout_bytes(d, T, rule=opt.rule) if batch is None else \
        nqm_dynamics.rollout_bytes(d, T, batch, rule=opt.rule)
    assert peak <= estimate <= 1.6 * peak


def test_rollout_bytes_without_a_rule_is_heavy_balls():
    # Catches the default (five statistics, heavy ball's step) drifting from heavy ball's own estimate.
    assert nqm_dynamics.step_temporaries("heavy_ball") < nqm_dynamics.step_temporaries("averaged")
    for d, T, batch in ((7, 1, 1), (300, 40, 3)):
        assert nqm_dynamics.rollout_bytes(d, T, batch) == nqm_dynamics.rollout_bytes(d, T, batch, rule="heavy_ball")


@pytest.mark.parametrize("name", NAMES)
def test_a_schedule_of_another_shape_is_refused(name):
    # Catches: check_schedule letting through alpha and mu of different shapes, or a schedule that is neither (T,)
    # nor (B, T): rolled out anyway, it would fail later with an IndexError or broadcast into the wrong batch.
    problem = make_problem([1.0, 0.5], [1.0, 1.0], [1.0, 2.0], [0.0, 0.0])
    opt = nqm_optimizers.get(name)
    for alpha, mu in ((np.ones(3), np.ones(2)), (np.ones((2, 3)), np.ones((3, 2))), (np.ones((1, 2, 3)),) * 2,
                      (np.float64(0.5),) * 2):
        with pytest.raises(ValueError, match=r"must have one shape, \(T,\) or \(B, T\)"):
            opt.rollout(problem, alpha, mu)
        with pytest.raises(ValueError, match=r"must have one shape"):
            opt.max_component_ratio(problem, alpha, mu)
