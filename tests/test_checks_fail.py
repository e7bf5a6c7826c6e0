"""Every kind of check that can stamp an NQM figure "verified" fails on a deliberately wrong input of the
size the figures use (issue 18: the verifiers verified).

Check kinds (experiments/figures/fig1_trajectories.py, fig2_short_horizon.py, fig3_schedules.py):
- Monte-Carlo agreement (nqm_checks.montecarlo_agreement), at each figure's run count N and size;
- greedy minimality (nqm_checks.greedy_is_one_step_minimiser), on the paper preset's T = 250 greedy schedule;
- the safeguard (nqm_checks.safeguard_holds), on the paper preset, T = 250;
- generated code current (experiments.common.generated_code_check), on a copy of the tree.
Each wrong input is paired with its right counterpart, which must pass, so a check that always fails is
caught too. Each test names the mistake its wrong input stands for.

Power of the Monte-Carlo check (../shared/notes/monte-carlo-tolerances.md). With V scaled by c, each sample
variance's z-score is shifted by delta = (c - 1) sqrt((N - 1) / 2) (its standard error is V sqrt(2 / (N - 1))).
The check takes the largest |z| over 2 x (random entries) z-scores against the Bonferroni threshold at the
family-wise false-alarm rate 1e-3 (about 4.0 for Figure 1's 8 z-scores, 5.2-5.3 for the 4000-8000 of
Figures 2 and 3). The variance error it resolves therefore shrinks like 1 / sqrt(N): we test the error
with delta = 4.5 (c - 1 = 4.5 sqrt(2 / (N - 1)): 20% at N = 1000, 14% at N = 2000, 10% at N = 4000),
which puts the mean of every variance z-score within 1 of the threshold, so with hundreds to thousands of
them the largest lands far past it. Smaller errors can pass: at N = 1000 a 5% variance error is not
resolved by this per-entry test (measured: max |z| 4.5-5.0 against 5.2-5.3), see docs/mutation.md.
"""
import math
import re

import numpy as np
import pytest

from shb.experiments import common

from shb.experiments.figures import fig1_trajectories

from shb.experiments.figures import fig2_short_horizon

from shb.experiments.figures import fig3_schedules
from shb.numeric.nqm import checks as nqm_checks
from shb.numeric.nqm import dynamics as nqm_dynamics
from shb.numeric.nqm import fixed_decay as nqm_fixed_decay
from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm import schedules as nqm_schedules

SHIFT = 4.5  # the variance z-scores' mean shift delta under the wrong input (see the module docstring)


def variance_factor(runs):
    """The variance error c with delta = (c - 1) sqrt((N - 1) / 2) = SHIFT."""
    return 1.0 + SHIFT * math.sqrt(2.0 / (runs - 1))


def max_z(result):
    return float(re.search(r"max \|z\| = ([0-9.]+)", result["detail"]).group(1))


def threshold_of(result):
    return float(re.search(r"(?:<=|>) ([0-9.]+) \(Bonferroni", result["detail"]).group(1))


@pytest.fixture(scope="module")
def paper():
    return nqm_problem.preset("paper")


@pytest.fixture(scope="module")
def paper_greedy(paper):
    return nqm_schedules.greedy(paper, fig3_schedules.PAPER["T"])


def sampling_distribution(variance_factor, seed):
    """A stand-in for nqm_montecarlo.simulate that draws the sample moments of N runs directly from their exact
    sampling distribution when every run's theta_i(t) is N(E, c V): mean ~ N(E, c V / N), variance ~
    c V chi2(N - 1) / (N - 1), independently per coordinate. The same statistics as simulating N runs of a
    1000-coordinate problem, without the 10^8-10^9 draws that would cost in a test."""
    def simulate(problem, alpha, mu, runs, seed_, steps):
        exact = nqm_dynamics.rollout(problem, alpha, mu)
        steps = sorted(set(int(t) for t in steps))
        rng = np.random.default_rng(seed)
        out = {"steps": np.array(steps)}
        for name in ("theta", "v"):
            mean, var = exact["mean_" + name][steps], variance_factor * exact["var_" + name][steps]
            out["mean_" + name] = mean + np.sqrt(var / runs) * rng.standard_normal(mean.shape)
            out["var_" + name] = var * rng.chisquare(runs - 1, mean.shape) / (runs - 1)
        return out
    return simulate


