"""The checks of the figures beyond the paper (experiments/figures/lookahead.py, experiments/figures/atlas.py) fail on wrong input."""
import numpy as np
import pytest

from shb.experiments.figures import atlas

from shb.experiments.figures import lookahead
from shb.numeric.nqm import lookahead as nqm_lookahead
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import Problem, chebyshev_extreme, make_problem

GRID = {"kappas": (1.0, 10.0, 100.0), "noises": (0.0, 0.1, 1.0)}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")


def passes(check):
    return check["passed"]


# ---- atlas ---------------------------------------------------------------------------------------


def test_greedy_unbeaten_fails_when_a_schedule_beats_greedy_on_an_axis():
    greedy = np.full((3, 3), 2.0)
    initial = np.full((3, 3), 100.0)
    inside = {"greedy": {"final": greedy}, "fit": {"final": np.where(np.eye(3, dtype=bool), 1.0, 2.0)}}
    # (kappa 10, s 0.1) and (kappa 100, s 1) are interior: greedy may lose there; (kappa 1, s 0) is on both axes
    inside["fit"]["final"][0, 0] = 2.0
    assert passes(atlas.greedy_unbeaten(GRID, inside, initial))
    for cell in ((0, 2), (2, 0)):  # kappa = 1, and sigma2 = 0
        out = {"greedy": {"final": greedy}, "fit": {"final": greedy.copy()}}
        out["fit"]["final"][cell] = 2.0 * (1 - 1e-6)
        assert not passes(atlas.greedy_unbeaten(GRID, out, initial)), cell
    # below greedy only at the rounding floor (1e-12 L(0)): not counted
    out = {"greedy": {"final": greedy}, "fit": {"final": greedy - 0.5e-12 * initial}}
    assert passes(atlas.greedy_unbeaten(GRID, out, initial))


def test_the_regret_checks_fail_where_the_claims_fail():
    good = np.array([[1.0, 1.0, 1.0], [1.0, 3.0, 2.0], [1.0, 5.0, 4.0]])
    (exceeds, rises), falls = atlas.greedy_regret_checks(GRID, good)
    assert passes(exceeds) and passes(rises)
    assert falls == ["(kappa 10, s 0.1) -> (kappa 10, s 1): 3 -> 2", "(kappa 100, s 0.1) -> (kappa 100, s 1): 5 -> 4"]
    flat = good.copy()
    flat[2, 2] = 1.005  # within 1% of 1: not beyond the fits' resolution
    assert not passes(atlas.greedy_regret_checks(GRID, flat)[0][0])
    no_rise = good.copy()
    no_rise[1, 1] = 1.0  # kappa 1 -> 10 at s = 0.1 does not raise it (and sigma2 0 -> 0.1 at kappa 10 neither)
    assert not passes(atlas.greedy_regret_checks(GRID, no_rise)[0][1])


def test_lookahead_minima_fails_for_a_plan_moved_off_its_minimum():
    cfg = dict(GRID, kappas=(1.0, 30.0), noises=(0.0, 0.5), d=6, T=5, mean0=10.0, var0=0.0, horizons=(3,))
    arrays = atlas.cells(cfg)
    run = nqm_lookahead.lookahead_batch(HEAVY_BALL, Problem(*arrays), cfg["T"], 3)
    out = {"lookahead K = 3": {"alpha": run["alpha"], "mu": run["mu"], "final": np.zeros((2, 2))}}
    assert passes(atlas.lookahead_minima(cfg, arrays, out))
    out["lookahead K = 3"]["alpha"] = run["alpha"].copy()
    out["lookahead K = 3"]["alpha"][1, 1, 2] *= 1.05
    assert not passes(atlas.lookahead_minima(cfg, arrays, out))


# ---- lookahead ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    h = chebyshev_extreme(20, 0.01, 1.0)
    problem = make_problem(h, 1.0 / h, 10.0, 0.0)
    cfg = dict(lookahead.TINY, T=12, horizons=(1, 4), global_steps=(0, 5))
    runs = {(K, d): HEAVY_BALL.lookahead(problem, cfg["T"], K, d) for K in (1, 4) for d in (False, True)}
    return problem, cfg, runs


def test_the_greedy_check_fails_for_a_schedule_off_greedy(small):
    problem, cfg, runs = small
    assert passes(lookahead.greedy_check(problem, runs, cfg))
    off = {**runs, (1, False): dict(runs[1, False], mu=runs[1, False]["mu"] + 1e-9)}
    assert not passes(lookahead.greedy_check(problem, off, cfg))


def test_the_minimum_checks_fail_for_a_plan_off_its_minimum(small):
    problem, cfg, runs = small
    assert all(map(passes, lookahead.minimum_checks(problem, runs, cfg)))
    moved = dict(runs[4, True], alpha=runs[4, True]["alpha"] * np.r_[1.0, 1.0, 1.0, 1.0, 1.0, 1.03, np.ones(6)])
    local, far = lookahead.minimum_checks(problem, {**runs, (4, True): moved}, cfg)
    assert not passes(local) and not passes(far)  # step 5 is also one of the finer grid's steps


