"""Every batched path equals the same computation one item at a time (issue 18).

A batch of B schedules, alpha and mu of shape (B, T), is rolled out together everywhere the toolkit sweeps:
nqm_dynamics.rollout / final_loss / loss_curve / max_component_ratio, nqm_adjoint.moments and its
gradients, the grid starts fixed_grid and decay_grid (chunks of 128), fixed_then_decay with an array of
alphas, fixed_then_decay_schedule's fitted tail, and the Figure 2 sweep. A wrong slice of the batch axis
(the step axis taken for the batch one, [:1] for [:-1], a transposed schedule) either raises or, when B == T,
silently mixes schedules; the strategies draw B == T and B == 1 on purpose. Items are compared to 1e-12
relative: the batched and single computations do the same arithmetic per item.
"""
import tracemalloc

import numpy as np
import pytest
from autograd import grad
from hypothesis import example, given, strategies as st

from shb.experiments.figures import fig2_short_horizon
from shb.numeric.nqm import adjoint as nqm_adjoint
from shb.numeric.nqm import dynamics as nqm_dynamics
from shb.numeric.nqm import fixed_decay as nqm_fixed_decay
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.problem import make_problem

RTOL = 1e-12


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.isfinite(b)), b  # a comparison of inf or nan would say nothing
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-300)


def problems(max_d=3):
    @st.composite
    def draw_problem(draw):
        d = draw(st.integers(1, max_d))
        floats = lambda lo, hi: st.lists(st.floats(lo, hi), min_size=d, max_size=d)  # noqa: E731
        h = np.array(draw(floats(0.05, 1.5)))
        sigma2 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
        # mean0 = 0 or |mean0| >= 0.1: a subnormal mean0 makes L_i(t) / L_i(0) overflow in the penalty, and
        # inf == inf, nan == nan would compare nothing.
        mean0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 5.0), st.floats(-5.0, -0.1)),
                                       min_size=d, max_size=d)))
        var0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
        return make_problem(h, sigma2, mean0, var0)
    return draw_problem()


@st.composite
def batches(draw):
    """A problem and B schedules of T steps, B drawn from {1, 2, T, T + 1} (B == T hides a transposed batch)."""
    problem = draw(problems())
    T = draw(st.integers(1, 6))
    B = draw(st.sampled_from([1, 2, T, T + 1]))
    alpha = np.array(draw(st.lists(st.floats(0.05, 1.5), min_size=B * T, max_size=B * T))).reshape(B, T)
    mu = np.array(draw(st.lists(st.floats(-0.3, 0.95), min_size=B * T, max_size=B * T))).reshape(B, T)
    return problem, alpha / problem.h.max(), mu


@given(batches())
def test_rollout_and_losses_of_a_batch_equal_one_schedule_at_a_time(case):
    # Catches: the batch axis of rollout / final_loss / loss_curve / component_curve / max_component_ratio
    # sliced wrongly (e.g. _hyper reading x[t] from a (B, T) schedule, a loss summed over the batch axis).
    problem, alpha, mu = case
    B, T = alpha.shape
    batch = nqm_dynamics.rollout(problem, alpha, mu)
    assert batch["loss"].shape == (B, T + 1) and batch["mean_theta"].shape == (B, T + 1, problem.h.size)
    final = nqm_dynamics.final_loss(problem, alpha, mu)
    penalized = nqm_dynamics.final_loss(problem, alpha, mu, penalty_weight=10.0)
    curve = nqm_dynamics.loss_curve(problem, alpha, mu)
    ratio = nqm_dynamics.max_component_ratio(problem, alpha, mu)
    for b in range(B):
        one = nqm_dynamics.rollout(problem, alpha[b], mu[b])
        for name in nqm_dynamics.STATS + ("loss",):
            close(batch[name][b], one[name])
        close(final[b], nqm_dynamics.final_loss(problem, alpha[b], mu[b]))
        close(penalized[b], nqm_dynamics.final_loss(problem, alpha[b], mu[b], penalty_weight=10.0))
        close(curve[b], nqm_dynamics.loss_curve(problem, alpha[b], mu[b]))
        close(curve[b], one["loss"])  # and the Autograd-traceable curve is the rollout's (every step, t = 0..T)
        close(nqm_dynamics.component_curve(problem, alpha[b], mu[b]), nqm_dynamics.loss_components(problem, one))
        close(ratio[b], nqm_dynamics.max_component_ratio(problem, alpha[b], mu[b]))


