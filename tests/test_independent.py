"""numeric/nqm/independent.py: the second methods behind the NQM figures' new evidence are right on their own.

- textbook conjugate gradient: exact in d steps on d distinct curvatures, and the greedy schedule's loss curve on the
  deterministic preset (the claim Figure 3b's evidence rests on; a wrong Theorem 2 fails it);
- heavy ball's moment matrices: the update rule iterated by hand where it is deterministic, Theorem 1's moments
  (the engine's rollout) with noise, and the K-step loss equal to horizon.py's jets and, for K = 1, to Eq. 15 summed
  over coordinates; the module imports nothing of the engine;
- the quasi-Newton search finds a known minimum, and the plans of the lookahead planner.
"""
import ast
import inspect

import numpy as np
import pytest

from shb.numeric.nqm import horizon as nqm_horizon
from shb.numeric.nqm import independent
from shb.numeric.nqm import lookahead as nqm_lookahead
from shb.numeric.nqm import lookahead_checks as nqm_lookahead_checks
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm.generated import heavy_ball_one_step_loss, heavy_ball_raw_moments

HEAVY_BALL = nqm_optimizers.get("heavy-ball")


def test_the_second_method_imports_nothing_of_the_engine():
    # Catches: a "second method" that quietly reuses the code it checks (numeric/nqm's engine, the generated code,
    # the symbolic derivation): it must stand on numpy alone.
    tree = ast.parse(inspect.getsource(independent))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"numpy"}


def test_conjugate_gradient_is_exact_after_d_steps_on_d_distinct_curvatures():
    # Catches: a wrong step length or direction update (CG then needs more than d steps, or diverges).
    losses = independent.conjugate_gradient_losses([0.1, 1.0, 3.0], [5.0, -2.0, 1.0], 5)
    assert losses[0] == pytest.approx(0.5 * (0.1 * 25 + 4.0 + 3.0))
    assert np.all(np.diff(losses[:4]) < 0) and losses[3] < 1e-20 * losses[0] and np.all(losses[4:] <= losses[3])


def test_greedy_is_conjugate_gradient_on_the_deterministic_preset_and_steepest_descent_is_not():
    # Catches: a greedy schedule that is not CG (Section 2.1), e.g. the momentum term dropped (steepest descent with
    # exact line search: greedy without momentum), which the comparison must tell apart.
    problem = nqm_problem.preset("paper-deterministic")
    cg = independent.conjugate_gradient_losses(problem.h, problem.mean0, 40)
    greedy = HEAVY_BALL.greedy(problem, 40)["loss"]
    assert np.max(np.abs(greedy - cg) / cg) < 1e-12
    steepest = HEAVY_BALL.greedy(problem, 40, mu=0.0)["loss"]
    assert np.max(np.abs(steepest - cg) / cg) > 0.5


def test_the_moment_matrices_follow_the_update_rule_where_it_is_deterministic():
    # Catches: a wrong entry of F (a sign, mu in the wrong place, theta' = theta + v instead of theta + v'): with
    # sigma2 = 0 and V[theta_0] = 0 every run is the same, so M_t = z_t z_t^T with z_t the update iterated here.
    h, theta0 = np.array([0.3, 1.0, 2.5]), np.array([2.0, -1.0, 0.5])
    problem = nqm_problem.make_problem(h, 0.0, theta0, 0.0)
    rng = np.random.default_rng(0)
    alpha, mu = rng.uniform(0.05, 0.6, 12), rng.uniform(-0.2, 0.9, 12)
    M = independent.second_moments(problem, {"alpha": alpha, "mu": mu})
    theta, v = theta0.copy(), np.zeros(3)
    for t in range(12):
        v = mu[t] * v - alpha[t] * h * theta
        theta = theta + v
        z = np.stack([theta, v], axis=-1)
        assert np.allclose(M[t + 1], z[:, :, None] * z[:, None, :], rtol=1e-12, atol=1e-14)


