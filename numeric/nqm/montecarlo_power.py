"""Monte-Carlo agreement with its power stated: the exact moments (Theorem 1, or an update rule's) against N simulated
runs, by z-scores whose null distribution is known, and the smallest error the test detects at its N.

On the NQM every iterate is Gaussian, and the coordinates are independent (../shared/notes/monte-carlo-tolerances.md):

- per entry (coordinate i, step t, state variable x): z_mean = (m - E) / sqrt(V / N) ~ N(0, 1) and
  z_var = (s^2 - V) / (V sqrt(2 / (N - 1))), mean 0 and variance 1 ((N - 1) s^2 / V is chi-square, N - 1 dof);
- pooled over the coordinates at one step (independent): Z_mean = sum_i w_i z_mean_i / |w| with w_i = E_i / sqrt(V_i),
  and Z_var = sum_i z_var_i / sqrt(m), both N(0, 1) under the null (the second to the normal approximation of a
  chi-square with m (N - 1) dof). A per-entry test resolves an error in one entry; a pooled one an error shared by
  the m entries of a step, sqrt(m) times finer.

All z-scores, per entry and pooled, form one family: |z| above the Bonferroni threshold z* at the family-wise
false-alarm rate (default 1e-3, numeric/nqm/checks.py) fails the check. Entries with V = 0 exactly (deterministic)
must match to rounding instead: the mean to 1e-9 relative (absolute below 1), the sample variance to 1e-18 of the
squared scale.

Power. If every computed mean is off by a relative error e (E = (1 + e) m with m the true mean), Z_mean at a step is
N(-e / (1 + e) sqrt(N) |w|, 1); if every computed variance is off by e (V = (1 + e) v), Z_var is
N(-e / (1 + e) sqrt((N - 1) m / 2), 1 / (1 + e)^2). The check detects the error with probability at least that of
its most sensitive pooled z-score crossing z*, P = Phi((|shift| - z*) / sd) + Phi((-|shift| - z*) / sd);
`smallest_error` solves P = POWER (0.99) for e > 0 and e < 0 and reports the larger |e|. The same for one entry
alone (m = 1): the error in a single variance the check resolves.
"""
import math
from statistics import NormalDist

import numpy as np

from shb.ground.checks import check, nonfinite
from shb.numeric.nqm.checks import bonferroni_threshold, montecarlo_zscores
from shb.numeric.nqm.rules import spec

POWER = 0.99
EXACT_MEAN = 1e-9       # relative (absolute below 1) gap allowed between a deterministic entry and its sample mean
EXACT_VARIANCE = 1e-18  # sample variance allowed in a deterministic entry, times max(E^2, 1)
NAME = "exact moments agree with Monte-Carlo"
_PHI = NormalDist().cdf


def detection_probability(shift, sd, threshold):
    """P(|Y| > threshold) for Y ~ N(shift, sd^2)."""
    return _PHI((abs(shift) - threshold) / sd) + _PHI((-abs(shift) - threshold) / sd)


def smallest_error(probability, power=POWER):
    """The smallest |e| (e > 0 and e < 0 both, the larger reported) with probability(e) >= power; inf if none
    below 100% (e > 0) or 99.9% (e < 0): the error a test detects. probability(e) grows with |e|."""
    worst = 0.0
    for sign, top in ((1.0, 1.0), (-1.0, 0.999)):
        if probability(sign * top) < power:
            return math.inf
        lo, hi = 0.0, top
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if probability(sign * mid) >= power else (mid, hi)
        worst = max(worst, hi)
    return worst


def mean_error(amplitude, threshold):
    """Smallest relative error in every mean detected with probability POWER by a pooled Z_mean of amplitude
    sqrt(N) |w|."""
    return smallest_error(lambda e: detection_probability(e / (1 + e) * amplitude, 1.0, threshold))


def variance_error(runs, m, threshold):
    """Smallest relative error in every variance of m entries detected with probability POWER by their pooled
    Z_var (m = 1: one entry's own z-score)."""
    scale = math.sqrt((runs - 1) * m / 2)
    return smallest_error(lambda e: detection_probability(e / (1 + e) * scale, 1 / (1 + e), threshold))


