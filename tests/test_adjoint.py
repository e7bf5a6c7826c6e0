"""The generated reverse-mode adjoints (symbolic/adjoint.py) and the Autograd primitive.

Without the penalty the gradient comes from the rank-one form (direction_step, probe_step,
probe_gradient); with it, from raw_step_vjp. Catches: a wrong sign or factor in either derived
adjoint, a transposed Jacobian, an off-by-one in a loop (s_{t+1} vs s_t, states[t] vs states[t+1]),
a batch axis summed into the wrong place, a cached forward pass reused for other arguments.
"""
import autograd
import autograd.numpy as anp
import numpy as np
from hypothesis import given, strategies as st

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm.adjoint import final_loss, rank_one


def taped_final_loss(alpha, mu, h, sigma2, mean0, var0):
    """The same loss with Autograd taping every generated step (the independent reference)."""
    zeros = anp.zeros(np.shape(h))
    state = (mean0 + zeros, zeros, var0 + zeros, zeros, zeros)
    for t in range(np.shape(alpha)[-1]):
        state = gen.nqm_step(alpha[..., t, None], mu[..., t, None], h, sigma2, *state)
    return anp.sum(gen.loss_component(h, state[0], state[2]), axis=-1)


@st.composite
def problems_and_schedules(draw):
    d = draw(st.integers(1, 6))
    T = draw(st.integers(1, 12))
    batch = draw(st.sampled_from([(), (3,)]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    h = rng.uniform(0.05, 1.0, d)
    sigma2 = rng.uniform(0.0, 2.0, d)
    mean0, var0 = rng.normal(0, 5, d), rng.uniform(0, 2, d)
    alpha = rng.uniform(0.0, 1.5, batch + (T,))
    mu = rng.uniform(-0.5, 0.99, batch + (T,))
    return alpha, mu, (h, sigma2, mean0, var0)


@given(problems_and_schedules())
def test_adjoint_matches_taped_autograd(case):
    alpha, mu, problem = case
    np.testing.assert_allclose(final_loss(alpha, mu, *problem), taped_final_loss(alpha, mu, *problem), rtol=1e-12)
    np.testing.assert_allclose(rank_one(alpha, mu, *problem)[0], taped_final_loss(alpha, mu, *problem), rtol=1e-10)
    weights = np.arange(1.0, 1.0 + np.size(final_loss(alpha, mu, *problem)))  # distinct upstream per schedule

    def objective(f):
        return lambda a, m: anp.sum(weights * f(a, m, *problem))

    ours = autograd.grad(objective(final_loss), (0, 1))(alpha, mu)
    reference = autograd.grad(objective(taped_final_loss), (0, 1))(alpha, mu)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.max(np.abs(want)))


def test_adjoint_matches_central_differences():
    rng = np.random.default_rng(7)
    d, T = 5, 8
    h, sigma2 = rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d)
    mean0, var0 = rng.normal(0, 3, d), rng.uniform(0, 1, d)
    alpha, mu = rng.uniform(0.1, 0.9, T), rng.uniform(0.0, 0.9, T)
    grad_alpha, grad_mu = autograd.grad(final_loss, (0, 1))(alpha, mu, h, sigma2, mean0, var0)
    eps = 1e-6
    for t in range(T):
        for x, grad, name in ((alpha, grad_alpha, "alpha"), (mu, grad_mu, "mu")):
            up, down = x.copy(), x.copy()
            up[t] += eps
            down[t] -= eps
            args = (up, mu) if name == "alpha" else (alpha, up)
            args_down = (down, mu) if name == "alpha" else (alpha, down)
            fd = (final_loss(*args, h, sigma2, mean0, var0) - final_loss(*args_down, h, sigma2, mean0, var0)) / (2 * eps)
            assert abs(fd - grad[t]) <= 1e-6 * (1 + abs(fd)), (name, t, fd, grad[t])


def taped_penalized_loss(alpha, mu, h, sigma2, mean0, var0, weight):
    """L(T) + weight * sum_{t,i} relu(L_i(t)/L_i(0) - 1)^2 with every step taped (the reference)."""
    zeros = anp.zeros(np.shape(h))
    state = (mean0 + zeros, zeros, var0 + zeros, zeros, zeros)
    start = gen.loss_component(h, mean0, var0)
    live = start > 0
    penalty = 0.0
    for t in range(np.shape(alpha)[-1]):
        state = gen.nqm_step(alpha[..., t, None], mu[..., t, None], h, sigma2, *state)
        ratio = gen.loss_component(h, state[0], state[2]) / np.where(live, start, 1.0)
        penalty = penalty + anp.sum((anp.maximum(ratio - 1.0, 0.0) * live) ** 2, axis=-1)
    return anp.sum(gen.loss_component(h, state[0], state[2]), axis=-1) + weight * penalty


@given(problems_and_schedules(), st.sampled_from([1.0, 1e4]))
def test_penalized_adjoint_matches_taped_autograd(case, weight):
    # Catches: the safeguard penalty's adjoint injected at the wrong step, or not scaled by the upstream.
    alpha, mu, (h, sigma2, mean0, var0) = case
    mean0 = np.where(np.arange(h.size) == 0, 0.0, mean0)  # one coordinate starting at the optimum: exempt
    var0 = np.where(np.arange(h.size) == 0, 0.0, var0)
    problem = (h, sigma2, mean0, var0)
    np.testing.assert_allclose(final_loss(alpha, mu, *problem, weight), taped_penalized_loss(alpha, mu, *problem, weight),
                               rtol=1e-11)
    ours = autograd.grad(lambda a, m: anp.sum(3.0 * final_loss(a, m, *problem, weight)), (0, 1))(alpha, mu)
    reference = autograd.grad(lambda a, m: anp.sum(3.0 * taped_penalized_loss(a, m, *problem, weight)), (0, 1))(alpha, mu)
    for got, want in zip(ours, reference):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.max(np.abs(want)))