@given(batches())
def test_moments_of_a_batch_equal_one_schedule_at_a_time(case):
    # Catches: nqm_adjoint.moments slicing the batch wrongly: zeros of shape alpha.shape[:1] instead of [:-1]
    # (a single schedule's moments then come back T-fold), or _per_step iterating over the batch axis instead
    # of the steps (silently wrong when B == T).
    problem, alpha, mu = case
    B, T = alpha.shape
    args = (problem.h, problem.sigma2, problem.mean0, problem.var0)
    batch = list(nqm_adjoint.moments(alpha, mu, *args))
    assert len(batch) == T + 1
    for b in range(B):
        single = list(nqm_adjoint.moments(alpha[b], mu[b], *args))
        assert len(single) == T + 1
        for t in range(T + 1):
            assert all(np.shape(x) == problem.h.shape for x in single[t])
            for x_batch, x_single in zip(batch[t], single[t]):
                close(np.asarray(x_batch)[b], x_single)


@given(batches(), st.sampled_from([0.0, 10.0]))
def test_gradients_of_a_batch_equal_one_schedule_at_a_time(case, penalty_weight):
    # Catches: the batched adjoints (rank_one without the penalty, raw_step_vjp with it) mixing schedules, or
    # the upstream gradient of one schedule applied to another (schedule_gradient's per-schedule scale).
    problem, alpha, mu = case
    B = alpha.shape[0]
    weights = np.arange(1.0, B + 1.0)  # a different upstream gradient per schedule

    def batch_objective(alpha, mu):
        return np.dot(weights, nqm_dynamics.final_loss(problem, alpha, mu, penalty_weight))

    g_alpha, g_mu = grad(batch_objective, (0, 1))(alpha, mu)
    for b in range(B):
        one_alpha, one_mu = grad(lambda a, m: nqm_dynamics.final_loss(problem, a, m, penalty_weight), (0, 1))(
            alpha[b], mu[b])
        close(g_alpha[b], weights[b] * one_alpha)
        close(g_mu[b], weights[b] * one_mu)


@given(st.lists(st.floats(0.01, 3.0), min_size=1, max_size=5), st.integers(0, 6), st.integers(0, 6),
       st.floats(1e-4, 1.0))
@example([0.5, 2.0], 3, 1, 0.1)  # one decay step: it runs at decay_to * alpha
@example([0.5], 2, 0, 0.1)  # no decay steps
def test_fixed_then_decay_of_an_array_equals_one_alpha_at_a_time(alphas, k, m, decay_to):
    # Catches: the batch axis of fixed_then_decay broadcast wrongly (the tail or the fixed part of another
    # alpha, the decay applied along the batch axis).
    alphas = np.array(alphas)
    batch = nqm_fixed_decay.fixed_then_decay(alphas, k, m, decay_to)
    assert batch.shape == (alphas.size, k + m)
    for b, alpha in enumerate(alphas):
        one = nqm_fixed_decay.fixed_then_decay(alpha, k, m, decay_to)
        assert one.shape == (k + m,)
        close(batch[b], one)
        close(one, [alpha] * k + [alpha * decay_to ** (j / m) for j in range(1, m + 1)])


@given(problems(), st.lists(st.sampled_from([1, 2, 3, 5]), min_size=1, max_size=3, unique=True),
       st.integers(0, 4), st.integers(2, 7), st.floats(0.05, 1.0))