def test_the_second_method_check_fails_for_a_plan_off_its_minimum_or_a_planner_loss_off_its_own(small, monkeypatch):
    # Catches a second method that does not search (a plan 1% off its minimum at a checked step passes) and a
    # comparison with the planner's L_K that compares nothing (horizon.py's value off by 1e-6 passes); the right
    # plans must pass, so a second method that cannot confirm the planner is caught too.
    from shb.numeric.nqm import horizon

    problem, cfg, runs = small
    cfg = dict(cfg, independent_steps=(5,))
    assert passes(lookahead.second_method_check(problem, runs, cfg))
    moved = dict(runs[4, False], alpha=runs[4, False]["alpha"] * np.r_[np.ones(5), 1.01, np.ones(6)])
    assert not passes(lookahead.second_method_check(problem, {**runs, (4, False): moved}, cfg))
    real = horizon.horizon_loss
    monkeypatch.setattr(horizon, "horizon_loss", lambda *args, **kwargs: real(*args, **kwargs) * (1 + 1e-6))
    assert not passes(lookahead.second_method_check(problem, runs, cfg))


def test_the_learning_rate_checks_fail_when_the_directions_are_wrong(small):
    # Catches a direction check that looks at one summary only (the mean, or the final value), or lost its sign.
    _, _, runs = small
    T = len(runs[1, False]["alpha"])
    best = {"alpha": np.full(T, 0.8), "mu": np.zeros(T), "loss": np.r_[np.ones(T), 1e-3]}
    stochastic, deterministic = lookahead.learning_rate_checks(runs, best)
    assert passes(stochastic) and passes(deterministic)
    slow = dict(best, alpha=np.full(T, 1e-4), loss=np.r_[np.ones(T), 1e9])
    assert not passes(lookahead.learning_rate_checks(runs, slow)[0])   # stochastic lookahead now above it
    dip = dict(best, alpha=np.r_[np.full(T - 1, 0.8), 1e-6])
    assert not passes(lookahead.learning_rate_checks(runs, dip)[0])    # ... at the end only
    fast = dict(best, alpha=np.full(T, 50.0))
    assert not passes(lookahead.learning_rate_checks(runs, fast)[1])   # deterministic lookahead now below it
    lucky = dict(best, loss=np.r_[np.ones(T), 1e9])
    assert not passes(lookahead.learning_rate_checks(runs, lucky)[1])  # deterministic lookahead no longer worse


# ---- shared schedules ---------------------------------------------------------------------------------


def test_a_shared_schedule_is_served_only_for_the_same_entry_problem_horizon_and_options(monkeypatch):
    # Catches a cache key that misses an argument: Figure 3a's optimized schedule served to another problem
    # (another noise), another T, other Adam settings, another rule or the same rule with other options, or a stale
    # result after the registry entry is replaced.
    from shb.experiments.common import registry_schedule
    from shb.numeric.nqm.schedule_registry import SCHEDULES, Schedule

    h = chebyshev_extreme(6, 0.1, 1.0)
    problem, noisier = make_problem(h, 1.0 / h, 10.0, 0.0), make_problem(h, 2.0 / h, 10.0, 0.0)
    fit = {"adam_steps": 3, "adam_lr": 0.01}
    first = registry_schedule("optimized", problem, 5, fit)
    assert registry_schedule("optimized", problem, 5, dict(fit)) is first
    assert np.array_equal(first["loss"], SCHEDULES["optimized"](HEAVY_BALL, problem, 5, fit)["loss"])
    for other in (registry_schedule("optimized", noisier, 5, fit), registry_schedule("optimized", problem, 6, fit),
                  registry_schedule("optimized", problem, 5, dict(fit, adam_steps=4)),
                  registry_schedule("optimized", problem, 5, fit, nqm_optimizers.get("nesterov"))):
        assert other is not first
    batch = [registry_schedule("optimized", problem, 5, fit, nqm_optimizers.get("minibatch", B=B)) for B in (2, 4)]
    assert batch[0] is not batch[1] and not np.array_equal(batch[0]["loss"], batch[1]["loss"])
    assert registry_schedule("optimized", problem, 5, fit, nqm_optimizers.get("minibatch", B=2)) is batch[0]
    marker = {"alpha": np.zeros(5), "mu": np.zeros(5), "loss": np.zeros(6)}
    entry = SCHEDULES["optimized"]
    monkeypatch.setitem(SCHEDULES, "optimized", Schedule("optimized", entry.help, lambda *a: marker, entry.options))
    assert registry_schedule("optimized", problem, 5, fit) is marker
