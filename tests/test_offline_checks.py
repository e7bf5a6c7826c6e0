"""The offline experiment's checks (experiments/figures/offline/checks.py) on hand-made states: each fails on the
numbers it guards (Figure 5's bias, agreement, decrease and rank checks, Figure 6's noise ordering, the spread over
the separate sequences, the hypergradient check)."""
import numpy as np
import pytest

from shb.experiments.figures.offline import checks, units
from shb.experiments.figures.offline.config import TINY, normalized
from shb.numeric.meta import smd


def state_with(betas, surface_betas, finals=None, end_on_surface=0.0, hypergrad_error=1e-9, surface_runs=None):
    """A finished state whose SMD ends at `betas` and whose surface minima sit at surface_betas, per horizon.
    `finals`: per horizon, the final train loss of every curve sequence (a number) or of each (a list);
    `surface_runs`: {"start": [...], "end": [...]} J_T per eval seed of the longest horizon's chains, which then
    start from the surface."""
    hs = [5, 15, 30][: len(betas)]
    config = normalized(dict(TINY, horizons=hs, surface_samples=4, surface_starts=[hs[-1]] if surface_runs else [],
                             meta_steps={str(h): 1 for h in hs}, endpoint_quantile=0.5, eval_seeds=3))
    state = units.fresh_state(config)
    points = [[0.05, b] for b in (0.01, 0.1, 1.0, 100.0)]
    state["surface"]["points"] = points
    if surface_runs:
        state["smd"][str(hs[-1])] = [smd.new_chain(0.05, 1.0), smd.new_chain(0.05, 2.0)]
    finals = finals or [1.0 / (i + 1) for i in range(len(hs))]
    for h, b_smd, b_surf, final in zip(hs, betas, surface_betas, finals):
        for j, chain in enumerate(state["smd"][str(h)]):
            chain["trajectory"].append([0.05, b_smd])
            chain["meta_losses"].append(0.5)
            runs = {"start": [1.0] * 3, "end": [0.5 + j] * 3}
            state["smd_eval"][str(h)][str(j)] = surface_runs if surface_runs and h == hs[-1] else runs
            state["smd_surface"][str(h)][str(j)] = end_on_surface
        state["surface"]["losses"][str(h)] = {str(i): abs(np.log(p[1] / b_surf)) for i, p in enumerate(points)}
        per_sequence = final if isinstance(final, (list, tuple)) else [final] * config["curve_seeds"]
        state["curves"][str(h)] = {str(s): [[1, 1.0, 0.5], [30, f, 0.2 + 0.01 * s]] for s, f in enumerate(per_sequence)}
    state["hypergrad_check"] = {"max_rel_error": hypergrad_error, "max_rel_error_reverse": 0.0, "horizon": 4,
                                "at": {"alpha0": 0.01, "beta": 1.0}, "forward": [0.1, -0.2],
                                "finite_difference": [0.1, -0.2], "reverse": [0.1, -0.2]}
    return state, config


def passed(state, config):
    horizons = checks.summarize(state, config)
    all_checks = checks.figure5_checks(state, config, horizons) + checks.figure6_checks(config, horizons)
    return {c["name"]: c["passed"] for c in all_checks}


@pytest.mark.parametrize("beta_short, beta_long, surface, bias_ok, agree_ok", [
    (40.0, 10.0, (100.0, 1.0), True, True),
    (20.0, 10.0, (100.0, 1.0), False, True),   # ratio 2 < 3
    (40.0, 10.0, (1.0, 100.0), True, False),   # surface says the opposite
])
def test_bias_and_agreement_checks(beta_short, beta_long, surface, bias_ok, agree_ok):
    result = passed(*state_with((beta_short, beta_long), surface))
    assert result["short_horizon_bias_beta_T5_vs_T15"] is bias_ok
    assert result["surface_agrees_with_smd_T5_vs_T15"] is agree_ok
    assert result["smd_decreased_meta_objective_T5_init0"] and not result["smd_decreased_meta_objective_T5_init1"]


@pytest.mark.parametrize("betas, ok", [((40.0, 10.0, 1.0), True), ((40.0, 1.0, 10.0), False), ((40.0, 10.0, 10.0), False)])
def test_beta_must_fall_at_every_horizon(betas, ok):
    # Catches a check that compares only the two shortest horizons (the second case passes that one).
    assert passed(*state_with(betas, (100.0, 1.0, 0.1)))["beta_falls_with_horizon"] is ok


SHORTEST, LONGEST = "shortest_horizon_highest_beyond_noise_at_30_steps", "longest_horizon_within_noise_of_lowest_at_30_steps"


@pytest.mark.parametrize("finals, shortest_ok", [
    (([0.50, 0.52, 0.48], [0.30, 0.31, 0.29], [0.10, 0.11, 0.09]), True),   # bands 0.48-0.52 above 0.29-0.31
    (([0.34, 0.40, 0.28], [0.30, 0.31, 0.29], [0.10, 0.11, 0.09]), False),  # mean 0.34 highest, band 0.28-0.40 not
    (([0.50, 0.52, 0.48], [0.55, 0.31, 0.29], [0.10, 0.11, 0.09]), False),  # the middle one's noise reaches it
    (([0.50, 0.52, 0.48], [0.30, 0.31, 0.29], [0.49, 0.50, 0.51]), False),  # the longest's band overlaps it
])
def test_shortest_horizon_must_end_highest_beyond_the_noise(finals, shortest_ok):
    """The ordering check fails when the shortest horizon's curve is not above every other beyond the noise.

    Catches a check on the means alone (the second and third cases have the shortest horizon's mean highest: the
    check of earlier versions passed them), one that compares only with the longest horizon (third case) or only
    with the next (fourth), and a noise taken from one sequence (every band would be a point: all would pass)."""
    result = passed(*state_with((40.0, 10.0, 1.0), (100.0, 1.0, 0.1), finals=finals))
    assert result[SHORTEST] is shortest_ok


