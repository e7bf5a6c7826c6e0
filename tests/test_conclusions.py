"""Conclusions from the numbers (issue 27, item 3): every interpretive sentence of a figure's report and sidecar is
printed only while the checks it rests on pass; flip one supporting check and the sentence is replaced by one saying
what failed.

experiments/conclusions.py is tested on its own, then, for every figure with interpretive text, its claims are
concluded against passing checks and against the same checks with one named supporting check failed: the claim
that rests on it must change (and name the check), the claims that do not must not. tests/test_registry.py checks
that every concluded sentence appears in the figure's report and names checks the figure made; the first test below
flips a check inside a real run of Figure 1 and reads the report.
"""
import numpy as np
import pytest

from shb.experiments import conclusions
from shb.experiments.conclusions import claim, conclude
from shb.experiments.verified import EVIDENCE, INVARIANT, check


def passing(claims, kinds=None):
    """A passing check of the right name for every check the claims name (kinds: {name: kind}, else evidence)."""
    names = dict.fromkeys(name for c in claims for name in c["supported_by"])
    return [check(name, True, "fine", kind=(kinds or {}).get(name, EVIDENCE), values=()) for name in names]


def flipped(claims, name, kinds=None):
    """(statements with every check passing, statements with the check `name` failed)."""
    checks = passing(claims, kinds)
    assert name in [c["name"] for c in checks], f"no claim rests on {name!r}"
    failed = [dict(c, passed=False, detail="off by 3%") if c["name"] == name else c for c in checks]
    return [c["statement"] for c in conclude(claims, checks)], [c["statement"] for c in conclude(claims, failed)]


def changes(claims, name, kinds=None):
    """The topics of the claims whose sentence changes when `name` fails; each changed one names the check."""
    before, after = flipped(claims, name, kinds)
    out = []
    for c, b, a in zip(claims, before, after):
        if a != b:
            assert a.startswith(f"Not shown: {c['topic']}.") and f'"{name}" failed: off by 3%' in a
            out.append(c["topic"])
    return out


# --- the mechanism ------------------------------------------------------------------------------------------------


def test_a_claim_is_printed_while_its_checks_pass_and_replaced_when_one_fails():
    claims = [claim("that x is small", "x = 0.1 is small.", "x below 1"),
              claim("that y is large", "y = 9 is large.", "y above 1", "x below 1")]
    before, after = flipped(claims, "y above 1")
    assert before == ["x = 0.1 is small.", "y = 9 is large."]
    assert after[0] == before[0] and after[1] == ('Not shown: that y is large. The check "y above 1" failed: '
                                                  "off by 3%.")
    assert changes(claims, "x below 1") == ["that x is small", "that y is large"]


def test_a_claim_resting_on_invariants_or_on_nothing_is_marked_not_verified():
    # Catches: a sentence about a property true by construction printed as if a check had shown it.
    claims = [claim("that the cap holds", "The cap holds.", "cap"), claim("why", "Because of the weather.")]
    concluded = conclude(claims, passing(claims, {"cap": INVARIANT}))
    assert [c["holds"] for c in concluded] == [False, False]
    assert concluded[0]["statement"].startswith(f"{conclusions.NOT_VERIFIED} (it holds by construction)")
    assert concluded[1]["statement"].startswith(f"{conclusions.NOT_VERIFIED} (it is a reading of the numbers")


def test_a_claim_naming_a_check_that_was_not_made_is_an_error():
    # Catches: a renamed check leaving a sentence printed with no support.
    with pytest.raises(ValueError, match="not made"):
        conclude([claim("t", "T.", "renamed check")], [check("old name", True, kind=EVIDENCE, values=())])


@pytest.mark.slow
def test_flipping_a_check_in_a_real_run_of_figure_1_changes_its_report(tmp_path, monkeypatch):
    # The whole path: a Monte-Carlo check that fails in the run replaces the figure's conclusion in REPORT text.
    from shb.experiments.registry import EXPERIMENTS
    from shb.numeric.nqm import montecarlo_power

    right = EXPERIMENTS["fig1"].run(str(tmp_path / "right"), "tiny")
    real = montecarlo_power.loss_iterate

    def failing(*args, **kwargs):
        c, errors = real(*args, **kwargs)
        return dict(c, passed=False, detail="simulated failure"), errors

    monkeypatch.setattr(montecarlo_power, "loss_iterate", failing)
    wrong = EXPERIMENTS["fig1"].run(str(tmp_path / "wrong"), "tiny")
    assert "The short-horizon trap: judged at step k" in right.report
    assert "The short-horizon trap: judged at step k" not in wrong.report
    assert "Not shown: the short-horizon trap of Figure 1." in wrong.report and "simulated failure" in wrong.report


# --- every figure with interpretive text ---------------------------------------------------------------------------