def test_figure_2_sweep_equals_one_learning_rate_at_a_time(problem, horizons, tail, n_alpha, decay_to):
    # Catches: the batched Figure 2 sweep reading the loss of the wrong step (k - 1, or T of the longest
    # horizon) or of another learning rate, and the dashed curves' tail built for the wrong alpha.
    cfg = dict(horizons=tuple(horizons), tail=tail, decay_to=decay_to, alpha_min=0.01,
               alpha_max=1.9 / problem.h.max(), n_alpha=n_alpha)
    alphas, solid, dashed = fig2_short_horizon.sweep(problem, cfg)
    close(alphas, np.geomspace(cfg["alpha_min"], cfg["alpha_max"], n_alpha))
    for k in horizons:
        assert solid[k].shape == dashed[k].shape == (n_alpha,)
        for j, alpha in enumerate(alphas):
            fixed = np.full(k, alpha)
            close(solid[k][j], nqm_dynamics.rollout(problem, fixed, np.zeros(k))["loss"][k])
            decayed = nqm_fixed_decay.fixed_then_decay(alpha, k, tail, decay_to)
            close(dashed[k][j], nqm_dynamics.rollout(problem, decayed, np.zeros_like(decayed))["loss"][-1])


def best_one_at_a_time(problem, schedules, safeguard):
    """The first schedule with the lowest finite final loss (among safe ones if `safeguard`), by single rollouts."""
    best, best_loss = None, np.inf
    for alpha, mu in schedules:
        with np.errstate(over="ignore", invalid="ignore"):
            loss = float(nqm_dynamics.final_loss(problem, alpha, mu))
            if safeguard and not nqm_dynamics.max_component_ratio(problem, alpha, mu) <= 1.0:
                loss = np.inf
        if np.isfinite(loss) and loss < best_loss:
            best, best_loss = (alpha, mu), loss
    return best


@given(problems(max_d=2), st.integers(1, 4), st.booleans())
def test_decay_grid_in_chunks_equals_one_schedule_at_a_time(problem, T, safeguard):
    # Catches: decay_grid's chunks of 128 (a grid of 7 x 4 x 6 = 168 schedules: two chunks) skipping or
    # repeating schedules at a chunk boundary, losing the best of an earlier chunk, or pairing a chunk's
    # losses with another chunk's schedules; and the (alpha0, mu, f) meshgrid flattened inconsistently.
    alpha0s, mus, finals = np.geomspace(0.05, 3.0, 7) / problem.h.max(), np.array([0.0, 0.3, 0.6, 0.9]), \
        np.geomspace(1e-3, 1.0, 6)
    t = np.arange(T) / max(T - 1, 1)
    grid = [(a0 * f**t, np.full(T, m)) for a0 in alpha0s for m in mus for f in finals]
    alpha, mu = nqm_schedules.decay_grid(problem, T, safeguard, alpha0s, mus, finals)
    expected = best_one_at_a_time(problem, grid, safeguard)
    if expected is None:
        close(alpha, np.full(T, alpha0s[0] * 1e-3))
        close(mu, np.zeros(T))
    else:
        close(alpha, expected[0])
        close(mu, expected[1])


@given(problems(), st.integers(1, 6))
def test_fixed_grid_equals_one_pair_at_a_time(problem, T):
    # Catches: fixed_grid's batched rollout pairing a loss with the wrong (alpha, mu) of the meshgrid.
    alphas, mus = np.geomspace(0.05, 2.5, 9) / problem.h.max(), np.array([0.0, 0.4, 0.8, 0.95])
    grid = [(np.full(T, a), np.full(T, m)) for a in alphas for m in mus]
    expected = best_one_at_a_time(problem, grid, safeguard=False)
    assert nqm_schedules.fixed_grid(problem, T, alphas, mus) == (expected[0][0], expected[1][0])