# --- Monte-Carlo agreement --------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["quick", "paper"])
def test_montecarlo_check_fails_figure_1_with_too_much_noise(scale, monkeypatch):
    # Mistake: the simulation (or, equally, the exact dynamics' noise term) uses a gradient-noise variance c
    # times the model's. With var0 = 0 every variance is linear in sigma2, so the sampled V is exactly c V
    # and the means are untouched. Figure 1's own problem, schedules, steps (k, T), N = 4000 runs and seed,
    # simulated for real (2 coordinates, cheap).
    cfg = dict(fig1_trajectories.CONFIGS[scale])
    problem = nqm_problem.make_problem(cfg["h"], cfg["sigma2"], cfg["mean0"], 0.0)
    steps, runs = (cfg["k"], cfg["T"]), cfg["mc_runs"]
    c = variance_factor(runs)
    assert 1.05 < c < 1.15  # about 10% at N = 4000
    real = nqm_montecarlo.simulate
    for schedule in fig1_trajectories.schedules(cfg).values():
        right = nqm_checks.montecarlo_agreement(problem, schedule, runs, steps, cfg["seed"])
        assert right["passed"], right["detail"]
        noisier = problem._replace(sigma2=problem.sigma2 * c)
        monkeypatch.setattr(nqm_montecarlo, "simulate", lambda p, *a, **k: real(noisier, *a, **k))
        wrong = nqm_checks.montecarlo_agreement(problem, schedule, runs, steps, cfg["seed"])
        monkeypatch.setattr(nqm_montecarlo, "simulate", real)
        assert not wrong["passed"], wrong["detail"]
        assert max_z(wrong) > threshold_of(wrong) + 0.5