def test_figure_1():
    from shb.experiments.figures import fig1_trajectories as f

    cfg = f.TINY
    small, decay = np.linspace(2, 1, cfg["T"] + 1), np.linspace(3, 0.5, cfg["T"] + 1)
    claims = f.claims(small, decay, cfg)
    assert changes(claims, f.ENDS_LOWER) == ["the short-horizon trap of Figure 1"]
    assert changes(claims, f.MONTE_CARLO.format("decay")) == ["the short-horizon trap of Figure 1"]


def test_figure_2():
    from shb.experiments.figures import fig2_short_horizon as f

    claims = f.claims({10: (0.9, 1.9), 30: (0.4, 1.9)}, 2.1)
    assert changes(claims, f.BELOW) == ["that short horizons prefer smaller learning rates"]
    assert changes(claims, f.INSIDE) == ["that short horizons prefer smaller learning rates"]


def schedules(final):
    return {name: {"alpha": np.ones(3), "mu": np.zeros(3), "loss": np.array([10.0, 5.0, value])}
            for name, value in final.items()}


def test_figure_3a_and_3b():
    from shb.experiments.figures import fig3_schedules as f

    noisy = f.claims("paper", schedules({"greedy": 63.9, "fixed": 42.2, "optimized": 3.9}), f.QUICK)
    kinds = {f.SAFEGUARD: INVARIANT}
    assert changes(noisy, f.FIXED_BELOW, kinds) == [
        "that greedy is far from the best schedule on the noisy problem (short-horizon bias)"]
    assert changes(noisy, f.SAFEGUARD, kinds) == ["that the optimized schedule keeps the paper's safeguard"]
    deterministic = f.claims("paper-deterministic", schedules({"greedy": 1e-28, "fixed": 1.0, "optimized": 1e-28}),
                             f.QUICK)
    assert changes(deterministic, f.CONJUGATE) == [
        "that greedy is conjugate gradient and optimal on the deterministic problem"]


def test_lookahead():
    from shb.experiments.figures import lookahead as f

    cfg = f.TINY
    runs = {(K, d): {"alpha": np.full(3, 0.1 * K), "mu": np.zeros(3), "loss": np.array([9.0, 5.0, K + d])}
            for K in cfg["horizons"] for d in (False, True)}
    best = {"alpha": np.full(3, 0.5), "mu": np.zeros(3), "loss": np.array([9.0, 5.0, 2.0])}
    claims = f.claims(runs, best, cfg)
    assert changes(claims, f.HIGH) == ["that deterministic lookahead picks learning rates too large (Figure 8)",
                                       "that both failure modes belong to the meta-objective itself"]
    assert changes(claims, f.SECOND) == ["that every plan is a minimum of its K-step loss",
                                         "that both failure modes belong to the meta-objective itself"]
    assert changes(claims, f.MONTE_CARLO.format(6, "stochastic")) == [
        "that stochastic lookahead picks learning rates too small (Figure 7)"]


def test_atlas():
    from shb.experiments.figures import atlas as f

    cfg = f.TINY
    shape = (len(cfg["kappas"]), len(cfg["noises"]))
    regret = 1 + np.add.outer(np.arange(shape[0]), np.arange(shape[1])) / 10
    rows = {"greedy": {"regret": regret, "rate_ratio": np.full(shape, 0.5)}}
    claims = f.claims(cfg, rows, [])
    assert changes(claims, f.UNBEATEN) == ["that greedy is the best schedule on the axes (sigma2 = 0, kappa = 1)"]
    assert changes(claims, f.EXCEEDS_ONE) == ["that greedy falls short wherever noise and ill-conditioning meet"]
    concluded = conclude(claims, passing(claims))
    readings = [c for c in concluded if not c["supported_by"]]  # "Our reading" is marked, not asserted
    assert readings and all(c["statement"].startswith(conclusions.NOT_VERIFIED) for c in readings)


def test_optimizers():
    from shb.experiments.figures import fig_optimizers as f

    finals = {"heavy ball": {"greedy": 64.0, "fixed": 42.0, "optimized": 5.0, "regret": 12.8, "greedy_ratio": 1.0},
              "B=1": {"greedy": 64.0, "fixed": 42.0, "optimized": 5.0, "regret": 12.8, "greedy_ratio": 1.0}}
    monte_carlo = check(f.MONTE_CARLO.format("heavy ball"), True, kind=EVIDENCE, values=())
    same = check(f.SAME_AS_HEAVY_BALL.format("greedy"), True, kind=EVIDENCE, values=())
    claims = f.claims(finals, f.TINY, [monte_carlo, same])
    kinds = {f.NOT_ABOVE_GREEDY: INVARIANT, f.SAFEGUARD: INVARIANT}
    assert changes(claims, f.MONTE_CARLO.format("heavy ball"), kinds) == ["the greedy regrets of the rules"]
    assert changes(claims, f.SAME_AS_HEAVY_BALL.format("greedy"), kinds) == ["that minibatch B = 1 is heavy ball"]