def test_repeated_and_interleaved_calls_are_not_served_stale_results():
    # Catches: the forward pass cached for one schedule and reused for another (or for the
    # backward pass of an earlier call), and a benchmark timing a cache hit instead of the work.
    rng = np.random.default_rng(3)
    d, T = 4, 6
    problem = (rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d), rng.normal(0, 3, d), rng.uniform(0, 1, d))
    a1, a2 = rng.uniform(0.1, 0.9, T), rng.uniform(0.1, 0.9, T)
    mu = rng.uniform(0.0, 0.9, T)
    for weight in (0.0, 1e3):
        single = [autograd.grad(lambda a: final_loss(a, mu, *problem, weight))(a) for a in (a1, a2)]
        again = autograd.grad(lambda a: final_loss(a, mu, *problem, weight))(a1)
        np.testing.assert_array_equal(again, single[0])
        both = autograd.grad(lambda x: final_loss(x[0], mu, *problem, weight) + 2 * final_loss(x[1], mu, *problem, weight))(
            np.stack([a1, a2]))
        np.testing.assert_allclose(both, np.stack([single[0], 2 * single[1]]), rtol=1e-12)


def test_a_gradient_in_the_problem_together_with_the_schedule_is_refused():
    # Catches: _vjp letting a gradient in h (argument 2, the first after the schedule), sigma2, mean0 or var0
    # through the schedule's primitive: its adjoint computes dL/dalpha and dL/dmu only, so that would be an
    # IndexError or a wrong number. (With the schedule not traced, final_loss takes the plain path, which
    # Autograd tapes, so a gradient in the problem alone is fine.)
    import pytest

    args = [np.full(3, 0.5), np.full(3, 0.3), np.array([1.0, 0.5]), np.ones(2), np.full(2, 2.0), np.zeros(2)]
    for argnum in (2, 3, 4, 5):
        with pytest.raises(NotImplementedError, match=r"\(alpha, mu\) only"):
            autograd.grad(final_loss, (0, argnum))(*args)


def test_schedule_gradient_defaults_to_the_unpenalized_loss():
    # Catches: schedule_gradient's default penalty_weight not 0 (called on its own, without the weight, it must
    # give the gradient of the plain loss, as final_loss does without it).
    from shb.numeric.nqm.adjoint import schedule_gradient

    alpha, mu = np.array([2.5, 2.5, 0.3]), np.array([0.6, 0.6, 0.2])  # components rise: a penalty would show
    problem = (np.array([1.0, 0.5]), np.ones(2), np.array([2.0, 0.5]), np.zeros(2))
    g_alpha, g_mu = schedule_gradient(1.0, alpha, mu, *problem)
    ref_alpha, ref_mu = autograd.grad(lambda a, m: final_loss(a, m, *problem), (0, 1))(alpha, mu)
    np.testing.assert_allclose(g_alpha, ref_alpha, rtol=1e-12)
    np.testing.assert_allclose(g_mu, ref_mu, rtol=1e-12)
    penalized = autograd.grad(lambda a: final_loss(a, mu, *problem, 1.0))(alpha)
    assert not np.allclose(penalized, ref_alpha, rtol=1e-6)


def test_the_backward_pass_consumes_the_forward_cache():
    # Catches: the backward pass keeping the forward pass it reused (keep=True), so that a repeated value and
    # gradient of the same schedule is served from the cache: `shb bench nqm-grad` would then time a cache hit,
    # not the forward and backward passes it reports (README, Performance).
    import pytest

    from shb.numeric.nqm import adjoint as nqm_adjoint

    alpha, mu = np.array([2.5, 2.5, 0.3]), np.array([0.6, 0.6, 0.2])
    problem = (np.array([1.0, 0.5]), np.ones(2), np.array([2.0, 0.5]), np.zeros(2))
    for weight in (0.0, 1e3):
        value, _ = autograd.value_and_grad(lambda a: final_loss(a, mu, *problem, weight))(alpha)
        assert nqm_adjoint._last == {}
        # ... and the traced value is the plain one (with the penalty when weighted: components rise here).
        assert value == pytest.approx(final_loss(alpha, mu, *problem, weight), rel=1e-12)
    assert final_loss(alpha, mu, *problem, 1e3) > final_loss(alpha, mu, *problem)


def test_the_backward_pass_reuses_the_forward_pass(monkeypatch):
    # Catches: the forward pass not kept for the backward pass (keep=False by default), which computes every
    # rollout twice per value and gradient: the cost the generated adjoint and the cache exist to avoid.
    from shb.numeric.nqm import adjoint as nqm_adjoint

    alpha, mu = np.array([2.5, 2.5, 0.3]), np.array([0.6, 0.6, 0.2])
    problem = (np.array([1.0, 0.5]), np.ones(2), np.array([2.0, 0.5]), np.zeros(2))
    calls = []
    for name in ("rank_one", "_all_moments"):
        real = getattr(nqm_adjoint, name)
        monkeypatch.setattr(nqm_adjoint, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    autograd.value_and_grad(lambda a: final_loss(a, mu, *problem))(alpha)
    autograd.value_and_grad(lambda a: final_loss(a, mu, *problem, 1e3))(alpha)
    assert calls == ["rank_one", "_all_moments"]
