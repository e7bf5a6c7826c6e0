"""numeric/nqm/adjoint.py: the T-step loss of every rule as one Autograd primitive with generated adjoints.

Without the safeguard's penalty the gradient comes from the rank-one form (`<rule>_direction_step`, `<rule>_probe`);
with it, from `<rule>_raw_step_vjp`. The reference (tests/nqm/reference.py, `taped_loss`) is Autograd
differentiating a step-by-step rollout of the rule's central-moment step `<rule>_step`, which the adjoint never runs;
and central finite differences of the primitive's own value.

Catches: a wrong sign or factor in a derived adjoint, a transposed Jacobian, an off-by-one in a loop (w_{t+1} for
w_t, states[t] for states[t + 1]), the penalty injected at the wrong step or not scaled by the upstream, a per-step
extra (gamma_t) applied at the wrong step, a batch axis (of schedules or of problems) summed into the wrong place,
a cached forward pass reused for other arguments or kept after its backward pass.
"""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.numeric.nqm import adjoint as nqm_adjoint
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.adjoint import final_loss, rank_one, schedule_gradient
from shb.numeric.nqm.problem import Problem, chebyshev_extreme, make_problem

from .reference import NAMES, batches, entry, problems, stable_scale, taped_loss


@st.composite
def cases(draw, name):
    """A rule with drawn options, one schedule or a batch of 3, and a problem with coordinate 0 at the optimum
    (L_0(0) = 0: exempt from the penalty)."""
    d, T = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    batch = draw(st.sampled_from([(), (3,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    h, sigma2 = rng.uniform(0.05, 1.0, d), rng.uniform(0.0, 2.0, d)
    mean0, var0 = rng.normal(0, 5, d), rng.uniform(0, 2, d)
    mean0[0], var0[0] = 0.0, 0.0
    problem = make_problem(h, sigma2, mean0, var0)
    opt = entry(name, draw)
    alpha = rng.uniform(0.0, 1.5, batch + (T,)) * stable_scale(opt, problem, T)
    mu = rng.uniform(-0.5, 0.99, batch + (T,))
    return opt, alpha, mu, problem, opt.extras(problem, T)


@pytest.mark.parametrize("weight", [0.0, 1.0, 1e4])
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_the_adjoint_is_autograd_through_a_step_by_step_rollout(name, weight, data):
    opt, alpha, mu, problem, extras = data.draw(cases(name))
    args = (*problem, extras)
    reference = taped_loss(opt.rule, alpha, mu, *args, weight)
    np.testing.assert_allclose(final_loss(opt.rule, alpha, mu, *args, weight), reference,
                               rtol=1e-12 if weight == 0 else 1e-11)
    if weight == 0:
        np.testing.assert_allclose(rank_one(opt.rule, alpha, mu, *args)[0], reference, rtol=1e-10)
    upstream = np.arange(1.0, 1.0 + np.size(reference))  # a distinct upstream gradient per schedule

    def objective(f):
        return lambda a, m: anp.sum(upstream * f(opt.rule, a, m, *args, weight))

    ours = autograd.grad(objective(final_loss), (0, 1))(alpha, mu)
    want = autograd.grad(objective(taped_loss), (0, 1))(alpha, mu)
    for got, expected in zip(ours, want):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.max(np.abs(expected)))


@pytest.mark.parametrize("name", NAMES)
@given(problem=problems(max_d=4), data=st.data())
def test_the_gradient_is_central_finite_differences_of_the_loss(name, problem, data):
    # The primitive's gradient against its own value: catches an adjoint consistent with the reference's derivative
    # but not with the loss the primitive returns (both routes sharing a slip of the moments).
    opt = entry(name, data.draw)
    T = data.draw(st.integers(1, 8))
    scale = stable_scale(opt, problem, T)
    alpha = np.array(data.draw(st.lists(st.floats(0.05, 1.2), min_size=T, max_size=T))) * scale
    mu = np.array(data.draw(st.lists(st.floats(-0.5, 0.95), min_size=T, max_size=T)))
    x = np.concatenate([alpha / scale, mu])  # alpha in units of the stable scale: one eps for both halves

    def f(x):
        return opt.final_loss(problem, x[:T] * scale, x[T:])

    g = autograd.grad(f)(x)
    eps = 1e-6
    fd = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(2 * T)])
    # Central differences: truncation O(eps^2 f''') and rounding O(1e-16 f / eps) ~ 1e-10 f.
    assert np.allclose(g, fd, rtol=1e-6, atol=1e-7 * (abs(f(x)) + np.abs(g).max()))


@pytest.mark.parametrize("name", NAMES)
def test_the_adjoint_matches_central_differences_at_every_step(name):
    rng = np.random.default_rng(5)
    d, T = 5, 8
    problem = make_problem(rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d), rng.normal(0, 3, d),
                           rng.uniform(0, 1, d))
    opt = nqm_optimizers.get(name)
    alpha, mu = rng.uniform(0.1, 0.9, T) * stable_scale(opt, problem, T), rng.uniform(0.0, 0.9, T)
    grads = autograd.grad(lambda a, m: opt.final_loss(problem, a, m), (0, 1))(alpha, mu)
    for k, x in enumerate((alpha, mu)):
        for t in range(T):
            up, down = x.copy(), x.copy()
            up[t] += 1e-6
            down[t] -= 1e-6
            args = [(up, mu), (alpha, up)][k], [(down, mu), (alpha, down)][k]
            fd = (opt.final_loss(problem, *args[0]) - opt.final_loss(problem, *args[1])) / 2e-6
            assert abs(fd - grads[k][t]) <= 1e-6 * (1 + abs(fd)), (name, k, t, fd, grads[k][t])