@pytest.mark.parametrize("figure, scale", [("fig2", "quick"), ("fig2", "paper"), ("fig3", "quick"), ("fig3", "paper")])
def test_montecarlo_check_fails_figures_2_and_3_with_a_scaled_variance(figure, scale, paper, paper_greedy, monkeypatch):
    # Mistake: Monte-Carlo variances c times the exact ones (a noise term off by a factor; a ddof slip at small
    # N), at the figure's N, steps and problem size (d = 1000). Figure 2 checks a 300 fixed + 50 decaying
    # step SGD schedule at steps (300, 350); Figure 3 the optimized schedule at steps (1, 10, 100, 250), here
    # the greedy schedule of the same length (the check's statistics do not depend on which schedule it is).
    if figure == "fig2":
        cfg = dict(fig2_short_horizon.CONFIGS[scale])
        k = sorted(cfg["horizons"])[len(cfg["horizons"]) // 2]
        alpha = nqm_fixed_decay.fixed_then_decay(1.0, k, cfg["tail"], cfg["decay_to"])
        schedule, steps = {"alpha": alpha, "mu": np.zeros_like(alpha)}, (k, alpha.size)
    else:
        cfg = dict(fig3_schedules.CONFIGS[scale])
        schedule, steps = paper_greedy, cfg["mc_steps"]
    runs, seed = cfg["mc_runs"], cfg["seed"]
    monkeypatch.setattr(nqm_montecarlo, "simulate", sampling_distribution(1.0, seed))
    right = nqm_checks.montecarlo_agreement(paper, schedule, runs, steps, seed)
    assert right["passed"], right["detail"]
    monkeypatch.setattr(nqm_montecarlo, "simulate", sampling_distribution(variance_factor(runs), seed))
    wrong = nqm_checks.montecarlo_agreement(paper, schedule, runs, steps, seed)
    assert not wrong["passed"], wrong["detail"]
    assert max_z(wrong) > threshold_of(wrong) + 1.0


def test_montecarlo_check_fails_a_deterministic_run_off_by_rounding_drift(monkeypatch):
    # Mistake: on the deterministic preset (Figure 3b, V = 0 everywhere, so no z-scores at all) a Monte-Carlo
    # mean that drifts by 1e-7 relative (e.g. float32 arithmetic somewhere in the simulation). Such entries
    # must match to rounding (1e-9 relative).
    problem = nqm_problem.preset("paper-deterministic")
    schedule = nqm_schedules.greedy(problem, 100)
    steps = (1, 10, 100)

    def drifted(factor, shift=0.0):
        def simulate(problem_, alpha, mu, runs, seed, steps_):
            exact = nqm_dynamics.rollout(problem_, alpha, mu)
            zero = np.zeros((len(steps_), problem_.h.size))
            return {"steps": np.array(steps_), "mean_theta": exact["mean_theta"][list(steps_)] * factor + shift,
                    "var_theta": zero, "mean_v": exact["mean_v"][list(steps_)] * factor, "var_v": zero}
        return simulate

    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1.0))
    right = nqm_checks.montecarlo_agreement(problem, schedule, 1000, steps, 0)
    assert right["passed"] and "3000 deterministic entries" in right["detail"], right["detail"]
    assert "0 z-scores" in right["detail"] and "max |z| = 0.00" in right["detail"]  # no z-score, none reported
    assert f"<= {nqm_checks.bonferroni_threshold(1):.2f} (Bonferroni" in right["detail"]  # the threshold of one test
    # Rounding is relative: a 5e-10 relative difference passes at any magnitude (entries up to |E| = 10 here).
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1 + 5e-10))
    rounded = nqm_checks.montecarlo_agreement(problem, schedule, 1000, steps, 0)
    assert rounded["passed"], rounded["detail"]
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1 + 1e-7))
    wrong = nqm_checks.montecarlo_agreement(problem, schedule, 1000, steps, 0)
    assert not wrong["passed"], wrong["detail"]
    # Near 0 "to rounding" is absolute, 1e-9 (the relative gap's scale is max(|E|, 1)): a mean off by 1.5e-9
    # fails there, though 1.5e-9 relative to a larger scale (say max(|E|, 2)) would pass.
    monkeypatch.setattr(nqm_montecarlo, "simulate", drifted(1.0, shift=1.5e-9))
    wrong = nqm_checks.montecarlo_agreement(problem, schedule, 1000, steps, 0)
    assert not wrong["passed"], wrong["detail"]


# --- greedy minimality ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def greedy_runs(paper, paper_greedy):
    deterministic = nqm_problem.preset("paper-deterministic")
    return {"paper": (paper, paper_greedy),
            "paper-deterministic": (deterministic, nqm_schedules.greedy(deterministic, fig3_schedules.PAPER["T"]))}


@pytest.mark.parametrize("preset, which, t, nudge", [
    ("paper", "alpha", 100, 1.0007), ("paper", "alpha", 100, 0.9993), ("paper", "mu", 100, 7e-4),
    ("paper", "mu", 100, -7e-4), ("paper", "alpha", 249, 0.998), ("paper-deterministic", "alpha", 100, 1.002)])
