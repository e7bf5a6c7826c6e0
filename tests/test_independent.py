"""numeric/nqm/independent.py: the second methods behind the NQM figures' new evidence are right on their own.

- textbook conjugate gradient: exact in d steps on d distinct curvatures, and the greedy schedule's loss curve on the
  deterministic preset (the claim Figure 3b's evidence rests on; a wrong Theorem 2 fails it);
- the rule engine's K-step loss equals horizon.py's jets and, for K = 1, Eq. 15 summed over coordinates;
- the quasi-Newton search finds a known minimum, and the plans of the lookahead planner.
"""
import numpy as np
import pytest

from shb.numeric.nqm import horizon as nqm_horizon
from shb.numeric.nqm import independent
from shb.numeric.nqm import lookahead as nqm_lookahead
from shb.numeric.nqm import lookahead_checks as nqm_lookahead_checks
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.generated import one_step_loss, raw_moments


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
    greedy = nqm_schedules.greedy(problem, 40)["loss"]
    assert np.max(np.abs(greedy - cg) / cg) < 1e-12
    steepest = nqm_schedules.greedy(problem, 40, momentum=False)["loss"]
    assert np.max(np.abs(steepest - cg) / cg) > 0.5


@pytest.fixture(scope="module")
def moments():
    problem = nqm_problem.preset("paper")
    schedule = nqm_schedules.greedy(problem, 20)
    central = independent.engine_moments(problem, schedule)
    raw, planning = nqm_lookahead_checks.planned_moments(problem, schedule)
    return problem, schedule, central, raw


@pytest.mark.parametrize("K", [1, 3, 7])
def test_the_engines_k_step_loss_is_horizon_pys(moments, K):
    # Catches: a wrong engine step or loss (or a wrong jet in horizon.py): two derivations must agree to rounding.
    problem, _, central, raw = moments
    rng = np.random.default_rng(K)
    alpha, mu = rng.uniform(0.01, 2.0, 6), rng.uniform(-0.3, 0.9, 6)
    for t in (0, 5, 19):
        engine = independent.engine_horizon_loss(tuple(s[t] for s in central), alpha, mu, problem.h, problem.sigma2, K)
        jets = nqm_horizon.horizon_loss(alpha, mu, problem.h, problem.sigma2, tuple(r[t] for r in raw), K)
        assert np.allclose(engine, jets, rtol=1e-11, atol=0)
    if K == 1:  # Eq. 15 summed over coordinates
        stats = tuple(s[5] for s in central)
        direct = np.sum(one_step_loss(alpha[:, None], mu[:, None], problem.h, problem.sigma2,
                                      *raw_moments(*stats)), axis=-1)
        assert np.allclose(independent.engine_horizon_loss(stats, alpha, mu, problem.h, problem.sigma2, 1), direct,
                           rtol=1e-12)


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
        run = nqm_lookahead.lookahead(problem, 8, 5, deterministic)
        central = independent.engine_moments(problem, run)
        planning = np.zeros_like(problem.sigma2) if deterministic else problem.sigma2
        stats = tuple(s[7] for s in central)
        loss = lambda a, m: independent.engine_horizon_loss(stats, a, m, problem.h, planning, 5)  # noqa: E731
        alpha, mu, value = independent.search_minimum(loss, problem.h.max(), nqm_lookahead.STABLE_MU)
        plan = float(loss(run["alpha"][7], run["mu"][7]))
        assert abs(value - plan) <= 1e-9 * plan
        assert alpha == pytest.approx(run["alpha"][7], rel=1e-5) and mu == pytest.approx(run["mu"][7], abs=1e-5)