def agreement(exact, sample, runs, family_alarm=1e-3):
    """The test on {variable: (mean, var)} arrays of shape (steps, d), exact and sampled: {"passed", "detail",
    "values", "deterministic", "mean_error", "variance_error", "entry_variance_error"} (the errors are relative,
    detected with probability POWER; inf when no z-score resolves any; "deterministic": every entry has V = 0 and
    is compared to rounding instead)."""
    per_entry, pooled_mean, pooled_var, amplitudes, sizes, gaps, spreads = [], [], [], [0.0], [0], [0.0], [0.0]
    for name, (mean, var) in exact.items():
        m_hat, s2 = sample[name]
        random = var > 0
        for t in range(mean.shape[0]):
            r = random[t]
            if r.any():
                z_mean, z_var = montecarlo_zscores(mean[t, r], var[t, r], m_hat[t, r], s2[t, r], runs)
                per_entry += [z_mean, z_var]
                w = mean[t, r] / np.sqrt(var[t, r])
                norm = float(np.sqrt(np.sum(w * w)))
                if norm > 0:
                    pooled_mean.append(float(np.sum(w * z_mean)) / norm)
                    amplitudes.append(math.sqrt(runs) * norm)
                pooled_var.append(float(np.sum(z_var)) / math.sqrt(r.sum()))
                sizes.append(int(r.sum()))
            scale = np.maximum(np.abs(mean[t, ~r]), 1.0)
            gaps.append(float(np.max(np.abs(m_hat[t, ~r] - mean[t, ~r]) / scale, initial=0.0)))
            spreads.append(float(np.max(s2[t, ~r] / scale**2, initial=0.0)))
    entries = int(sum(z.size for z in per_entry))
    comparisons = entries + len(pooled_mean) + len(pooled_var)
    threshold = bonferroni_threshold(max(comparisons, 1), family_alarm)
    worst_entry = float(max((np.max(np.abs(z)) for z in per_entry), default=0.0))
    worst_pooled = float(max(map(abs, pooled_mean + pooled_var), default=0.0))
    gap, spread = max(gaps), max(spreads)
    deterministic = int(sum((v == 0).sum() for _, v in exact.values()))
    passed = (worst_entry <= threshold and worst_pooled <= threshold and gap <= EXACT_MEAN and spread <= EXACT_VARIANCE)
    errors = {"mean_error": mean_error(max(amplitudes), threshold) if max(amplitudes) > 0 else math.inf,
              "variance_error": variance_error(runs, max(sizes), threshold) if max(sizes) else math.inf,
              "entry_variance_error": variance_error(runs, 1, threshold) if max(sizes) else math.inf}
    holds = lambda value: "<=" if value <= threshold else ">"  # noqa: E731
    detail = (f"{entries} z-scores of the entries' E and V, max |z| = {worst_entry:.2f} {holds(worst_entry)} "
              f"{threshold:.2f}, and {len(pooled_mean) + len(pooled_var)} pooled over the coordinates of a step, max |z| "
              f"= {worst_pooled:.2f} {holds(worst_pooled)} {threshold:.2f} (Bonferroni over all {comparisons}, "
              f"family-wise false alarm {family_alarm:g}); {deterministic} deterministic entries, max relative gap "
              f"{gap:.1e} (must be <= {EXACT_MEAN:g}), max sample variance {spread:.1e} of the squared scale (must be "
              f"<= {EXACT_VARIANCE:g}). " + power_text(runs, errors, deterministic))
    values = {"z": per_entry, "pooled": pooled_mean + pooled_var, "gap": gap, "spread": spread,
              **{f"{kind} {name}": array for name in exact for kind, array in
                 (("exact mean", exact[name][0]), ("exact variance", exact[name][1]),
                  ("sample mean", sample[name][0]), ("sample variance", sample[name][1]))}}
    return {"passed": passed and not nonfinite(values), "detail": detail, "values": values,
            "deterministic": deterministic > 0 and not entries, **errors}


def _percent(e):
    return "none (cannot resolve it)" if not math.isfinite(e) else f"{100 * e:.2g}%"


def power_text(runs, errors, deterministic):
    """The detectable errors, as the check's detail states them."""
    if not math.isfinite(errors["variance_error"]):
        return (f"Power: every entry is deterministic, so any mean off by more than {EXACT_MEAN:g} (relative) and any "
                "nonzero variance is detected with certainty." if deterministic else "Power: nothing compared.")
    return (f"Power at N = {runs}: detects with probability >= {POWER:g} a relative error of "
            f"{_percent(errors['mean_error'])} in every mean and {_percent(errors['variance_error'])} in every "
            f"variance (pooled z); one entry's variance alone: {_percent(errors['entry_variance_error'])}.")


def loss_iterate(opt, problem, schedule, runs, steps, seed, family_alarm=1e-3):
    """The check of an update rule's loss iterate x (theta for heavy ball; numeric/nqm/optimizers.py): E[x_i(t)],
    V[x_i(t)] of its rollout (Theorem 1 for heavy ball) against `runs` runs of its own stochastic update at `steps`.
    Returns (check, errors)."""
    return _rule_check(opt, problem, schedule, runs, steps, seed, family_alarm, loss_only=True)


def rule(opt, problem, schedule, runs, steps, seed, family_alarm=1e-3):
    """The check for an update rule of numeric/nqm/optimizers.py: the means and variances of every state variable
    of its rollout against `runs` runs of its own update (UpdateRule.simulate). Returns (check, errors)."""
    return _rule_check(opt, problem, schedule, runs, steps, seed, family_alarm, loss_only=False)


def _rule_check(opt, problem, schedule, runs, steps, seed, family_alarm, loss_only):
    alpha, mu = np.asarray(schedule["alpha"]), np.asarray(schedule["mu"])
    exact = opt.rollout(problem, alpha, mu)
    sample = opt.simulate(problem, alpha, mu, runs, seed, steps)
    at = sample["steps"]
    state = spec(opt.rule)["state"]
    names = [state[spec(opt.rule)["loss_index"]]] if loss_only else list(state)
    result = agreement({x: (exact["mean_" + x][at], exact["var_" + x][at]) for x in names},
                       {x: (sample["mean_" + x], sample["var_" + x]) for x in names}, runs, family_alarm)
    return _check(result, runs, seed, at), result


def _check(result, runs, seed, steps):
    """The check, with its power as numbers too ("power": runs and the three errors) for the report's table."""
    c = check(NAME, result["passed"], f"{runs} runs (seed {seed}) at steps {list(map(int, steps))}: "
              + result["detail"], values=result["values"])
    c["power"] = {"runs": int(runs), "deterministic": result["deterministic"],
                  **{key: result[key] for key in ("mean_error", "variance_error", "entry_variance_error")}}
    return c
