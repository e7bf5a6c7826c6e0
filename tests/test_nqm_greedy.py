"""The greedy schedule (Theorem 2): argmin of the exact one-step loss; conjugate gradient when sigma2 = 0.

The references here do not use the greedy formula: the one-step loss is evaluated by stepping the
exact dynamics (nqm_step) and summing loss_component, and minimized numerically (rings of points at
many distances and directions around the candidate, and a Nelder-Mead search written below).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.dynamics import initial_stats
from shb.numeric.nqm.generated import loss_component, nqm_step
from shb.numeric.nqm.problem import chebyshev_extreme, log_uniform, make_problem, power_law
from shb.numeric.nqm.schedules import greedy, greedy_sgd, greedy_step


def one_step(problem, stats, alpha, mu):
    """Summed excess loss after one exact step with (alpha, mu), from the dynamics (not from Eq. 15)."""
    new = nqm_step(alpha, mu, problem.h, problem.sigma2, *stats)
    return float(np.sum(loss_component(problem.h, new[0], new[2])))


def nelder_mead(f, x0, scale, iters=400):
    """Plain Nelder-Mead in 2-D (reflection 1, expansion 2, contraction 1/2, shrink 1/2)."""
    simplex = [np.asarray(x0, float), x0 + np.array([scale[0], 0.0]), x0 + np.array([0.0, scale[1]])]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centroid = (simplex[0] + simplex[1]) / 2
        reflected = centroid + (centroid - simplex[2])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - simplex[2])
            fe = f(expanded)
            simplex[2], values[2] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[1]:
            simplex[2], values[2] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[2] - centroid)
            fc = f(contracted)
            if fc < values[2]:
                simplex[2], values[2] = contracted, fc
            else:
                simplex = [simplex[0]] + [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex[1:]]
                values = [values[0]] + [f(x) for x in simplex[1:]]
    k = int(np.argmin(values))
    return simplex[k], values[k]


@st.composite
def states(draw):
    """A problem and the statistics after a random prefix of 1..5 steps (so A(v) > 0 and E[theta v] != 0,
    of either sign: the prefix momenta may be negative)."""
    d = draw(st.integers(2, 6))
    h = np.array(draw(st.lists(st.floats(0.05, 2.0), min_size=d, max_size=d)))
    sigma2 = np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=d, max_size=d)))
    mean0 = np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=d, max_size=d)))
    var0 = np.array(draw(st.lists(st.floats(0.0, 2.0), min_size=d, max_size=d)))
    problem = make_problem(h, sigma2, mean0, var0)
    stats = initial_stats(problem)
    for _ in range(draw(st.integers(1, 5))):
        alpha = draw(st.floats(0.05, 1.5)) / h.max()
        mu = draw(st.floats(-0.5, 0.95))
        stats = nqm_step(alpha, mu, problem.h, problem.sigma2, *stats)
    return problem, stats


def assert_is_argmin(problem, stats, alpha, mu):
    f = lambda x: one_step(problem, stats, x[0], x[1])  # noqa: E731
    best = f((alpha, mu))
    tol = 1e-10 * f(np.zeros(2))  # rounding, relative to the current loss (the value at (0, 0))
    # Rings around the candidate, from tiny to far, 16 directions each (a convex quadratic's minimizer
    # is no higher than any of them; a wrong sign or coefficient makes some point lower).
    scale = np.array([1.0 / problem.h.max(), 1.0])
    for radius in (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0):
        for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            x = np.array([alpha, mu]) + radius * scale * np.array([np.cos(angle), np.sin(angle)])
            assert f(x) >= best - tol, f"({alpha}, {mu}) is not the argmin: f{tuple(x)} = {f(x)} < {best}"
    # An independent search from the origin finds nothing lower, and gets close to it.
    x, value = nelder_mead(f, np.zeros(2), scale * 0.5)
    assert value >= best - tol
    assert value <= best + 1e-6 * (f(np.zeros(2)) - best) + tol


@given(states())
def test_greedy_alpha_mu_is_the_argmin_of_the_exact_one_step_loss(case):
    problem, stats = case
    alpha, mu = greedy_step(problem, stats, momentum=True)
    assert_is_argmin(problem, stats, alpha, mu)


@given(states())
def test_greedy_sgd_alpha_is_the_argmin_over_alpha(case):
    problem, stats = case
    alpha, mu = greedy_step(problem, stats, momentum=False)
    assert mu == 0.0
    f = lambda a: one_step(problem, stats, a, 0.0)  # noqa: E731
    grid = alpha + np.concatenate([-np.geomspace(1e-5, 10, 30), np.geomspace(1e-5, 10, 30)]) / problem.h.max()
    best = f(alpha)
    assert all(f(a) >= best - 1e-10 * f(0.0) for a in grid)


def test_greedy_at_t0_uses_mu_zero_and_the_sgd_step():
    problem = make_problem([1.0, 0.1], [1.0, 10.0], [3.0, 3.0], [0.0, 0.0])
    out = greedy(problem, 4)
    assert out["mu"][0] == 0.0
    stats = initial_stats(problem)
    a = out["alpha"][0]
    assert all(one_step(problem, stats, a + da, 0.0) >= one_step(problem, stats, a, 0.0) for da in (-1e-3, 1e-3))
    assert np.all(out["mu"][1:] != 0.0)  # later steps do use momentum


def test_greedy_loss_never_increases():
    """(alpha, mu) = (0, 0) leaves the loss unchanged, so the one-step minimizer never increases it."""
    h = chebyshev_extreme(50, 0.01, 1.0)
    for sigma2 in (1.0 / h, 0.0 * h):
        problem = make_problem(h, sigma2, 10.0, 0.0)
        for out in (greedy(problem, 60), greedy_sgd(problem, 60)):
            loss = out["loss"]
            assert np.all(np.diff(loss) <= 1e-12 * loss[:-1])


def conjugate_gradient_losses(h, theta0, steps):
    """Plain CG on f(theta) = 1/2 sum h theta^2 (the independent reference), returning f after each step."""
    theta = np.array(theta0, dtype=float)
    r = -h * theta
    p = r.copy()
    losses = [0.5 * np.sum(h * theta**2)]
    for _ in range(steps):
        rr = r @ r
        if rr == 0:
            losses.append(losses[-1])
            continue
        Hp = h * p
        step = rr / (p @ Hp)
        theta = theta + step * p
        r = r - step * Hp
        p = r + (r @ r) / rr * p
        losses.append(0.5 * np.sum(h * theta**2))
    return np.array(losses)


@pytest.mark.parametrize("spectrum", [
    lambda n: chebyshev_extreme(n, 0.02, 1.0),
    lambda n: log_uniform(n, 0.01, 1.0),
    lambda n: power_law(n),
])
def test_deterministic_greedy_reproduces_conjugate_gradient(spectrum):
    rng = np.random.default_rng(3)
    h = spectrum(40)
    theta0 = rng.normal(0.0, 5.0, size=h.size)
    problem = make_problem(h, np.zeros_like(h), theta0, 0.0)
    T = 30
    cg = conjugate_gradient_losses(h, theta0, T)
    ours = greedy(problem, T)["loss"]
    # In exact arithmetic the two sequences are equal; in floating point both recurrences lose conjugacy
    # once most of the loss is gone (clustered spectra first), and then amplify rounding differently.
    # So compare while the loss is above 1e-5 of its initial value (about 10-20 steps here), where
    # they agree to ~1e-12; a wrong greedy coefficient is off by far more within the first few steps.
    keep = cg > 1e-5 * cg[0]
    assert keep.sum() > 5
    assert np.allclose(ours[keep], cg[keep], rtol=1e-9)


@given(st.lists(st.floats(0.01, 2.0), min_size=2, max_size=8, unique=True),
       st.lists(st.floats(-5.0, 5.0), min_size=8, max_size=8))
def test_deterministic_greedy_is_conjugate_gradient_on_random_spectra(h, mean0):
    h = np.array(h)
    theta0 = np.array(mean0[: h.size])
    problem = make_problem(h, np.zeros_like(h), theta0, 0.0)
    T = h.size
    cg = conjugate_gradient_losses(h, theta0, T)
    ours = greedy(problem, T)["loss"]
    keep = cg > 1e-5 * cg[0]  # see above: before rounding is amplified
    assert np.allclose(ours[keep], cg[keep], rtol=1e-7)


def test_the_mu_sign_mutation_fails_the_argmin_check(mutant, monkeypatch):
    """A copy of the generated code with the sign of mu* flipped in greedy_solution must fail the argmin test."""
    bad = mutant("mu = -x0*(H_aa*g_m - H_am*g_a)", "mu = x0*(H_aa*g_m - H_am*g_a)")
    monkeypatch.setattr(nqm_schedules, "greedy_solution", bad.greedy_solution)
    problem = make_problem([1.0, 0.3, 0.05], [0.5, 2.0, 1.0], [4.0, -3.0, 5.0], [0.2, 0.0, 1.0])
    stats = initial_stats(problem)
    for alpha, mu in ((0.6, 0.5), (0.8, 0.3)):
        stats = nqm_step(alpha, mu, problem.h, problem.sigma2, *stats)
    alpha, mu = greedy_step(problem, stats)
    assert mu != 0.0
    with pytest.raises(AssertionError):
        assert_is_argmin(problem, stats, alpha, mu)


def test_greedy_sgd_never_uses_momentum():
    # Catches: greedy_sgd calling greedy with momentum on (its mu is then nonzero after step 0, where greedy's is).
    problem = make_problem([1.0, 0.1], [1.0, 10.0], [3.0, 3.0], [0.0, 0.0])
    assert np.all(greedy(problem, 4)["mu"][1:] != 0.0)
    assert np.all(greedy_sgd(problem, 4)["mu"] == 0.0)


def test_greedy_step_with_a_rank_one_hessian_takes_the_sgd_step():
    # One deterministic coordinate: A(theta) A(v) = E[theta v]^2, so det H = H_aa H_mm - H_am^2 = 0 while
    # H_am != 0, and mu is not identifiable (a line of minimizers). Catches a det with the wrong sign or power of
    # H_am (found by mutation testing): H then looks invertible and the solve returns a spurious or infinite mu.
    problem = make_problem([0.5], [0.0], [2.0], [0.0])
    stats = (np.array([1.5]), np.array([-0.75]), np.zeros(1), np.zeros(1), np.zeros(1))
    alpha, mu = greedy_step(problem, stats, momentum=True)
    assert (alpha, mu) == greedy_step(problem, stats, momentum=False) and mu == 0.0 and np.isfinite(alpha)