def test_offline_figures_5_and_6():
    from shb.experiments.figures.offline.config import TINY
    from shb.experiments.figures.offline.report import claims5, claims6

    horizons = {str(h): {"beta": b, "final_train_loss": loss, "final_train_losses": [loss, loss + 0.1, loss - 0.1]}
                for h, b, loss in ((5, 2.0, 1.4), (15, 0.1, 1.2))}
    made = [check(name, True, kind=EVIDENCE, values=()) for name in (
        "hypergrad_forward_vs_finite_differences", "smd_decreased_meta_objective_T5_init0",
        "smd_not_worse_beyond_noise_T15_init0", "short_horizon_bias_beta_T5_vs_T15", "beta_falls_with_horizon",
        "surface_agrees_with_smd_T5_vs_T15")]
    claims = claims5(TINY, horizons, made)
    assert changes(claims, "surface_agrees_with_smd_T5_vs_T15") == [
        "that shorter horizons choose faster decay (the short-horizon bias of Section 3.2)"]
    for name in ("smd_decreased_meta_objective_T5_init0", "smd_not_worse_beyond_noise_T15_init0"):
        assert changes(claims, name) == ["that SMD lowered every horizon's meta-objective with exact hypergradients"]
    steps = TINY["curve_steps"]
    ordering = (f"shortest_horizon_highest_beyond_noise_at_{steps}_steps",
                f"longest_horizon_within_noise_of_lowest_at_{steps}_steps")
    for name in ordering:
        assert changes(claims6(TINY, horizons), name) == [
            f"that the shortest horizon's schedule trains worst and the longest's about best after {steps} steps"]


def test_online_figures_7_and_8():
    from shb.experiments.figures.online.config import TINY
    from shb.experiments.figures.online.report import claims7, claims8

    run = dict(initial_lr=0.1, initial_mu=0.9, lr_end_of_adaptation=0.01, alpha_eff_end_of_adaptation=0.05,
               first_train_loss=2.3, final_train_loss=0.3, max_loss_over_best_so_far=1.1, diverged_at=None,
               nonfinite_meta_grads=0)
    summaries = {"stochastic": run, "deterministic": dict(run, lr_end_of_adaptation=1.5), "fixed": run}
    claims = claims7(summaries, TINY, "mlp")
    assert changes(claims, "stochastic_lr_falls_3x") == [
        "that stochastic lookahead drives the learning rate down (Figure 7)"]
    assert changes(claims, "mlp_trains_fixed_baseline") == ["that the MLP trains with the fixed baseline"]
    assert changes(claims8(summaries, TINY, "mlp"), "stochastic_lr_3x_below_deterministic") == [
        "that deterministic lookahead picks far larger learning rates than stochastic (Figure 8)"]


def test_corrections():
    from shb.experiments.figures import corrections as f
    from shb.numeric.nqm import corrections

    regrets = {"greedy": 4.0, "optimized": 1.0, "trace lambda=0.99": 2.0, "PES (expected)": 3.0, "4 pieces": 1.1}
    grid = {"greedy": np.array([[2.0]]), "trace lambda=0.99": np.array([[1.1]])}
    claims = f.claims(regrets, corrections.removed(regrets), grid, {"atlas": {"kappas": (10.0,), "noises": (1.0,)}})
    assert changes(claims, f.MONTE_CARLO) == ["which online remedy removes most of the bias on the paper preset",
                                              "what sharing hyperparameters over the run costs"]
    assert changes(claims, f.GRADIENTS) == ["which online remedy removes most of the bias on the paper preset"]
    atlas = conclude(claims, passing(claims))[-1]  # computed by the same engine: marked, not asserted
    assert atlas["statement"].startswith(conclusions.NOT_VERIFIED)


def test_online_trace():
    from shb.experiments.figures import online_trace as f
    from shb.numeric.meta.online_smd import RunSpec
    from shb.numeric.meta.online_state import RunState

    config = {"adapt_steps": 20}
    runs = [RunSpec("stochastic", "stochastic", 0.1, 0.9, 1), RunSpec("trace_lambda0.9", "trace", 0.1, 0.9, 2, 0.9,
                                                                       0.02), RunSpec("fixed", "fixed", 0.1, 0.9, 3)]
    states, summaries = {}, {}
    for k, r in enumerate(runs):
        state = RunState.start(r, np.zeros(3))
        state.log.update(step=[0, 10, 19], lr=[0.1, 0.05 / (k + 1), 0.02 / (k + 1)])
        states[r.name] = state
        summaries[r.name] = {"final_train_loss": 0.3 + 0.01 * k, "final_test_error": 0.1, "diverged_at": None}
    _, claims = f.comparison(states, summaries, runs, config, (0.05, 1.0, 5000.0, 1000))
    lowest = "which run ends with the lowest train loss"
    assert "is stochastic's (0.3)" in claims[0]["text"]
    assert changes(claims, f.WINDOW_CHECK.format("trace_lambda0.9")) == [
        lowest, "how trace_lambda0.9's learning rate compares with the offline long-horizon schedule's"]
    assert changes(claims, f.AUDIT.format("stochastic")) == [
        lowest, "how stochastic's learning rate compares with the offline long-horizon schedule's"]