def test_greedy_check_fails_a_step_nudged_off_its_minimum(preset, which, t, nudge, greedy_runs):
    # Mistake: one greedy step off its minimiser of the one-step loss (Eq. 15), e.g. a rounded or stale
    # (alpha_t, mu_t), on Figure 3's greedy schedules (T = 250). The check perturbs alpha by x(1 +- 1e-3) and mu
    # by +- 1e-3 (and by 1e-1), so it resolves nudges larger than half of the smallest perturbation: here 7e-4,
    # up and down (a check perturbing one way only would miss half of them). On the deterministic preset the
    # loss at t = 100 is 2e-10, so improvements must be measured relative to it (an absolute 1e-10 misses them).
    # (At t = 0 mu is not identifiable, A(v) = 0, so a mu nudge there is rightly not a mistake.)
    problem, greedy = greedy_runs[preset]
    right = nqm_checks.greedy_is_one_step_minimiser(problem, greedy)
    assert right["passed"]
    assert right["detail"].startswith("250 steps x 8 perturbations of alpha (x(1 +- 1e-3, 1e-1)) and mu (+- 1e-3, 1e-1)")
    values = greedy[which].copy()
    values[t] = values[t] * nudge if which == "alpha" else values[t] + nudge
    wrong = nqm_checks.greedy_is_one_step_minimiser(problem, dict(greedy, **{which: values}))
    assert not wrong["passed"], wrong["detail"]


# --- safeguard --------------------------------------------------------------------------------------------


def test_safeguard_check_fails_a_schedule_over_the_bound_by_a_little(paper):
    # Mistake: a learning rate 1e-5 (relative) above the exact per-step safeguard bound (project_safeguard),
    # e.g. a bound computed with a looser margin, on the paper preset at T = 250. The capped schedule passes;
    # the nudged one lifts some coordinate's loss above its initial value by a few 1e-5 and must fail.
    T = fig3_schedules.PAPER["T"]
    alpha, mu = np.full(T, 3.0), np.full(T, 0.6)  # too aggressive: the bound binds
    capped = nqm_schedules.project_safeguard(paper, alpha, mu)
    assert nqm_checks.safeguard_holds(paper, {"alpha": capped, "mu": mu})["passed"]
    t = int(np.flatnonzero(capped < alpha)[0])
    nudged = capped.copy()
    nudged[t] *= 1 + 1e-5
    wrong = nqm_checks.safeguard_holds(paper, {"alpha": nudged, "mu": mu})
    assert not wrong["passed"], wrong["detail"]
    ratio = float(wrong["detail"].rsplit("= ", 1)[1])
    assert 1 < ratio < 1.001  # a little, not a divergence


# --- generated code current -------------------------------------------------------------------------------


@pytest.fixture
def cached_outputs(generated_outputs, monkeypatch):
    """codegen.outputs() generated once per session (it takes seconds); stale() still reads the files."""
    from shb.symbolic import codegen

    monkeypatch.setattr(codegen, "outputs", lambda: dict(generated_outputs))


@pytest.mark.slow
def test_generated_code_check_fails_on_a_stale_generated_module(tree_copy, cached_outputs):
    # Mistake: figures computed by a generated module that no longer matches symbolic/ (a hand edit, or a
    # derivation changed without `shb derive`): one coefficient of Theorem 1 changed in a copy of the tree.
    right = common.generated_code_check(str(tree_copy))
    assert right["passed"] and right["detail"] == "numeric/nqm/generated.py matches symbolic/", right
    path = tree_copy / "numeric" / "nqm" / "generated.py"
    text = path.read_text()
    assert text.count("sigma2*x5") == 1
    path.write_text(text.replace("sigma2*x5", "1.01*sigma2*x5"))
    wrong = common.generated_code_check(str(tree_copy))
    assert not wrong["passed"]
    assert wrong["detail"] == "stale: numeric/nqm/generated.py"
    assert wrong["name"] == right["name"] == "generated code is current (shb derive --check)"


def test_generated_code_check_fails_when_the_generated_module_is_missing(tree_copy, cached_outputs):
    # Mistake: a tree without the generated module (never derived, or deleted).
    (tree_copy / "numeric" / "nqm" / "generated.py").unlink()
    wrong = common.generated_code_check(str(tree_copy))
    assert not wrong["passed"] and "numeric/nqm/generated.py" in wrong["detail"]
