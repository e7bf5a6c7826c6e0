"""Numerical certificates for the NQM figures; each returns a check dict {"name", "passed", "detail"}. Each takes
the update rule `opt` (an UpdateRule, numeric/nqm/optimizers.py) whose schedule it certifies.

- greedy_is_one_step_minimiser: no perturbation of a greedy (alpha_t, mu_t) lowers the exact
  one-step loss (Eq. 15 for the rule) at any step;
- safeguard_holds: no coordinate's loss component rises above its initial value (Section 2.3);
- montecarlo_agreement: the exact moments (the rule's Theorem 1) of its loss iterate against a Monte-Carlo run of
  its stochastic update, by z-scores whose null distribution is known because the iterates are Gaussian
  (../shared/notes/monte-carlo-tolerances.md).
"""
import math

import numpy as np

from shb.ground.checks import check as _check
from shb.numeric.nqm.rules import generated, spec

# Relative and absolute perturbations of (alpha, mu) tried around each greedy step.
PERTURBATIONS = [(1 + s * e, s * e) for e in (1e-3, 1e-1) for s in (-1, 1)]


def greedy_is_one_step_minimiser(opt, problem, schedule):
    """At every step, L_{t+1}(alpha_t, mu_t) <= L_{t+1} at each perturbed (alpha, mu) (Theorem 2). For a rule whose
    greedy step is the greedy alpha at a given mu (Nesterov), mu is given, not chosen: only alpha is perturbed."""
    alpha, mu = np.asarray(schedule["alpha"]), np.asarray(schedule["mu"])
    stats = opt.rollout(problem, alpha, mu)
    raw = generated(opt.rule, "raw_moments")(*(stats[k][:-1] for k in opt.statistics()))
    extras = opt.extras(problem, alpha.size)
    extra = [np.asarray(extras[name], dtype=float)[:, None] if name in spec(opt.rule)["per_step"] else extras[name]
             for name in spec(opt.rule)["extras"]]
    one_step_loss = generated(opt.rule, "one_step_loss")

    def total(a, m):
        return np.sum(one_step_loss(a[:, None], m[:, None], problem.h, problem.sigma2, *extra, *raw), axis=-1)

    joint = spec(opt.rule)["greedy"] == "joint"
    best = total(alpha, mu)
    gains = [(best - total(a, m)) / np.maximum(best, 1e-300)  # > 0 would mean the perturbation is better
             for scale_alpha, shift_mu in PERTURBATIONS
             for a, m in ((alpha * scale_alpha, mu), (alpha, mu + shift_mu))[:2 if joint else 1]]
    worst_gain = max(0.0, float(np.max(gains)))  # a NaN among the gains fails the check through `values`
    perturbed = ("perturbations of alpha (x(1 +- 1e-3, 1e-1)) and mu (+- 1e-3, 1e-1)" if joint else
                 "perturbations of alpha (x(1 +- 1e-3, 1e-1); mu is given)")
    return _check("each greedy step minimises the one-step loss", worst_gain <= 1e-10,
                  f"{len(alpha)} steps x {(2 if joint else 1) * len(PERTURBATIONS)} {perturbed}; largest relative "
                  f"improvement found {worst_gain:.1e} (must be <= 1e-10)",
                  values={"one-step losses": best, "gains": gains})


def safeguard_holds(opt, problem, schedule):
    """Every coordinate's loss component stays at or below its value at t = 0 (the paper's bound)."""
    ratio = float(opt.max_component_ratio(problem, schedule["alpha"], schedule["mu"]))
    # max_component_ratio's running maximum (np.fmax) passes over NaN, so the schedule and its losses are compared
    # too: a NaN among them fails the check.
    with np.errstate(over="ignore", invalid="ignore"):
        losses = opt.rollout(problem, schedule["alpha"], schedule["mu"])["loss"]
    return _check("no coordinate's loss rises above its initial value (safeguard)", ratio <= 1 + 1e-9,
                  f"max over t, i of L_i(t) / L_i(0) = {ratio:.6f}",
                  values={"max ratio": ratio, "alpha": schedule["alpha"], "mu": schedule["mu"], "L(t)": losses})


def bonferroni_threshold(comparisons, family_alarm=1e-3):
    """|z| threshold with a family-wise false-alarm rate `family_alarm` over two-sided normal tests."""
    per_test = family_alarm / comparisons
    lo, hi = 0.0, 40.0  # solve erfc(z / sqrt 2) = per_test by bisection
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erfc(mid / math.sqrt(2)) > per_test else (lo, mid)
    return hi


def montecarlo_zscores(exact_mean, exact_var, sample_mean, sample_var, runs):
    """z of sample means, (m - E) / sqrt(V / N), and of sample variances, (s2 - V) / (V sqrt(2 / (N - 1)))."""
    z_mean = (sample_mean - exact_mean) / np.sqrt(exact_var / runs)
    z_var = (sample_var - exact_var) / (exact_var * math.sqrt(2.0 / (runs - 1)))
    return z_mean, z_var


def montecarlo_agreement(opt, problem, schedule, runs, steps, seed, family_alarm=1e-3):
    """Exact E[x_i(t)], V[x_i(t)] of the rule's loss iterate x (theta for heavy ball) vs `runs` simulated runs at
    `steps`, all coordinates.

    Where V = 0 exactly (deterministic coordinates) the sample must match to rounding instead.
    """
    alpha, mu = np.asarray(schedule["alpha"]), np.asarray(schedule["mu"])
    exact = opt.rollout(problem, alpha, mu)
    sample = opt.simulate(problem, alpha, mu, runs, seed, steps)
    steps, x = sample["steps"], spec(opt.rule)["state"][spec(opt.rule)["loss_index"]]
    mean, var = exact[f"mean_{x}"][steps], exact[f"var_{x}"][steps]
    random = var > 0
    comparisons = 2 * int(random.sum())
    threshold = bonferroni_threshold(max(comparisons, 1), family_alarm)
    z_mean, z_var = montecarlo_zscores(mean[random], var[random], sample[f"mean_{x}"][random],
                                       sample[f"var_{x}"][random], runs)
    worst = float(max(np.max(np.abs(z_mean), initial=0.0), np.max(np.abs(z_var), initial=0.0)))
    scale = np.maximum(np.abs(mean[~random]), 1.0)
    exact_gap = float(np.max(np.abs(sample[f"mean_{x}"][~random] - mean[~random]) / scale, initial=0.0))
    passed = worst <= threshold and exact_gap <= 1e-9
    return _check("exact moments agree with Monte-Carlo", passed,
                  f"{runs} runs (seed {seed}) at steps {list(map(int, steps))}: {comparisons} z-scores of E[{x}_i], "
                  f"V[{x}_i], max |z| = {worst:.2f} {'<=' if worst <= threshold else '>'} {threshold:.2f} (Bonferroni, family-wise false alarm "
                  f"{family_alarm:g}); {int((~random).sum())} deterministic entries, max relative gap {exact_gap:.1e}",
                  values={"exact mean": mean, "exact variance": var, "sample mean": sample[f"mean_{x}"],
                          "sample variance": sample[f"var_{x}"]})