@pytest.mark.parametrize("name", NAMES)
@given(batches(), st.sampled_from([0.0, 10.0]))
def test_gradients_of_a_batch_of_schedules_equal_one_schedule_at_a_time(name, case, penalty_weight):
    # Catches: the batched adjoints (rank_one without the penalty, raw_step_vjp with it) mixing schedules, or the
    # upstream gradient of one schedule applied to another (schedule_gradient's per-schedule scale).
    problem, alpha, mu = case
    opt = nqm_optimizers.get(name)
    alpha = alpha * stable_scale(opt, problem, alpha.shape[-1])
    weights = np.arange(1.0, alpha.shape[0] + 1.0)

    def batch_objective(a, m):
        return anp.dot(weights, opt.final_loss(problem, a, m, penalty_weight))

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        g_alpha, g_mu = autograd.grad(batch_objective, (0, 1))(alpha, mu)
        for b in range(alpha.shape[0]):
            one = autograd.grad(lambda a, m: opt.final_loss(problem, a, m, penalty_weight), (0, 1))(alpha[b], mu[b])
            for got, want in zip((g_alpha[b], g_mu[b]), one):
                assert np.all(np.isfinite(want))
                np.testing.assert_allclose(got, weights[b] * want, rtol=1e-12, atol=1e-300)


def problem_batch():
    out = []
    for kappa, noise in ((1.0, 0.3), (30.0, 0.0), (300.0, 1.0)):
        h = chebyshev_extreme(8, 1.0 / kappa, 1.0)
        out.append(make_problem(h, noise / h, np.linspace(-3.0, 5.0, 8), 0.2))
    return out, Problem(*(np.stack([getattr(p, f) for p in out]) for f in Problem._fields))


@pytest.mark.parametrize("name", NAMES)
def test_the_adjoint_over_a_batch_of_problems_is_each_problem_alone(name):
    # Catches per-coordinate arrays shaped (B, B, d) (each schedule against every problem) instead of (B, d), and
    # a problem's extras (p = 1/h) paired with another problem.
    rng = np.random.default_rng(0)
    items, stacked = problem_batch()
    opt = nqm_optimizers.get(name)
    alpha, mu = rng.uniform(0.05, 0.6, (3, 7)), rng.uniform(0.0, 0.8, (3, 7))
    loss, grad_alpha, grad_mu = rank_one(opt.rule, alpha, mu, *stacked, opt.extras(stacked, 7))
    batched_final = opt.final_loss(stacked, alpha, mu)
    for b, p in enumerate(items):
        alone = rank_one(opt.rule, alpha[b], mu[b], *p, opt.extras(p, 7))
        np.testing.assert_allclose(loss[b], alone[0], rtol=1e-13)
        np.testing.assert_allclose(grad_alpha[b], alone[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad_mu[b], alone[2], rtol=1e-12, atol=1e-14)
        assert batched_final[b] == pytest.approx(opt.rollout(p, alpha[b], mu[b])["loss"][-1], rel=1e-12)


# ------------------------------------------------------------------------------------------------ the primitive


def heavy_ball_args(rng, d=4):
    return (rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d), rng.normal(0, 3, d), rng.uniform(0, 1, d), {})


RISING = (np.array([2.5, 2.5, 0.3]), np.array([0.6, 0.6, 0.2]))  # components rise: a penalty would show
RISING_PROBLEM = (np.array([1.0, 0.5]), np.ones(2), np.array([2.0, 0.5]), np.zeros(2), {})


def test_repeated_and_interleaved_calls_are_not_served_stale_results():
    # Catches: the forward pass cached for one schedule and reused for another (or for the
    # backward pass of an earlier call), and a benchmark timing a cache hit instead of the work.
    rng = np.random.default_rng(3)
    T = 6
    args = heavy_ball_args(rng)
    a1, a2 = rng.uniform(0.1, 0.9, T), rng.uniform(0.1, 0.9, T)
    mu = rng.uniform(0.0, 0.9, T)
    for weight in (0.0, 1e3):
        loss = lambda a: final_loss("heavy_ball", a, mu, *args, weight)  # noqa: E731
        single = [autograd.grad(loss)(a) for a in (a1, a2)]
        again = autograd.grad(loss)(a1)
        np.testing.assert_array_equal(again, single[0])
        both = autograd.grad(lambda x: loss(x[0]) + 2 * loss(x[1]))(np.stack([a1, a2]))
        np.testing.assert_allclose(both, np.stack([single[0], 2 * single[1]]), rtol=1e-12)


