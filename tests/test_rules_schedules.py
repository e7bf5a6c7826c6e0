"""Fixed and optimized schedules for every update rule (numeric/nqm/rule_schedules.py, via the registry).

- heavy-ball's entry returns numeric/nqm/schedules.py's fits exactly; the generic fit run on the generic
  heavy_ball rule reproduces them to rounding (so the generic path is the same algorithm);
- every rule's optimized schedule keeps each loss component at or below its initial value and is no worse
  than its start; its fixed schedule is no worse than its grid start;
- learning_rate_bound with a rule's one-step loss is heavy ball's when the rule is heavy ball.
"""
import numpy as np
import pytest

from shb.numeric.nqm import optimizers as nqm_optimizers

from shb.numeric.nqm import rule_schedules as nqm_rule_schedules

from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm import generated_rules as gen
from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.problem import make_problem

T = 25


def problem():
    return make_problem([1.0, 0.2, 0.05], [1.0, 5.0, 20.0], [3.0, -4.0, 1.0], [0.5, 0.0, 0.1])


def test_heavy_ball_fits_are_the_existing_ones_and_the_generic_path_agrees():
    hb, generic = nqm_optimizers.get("heavy-ball"), nqm_optimizers.Optimizer("generic", "heavy_ball", "")
    for fit in ("fixed", "optimized"):
        ours, theirs = getattr(hb, fit)(problem(), T, steps=20), getattr(nqm_schedules, fit)(problem(), T, steps=20)
        assert all(np.array_equal(ours[k], theirs[k]) for k in ("alpha", "mu", "loss"))
        again = getattr(generic, fit)(problem(), T, steps=20)
        for k in ("alpha", "mu", "loss"):
            np.testing.assert_allclose(again[k], theirs[k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", nqm_optimizers.names()[1:])
def test_every_rules_fits_respect_the_safeguard_and_improve_on_their_start(name):
    opt = nqm_optimizers.get(name)
    result = opt.optimized(problem(), T, steps=15)
    assert result["violation"] <= 1e-9
    assert result["loss"][-1] <= result["init"] * (1 + 1e-12)
    assert np.all(result["alpha"] >= 0) and np.all(result["mu"] < 1)
    fixed = opt.fixed(problem(), T, steps=15)
    assert fixed["history"][-1] <= fixed["history"][0] * (1 + 1e-12)
    assert np.ptp(fixed["alpha"]) == 0 and np.ptp(fixed["mu"]) == 0


def test_learning_rate_bound_with_heavy_balls_generated_one_step_loss_is_the_default():
    p = problem()
    stats = rollout(p, np.full(5, 0.3), np.full(5, 0.5))
    stats = tuple(stats[k][-1] for k in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v"))
    start = 0.5 * p.h * (p.mean0**2 + p.var0)
    raw = gen.heavy_ball_raw_moments(*stats)
    mine = nqm_schedules.learning_rate_bound(p, None, 0.5, start,
                                             one_step=lambda a: gen.heavy_ball_one_step_loss(a, 0.5, p.h, p.sigma2, *raw))
    np.testing.assert_allclose(mine, nqm_schedules.learning_rate_bound(p, stats, 0.5, start), rtol=1e-12)
    # Without momentum alpha = 0 keeps the state, so the capped schedule always satisfies the safeguard.
    nesterov, zeros = nqm_optimizers.get("nesterov"), np.zeros(T)
    capped = nqm_rule_schedules.project_safeguard(nesterov, p, np.full(T, 5.0), zeros)
    assert np.any(capped < 5.0) and nesterov.max_component_ratio(p, capped, zeros) <= 1 + 1e-9