def test_the_moment_matrices_are_theorem_1s_with_noise():
    # Catches: a wrong noise term b b^T (the noise entering theta' but not v', or sigma2 instead of h^2 sigma2), or a
    # wrong start (V[theta_0] left out): E[theta^2], E[v^2], E[theta v] against Theorem 1's means and variances (the
    # engine's rollout), on the paper preset's curvatures and noise with V[theta_0] = 0.5 (the preset's is 0).
    paper = nqm_problem.preset("paper")
    problem = nqm_problem.make_problem(paper.h, paper.sigma2, paper.mean0, 0.5)
    rng = np.random.default_rng(1)
    schedule = {"alpha": rng.uniform(0.01, 0.5, 15), "mu": rng.uniform(0.0, 0.9, 15)}
    M = independent.second_moments(problem, schedule)
    exact = HEAVY_BALL.rollout(problem, schedule["alpha"], schedule["mu"])
    raw = heavy_ball_raw_moments(*(exact[k] for k in HEAVY_BALL.statistics()))
    for (a, b), m in zip([(0, 0), (1, 1), (0, 1)], raw):
        assert np.allclose(M[..., a, b], m, rtol=1e-10, atol=0)


@pytest.fixture(scope="module")
def moments():
    problem = nqm_problem.preset("paper")
    schedule = HEAVY_BALL.greedy(problem, 20)
    return problem, schedule, independent.second_moments(problem, schedule)


@pytest.mark.parametrize("K", [1, 3, 7])
def test_the_second_methods_k_step_loss_is_horizon_pys(moments, K):
    # Catches: a wrong K-step loss here (or a wrong jet or adjoint in horizon.py): two derivations must agree to
    # rounding. horizon.py runs at the planner's curvatures h / c, where the loss is L_K / c.
    problem, schedule, M = moments
    rng = np.random.default_rng(K)
    alpha, mu = rng.uniform(0.01, 2.0, 6), rng.uniform(-0.3, 0.9, 6)
    contexts, c = nqm_lookahead_checks.planned(HEAVY_BALL, problem, schedule, K)
    for t in (0, 5, 19):
        ctx = contexts[t]
        second = independent.horizon_loss(M[t], alpha, mu, problem.h, problem.sigma2, K)
        jets = c * nqm_horizon.horizon_loss(ctx.rule, alpha * c, mu, ctx.h, ctx.sigma2, ctx.raw, ctx.extras)
        assert np.allclose(second, jets, rtol=1e-10, atol=0)
    if K == 1:  # Eq. 15 summed over coordinates, at the unscaled curvatures
        exact = HEAVY_BALL.rollout(problem, schedule["alpha"], schedule["mu"])
        raw = heavy_ball_raw_moments(*(exact[k][5] for k in HEAVY_BALL.statistics()))
        direct = np.sum(heavy_ball_one_step_loss(alpha[:, None], mu[:, None], problem.h, problem.sigma2, *raw), axis=-1)
        assert np.allclose(independent.horizon_loss(M[5], alpha, mu, problem.h, problem.sigma2, 1), direct, rtol=1e-10)


def test_the_search_finds_a_known_minimum():
    # Catches: a search that stops early or returns its start: the minimum of a curved valley in (log a, mu).
    def loss(alpha, mu):
        a = alpha / (1 - mu)
        return 1.0 + (np.log(a / 0.3) + 2 * (mu - 0.4) ** 2) ** 2 + 0.1 * (mu - 0.4) ** 2

    alpha, mu, value = independent.search_minimum(loss, 1.0, 0.99)
    assert value == pytest.approx(1.0, abs=1e-12)
    assert mu == pytest.approx(0.4, abs=1e-5) and alpha == pytest.approx(0.3 * 0.6, rel=1e-5)


@pytest.mark.slow
def test_the_search_finds_the_lookahead_planners_plans(moments):
    # Catches: a second method that cannot confirm the planner (then the figure's evidence would fail for nothing),
    # and a planner that misses a lower minimum the second method finds.
    problem = moments[0]
    for deterministic in (False, True):
        run = HEAVY_BALL.lookahead(problem, 8, 5, deterministic)
        M = independent.second_moments(problem, run)
        planning = np.zeros_like(problem.sigma2) if deterministic else problem.sigma2
        loss = lambda a, m: independent.horizon_loss(M[7], a, m, problem.h, planning, 5)  # noqa: E731
        alpha, mu, value = independent.search_minimum(loss, problem.h.max(), nqm_lookahead.STABLE_MU)
        plan = float(loss(run["alpha"][7], run["mu"][7]))
        assert abs(value - plan) <= 1e-9 * plan
        assert alpha == pytest.approx(run["alpha"][7], rel=1e-5) and mu == pytest.approx(run["mu"][7], abs=1e-5)