@pytest.mark.parametrize("finals, ok", [
    ((0.5, 0.3, 0.1), True),                                             # the longest is the lowest
    ((0.5, [0.095, 0.10, 0.105], [0.10, 0.11, 0.12]), True),             # 0.11 +- 0.01 vs 0.10 +- 0.005: overlap
    ((0.5, [0.095, 0.10, 0.105], [0.12, 0.13, 0.14]), False),            # 0.13 - 0.01 > 0.10 + 0.005
    ((0.5, 0.05, 0.1), False),                                           # no spread: 0.1 is not within 0 of 0.05
])
def test_longest_horizon_must_be_within_the_noise_of_the_lowest(finals, ok):
    """Catches a check that asks the longest horizon to be strictly lowest (the second case fails it) and one that
    ignores the noise or takes it from the wrong horizon (the third passes with a noise of 0.03, the sum of the
    standard deviations of all three horizons)."""
    result = passed(*state_with((40.0, 10.0, 1.0), (100.0, 1.0, 0.1), finals=finals))
    assert result[LONGEST] is ok and result["training_curves_finite"]


def test_the_spread_is_over_the_separate_sequences():
    """final_train_loss is the mean over the curve_seeds sequences and its spread their sample standard deviation.

    Catches a spread computed from one sequence (0 here: each curve ends at one value), over the steps of a curve,
    with ddof = 0, or a summary that keeps only sequence 0's loss."""
    finals = ([0.5, 0.6, 0.7], [0.2, 0.3, 0.25])
    state, config = state_with((40.0, 10.0), (100.0, 1.0), finals=finals)
    horizons = checks.summarize(state, config)
    for h, values in zip(("5", "15"), finals):
        assert horizons[h]["final_train_losses"] == values
        assert horizons[h]["final_train_loss"] == pytest.approx(np.mean(values), rel=1e-12)
        assert horizons[h]["final_train_loss_spread"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
        assert horizons[h]["final_test_error_spread"] == pytest.approx(0.01, rel=1e-9)


@pytest.mark.parametrize("runs, ok", [
    ({"start": [0.50, 0.52, 0.48], "end": [0.49, 0.51, 0.47]}, True),   # lower
    ({"start": [0.50, 0.52, 0.48], "end": [0.52, 0.54, 0.50]}, True),   # higher, within the noise (0.04)
    ({"start": [0.50, 0.52, 0.48], "end": [0.55, 0.57, 0.53]}, False),  # 0.55 - 0.02 > 0.50 + 0.02
    ({"start": [0.50, 0.50, 0.50], "end": [0.501, 0.501, 0.501]}, False),  # no noise measured: any rise is worse
])
def test_a_surface_started_chain_must_not_end_worse_beyond_the_noise(runs, ok):
    """The surface-start check fails on an end point worse than its start beyond the evaluation noise, and passes
    one worse within it; chains from smd_inits keep the plain decrease check.

    Catches a check that still asks for a decrease (the second case), one that ignores the noise or compares the
    wrong way (the third), and one that takes the noise from somewhere else than the eval_seeds runs (the fourth:
    their spread is 0)."""
    state, config = state_with((40.0, 10.0), (100.0, 1.0), surface_runs=runs)
    result = passed(state, config)
    assert result["smd_not_worse_beyond_noise_T15_init0"] is ok and result["smd_not_worse_beyond_noise_T15_init1"] is ok
    assert "smd_decreased_meta_objective_T15_init0" not in result
    assert result["smd_decreased_meta_objective_T5_init0"] and not result["smd_decreased_meta_objective_T5_init1"]


@pytest.mark.parametrize("end, ok", [(0.0, True), (3.4, True), (3.5, False)])
def test_smd_end_point_must_rank_in_the_best_fraction_of_the_surface(end, ok):
    # Surface losses at the long horizon are |log(beta / 1)| for beta in (0.01, 0.1, 1, 100): 0, 2.3, 4.6, 4.6 sorted;
    # the best half lie at or below their median 3.45. An end point above it fails (a check comparing with the
    # best sample would fail 3.4, one comparing with the worst would pass 3.5).
    result = passed(*state_with((40.0, 10.0), (100.0, 1.0), end_on_surface=end))
    assert result["smd_end_in_best_50pct_of_surface_T15"] is ok


@pytest.mark.parametrize("error, ok", [(9e-5, True), (2e-4, False)])
def test_hypergradient_check_fails_above_its_tolerance(error, ok):
    # A forward-mode hypergradient 2e-4 away from finite differences fails (tolerance 1e-4): catches a check that
    # reads another field or compares the wrong way.
    assert passed(*state_with((40.0, 10.0), (100.0, 1.0), hypergrad_error=error))[
        "hypergrad_forward_vs_finite_differences"] is ok


@pytest.mark.parametrize("field", ["forward", "finite_difference", "reverse"])
def test_hypergradient_check_fails_when_a_gradient_is_not_finite(field):
    # Catches the NaN pass of issue 26: relative_errors maps NaN to an error of 0, so a run whose hypergradients
    # overflowed reported max_rel_error 0.0 and passed. The check compares the gradients themselves too.
    state, config = state_with((40.0, 10.0), (100.0, 1.0), hypergrad_error=0.0)
    state["hypergrad_check"][field] = [None, None]  # strict JSON's NaN
    horizons = checks.summarize(state, config)
    hc = next(c for c in checks.figure5_checks(state, config, horizons)
              if c["name"] == "hypergrad_forward_vs_finite_differences")
    assert not hc["passed"] and "not finite" in hc["detail"]