@given(problems(), st.integers(1, 4), st.integers(1, 4), st.floats(0.05, 1.5), st.floats(0.0, 0.9))
@example(make_problem([1.0, 0.2], [1.0, 2.0], [3.0, -2.0], [0.0, 0.5]), 3, 1, 1.0, 0.5)  # a one-step tail is fitted too
def test_fitted_decay_tail_equals_one_fraction_at_a_time(problem, k, m, alpha, mu):
    # Catches: fixed_then_decay_schedule's batched choice of the final fraction reading another fraction's loss.
    alpha = alpha / problem.h.max()
    fractions = np.geomspace(1e-3, 1.0, 13)
    out = nqm_fixed_decay.fixed_then_decay_schedule(problem, alpha, k, m, mu, fractions=fractions)
    grid = [(nqm_fixed_decay.fixed_then_decay(alpha, k, m, f), np.full(k + m, mu)) for f in fractions]
    expected = best_one_at_a_time(problem, grid, safeguard=False)
    close(out["alpha"], expected[0])
    assert out["decay_to"] == fractions[[g[0].tobytes() for g in grid].index(expected[0].tobytes())]


@pytest.mark.parametrize("best", [0, 127, 128, 129, 255, 256, 299])
def test_decay_grid_finds_its_best_schedule_at_every_chunk_boundary(best):
    # Catches: a schedule skipped or its loss paired with another at the edges of decay_grid's chunks of 128
    # (a chunk stride of 129 with slices of 128 never evaluates schedule 128). 300 schedules alpha0_j (mu = 0,
    # f = 1) on a one-coordinate deterministic problem, where one step of alpha = 1 / h reaches the optimum:
    # the grid puts that alpha at index `best` and much smaller ones everywhere else.
    problem = make_problem([2.0], [0.0], [1.0], [0.0])
    alpha0s = np.geomspace(1e-4, 1e-3, 300)
    alpha0s[best] = 0.5
    alpha, mu = nqm_schedules.decay_grid(problem, 1, True, alpha0s, np.array([0.0]), np.array([1.0]))
    assert alpha.tolist() == [0.5] and mu.tolist() == [0.0]


@pytest.mark.parametrize("d, T, batch", [(200_000, 1, None), (20_000, 1, 8), (2_000, 200, None), (500, 100, 8)])
def test_rollout_bytes_bounds_what_a_rollout_allocates(d, T, batch):
    # The size check before work (`shb nqm dynamics`) trusts it. Measured by tracemalloc (numpy reports its
    # buffers), at sizes where arrays dominate Python's own objects. Catches an estimate below the peak (a wrong power
    # of T or d, a step's temporaries left out: they dominate at T = 1) or far above it (a batch counted twice).
    problem = make_problem(np.linspace(0.1, 1.0, d), np.ones(d), np.ones(d), np.zeros(d))
    alpha = np.full((T,) if batch is None else (batch, T), 0.1)
    tracemalloc.start()
    nqm_dynamics.rollout(problem, alpha, np.full_like(alpha, 0.5))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate = nqm_dynamics.rollout_bytes(d, T) if batch is None else nqm_dynamics.rollout_bytes(d, T, batch)
    assert peak <= estimate <= 1.6 * peak


def test_a_schedule_of_another_shape_is_refused():
    # Catches: check_schedule letting through alpha and mu of different shapes, or a schedule that is neither (T,)
    # nor (B, T): rolled out anyway, it would fail later with an IndexError or broadcast into the wrong batch.
    problem = make_problem([1.0, 0.5], [1.0, 1.0], [1.0, 2.0], [0.0, 0.0])
    for alpha, mu in ((np.ones(3), np.ones(2)), (np.ones((2, 3)), np.ones((3, 2))), (np.ones((1, 2, 3)),) * 2,
                      (np.float64(0.5),) * 2):
        with pytest.raises(ValueError, match=r"must have one shape, \(T,\) or \(B, T\)"):
            nqm_dynamics.rollout(problem, alpha, mu)
        with pytest.raises(ValueError, match=r"must have one shape"):
            nqm_dynamics.max_component_ratio(problem, alpha, mu)