def test_a_gradient_in_the_problem_together_with_the_schedule_is_refused():
    # Catches: the vjp letting a gradient in h (argument 3, the first after the rule and the schedule), sigma2,
    # mean0 or var0 through the schedule's primitive: its adjoint computes dL/dalpha and dL/dmu only, so that would
    # be an IndexError or a wrong number. (With the schedule not traced, final_loss takes the plain path, which
    # Autograd tapes, so a gradient in the problem alone is fine.)
    args = ["heavy_ball", np.full(3, 0.5), np.full(3, 0.3), np.array([1.0, 0.5]), np.ones(2), np.full(2, 2.0),
            np.zeros(2), {}]
    for argnum in (3, 4, 5, 6):
        with pytest.raises(NotImplementedError, match=r"\(alpha, mu\) only"):
            autograd.grad(final_loss, (1, argnum))(*args)


def test_schedule_gradient_defaults_to_the_unpenalized_loss():
    # Catches: schedule_gradient's default penalty_weight not 0 (called on its own, without the weight, it must
    # give the gradient of the plain loss, as final_loss does without it).
    alpha, mu = RISING
    g_alpha, g_mu = schedule_gradient(1.0, alpha, mu, "heavy_ball", *RISING_PROBLEM)
    ref_alpha, ref_mu = autograd.grad(lambda a, m: final_loss("heavy_ball", a, m, *RISING_PROBLEM), (0, 1))(alpha, mu)
    np.testing.assert_allclose(g_alpha, ref_alpha, rtol=1e-12)
    np.testing.assert_allclose(g_mu, ref_mu, rtol=1e-12)
    penalized = autograd.grad(lambda a: final_loss("heavy_ball", a, mu, *RISING_PROBLEM, 1.0))(alpha)
    assert not np.allclose(penalized, ref_alpha, rtol=1e-6)


def test_the_backward_pass_consumes_the_forward_cache():
    # Catches: the backward pass keeping the forward pass it reused (keep=True), so that a repeated value and
    # gradient of the same schedule is served from the cache: `shb bench nqm-grad` would then time a cache hit,
    # not the forward and backward passes it reports (README, Performance).
    alpha, mu = RISING
    for weight in (0.0, 1e3):
        value, _ = autograd.value_and_grad(lambda a: final_loss("heavy_ball", a, mu, *RISING_PROBLEM, weight))(alpha)
        assert nqm_adjoint._last == {}
        # ... and the traced value is the plain one (with the penalty when weighted: components rise here).
        assert value == pytest.approx(final_loss("heavy_ball", alpha, mu, *RISING_PROBLEM, weight), rel=1e-12)
    assert final_loss("heavy_ball", alpha, mu, *RISING_PROBLEM, 1e3) > final_loss("heavy_ball", alpha, mu,
                                                                                  *RISING_PROBLEM)


def test_the_backward_pass_reuses_the_forward_pass(monkeypatch):
    # Catches: the forward pass not kept for the backward pass (keep=False by default), which computes every
    # rollout twice per value and gradient: the cost the generated adjoint and the cache exist to avoid.
    alpha, mu = RISING
    calls = []
    for name in ("rank_one", "_all_moments"):
        real = getattr(nqm_adjoint, name)
        monkeypatch.setattr(nqm_adjoint, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    autograd.value_and_grad(lambda a: final_loss("heavy_ball", a, mu, *RISING_PROBLEM))(alpha)
    autograd.value_and_grad(lambda a: final_loss("heavy_ball", a, mu, *RISING_PROBLEM, 1e3))(alpha)
    assert calls == ["rank_one", "_all_moments"]


def test_the_cache_tells_rules_and_extras_apart():
    # Catches: the cache key missing the rule or an extra's value, so that a gradient of one rule (or one batch
    # size) is served the forward pass of another: both have the same schedule and problem.
    alpha, mu = RISING
    h, sigma2, mean0, var0, _ = RISING_PROBLEM
    results = {}
    for rule, extras in (("heavy_ball", {}), ("minibatch", {"B": 2.0}), ("minibatch", {"B": 5.0})):
        value, grad = autograd.value_and_grad(
            lambda a: final_loss(rule, a, mu, h, sigma2, mean0, var0, extras))(alpha)
        ref_value = taped_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras)
        ref_grad = autograd.grad(lambda a: taped_loss(rule, a, mu, h, sigma2, mean0, var0, extras))(alpha)
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-9)
        results[rule, tuple(extras.values())] = value
    assert len(set(results.values())) == 3
