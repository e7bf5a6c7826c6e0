"""Certificates for K-step lookahead schedules (numeric/nqm/lookahead.py), independent of the planner: each
recomputes the moments every plan saw by its own rollout of the schedule (Theorem 1) and evaluates the K-step
loss (numeric/nqm/horizon.py) around each plan.

- perturbation_gain: no perturbation of a plan (alpha x (1 +- e), mu +- e, both; e in PERTURBATIONS) lowers its
  K-step loss: a local minimum at those scales (e = 0.1 also probes the neighbouring basins), over the planner's
  domain |mu| <= STABLE_MU (the paper's meta-optimizers keep mu < 1; over a few steps mu > 1 can lower L_K);
- global_gap: Newton from the lowest local minima of a grid finer than the planner's and disjoint from it finds
  nothing lower: no missed basin at that resolution.

tests/test_nqm_lookahead.py feeds both a plan moved off its minimum and a plan replaced by a worse minimum.
"""
import numpy as np

from shb.numeric.nqm import dynamics as nqm_dynamics

from shb.numeric.nqm import horizon as nqm_horizon
from shb.numeric.nqm.generated import raw_moments
from shb.numeric.nqm.lookahead import STABLE_MU, finite, grid_minima, grid_values, moves, polish


def planned_moments(problem, schedule, deterministic=False):
    """(raw moments before each step (A(theta), A(v), E[theta v]) of shape (T, d), planning sigma2): what each
    plan of `schedule` saw, recomputed by an independent rollout (Theorem 1) for certification."""
    stats = nqm_dynamics.rollout(problem, schedule["alpha"], schedule["mu"])
    raw = raw_moments(*(stats[k][:-1] for k in nqm_dynamics.STATS))
    return raw, (np.zeros_like(problem.sigma2) if deterministic else problem.sigma2)


# Relative perturbations of alpha (x (1 +- e)) and absolute ones of mu (+- e) tried around each plan.
PERTURBATIONS = (1e-4, 1e-2, 1e-1)


def perturbation_gain(problem, schedule, K, deterministic=False):
    """Largest relative decrease of L_K found by perturbing each step's (alpha_t, mu_t) (alpha x (1 +- e),
    mu +- e, and both together, e in PERTURBATIONS, within the planner's domain |mu| <= STABLE_MU): <= rounding
    iff every pair is a local minimum at those scales. Returns (gain per step (T,), number of perturbations per step)."""
    raw, planning = planned_moments(problem, schedule, deterministic)
    x = np.stack([np.asarray(schedule["alpha"], dtype=float), np.asarray(schedule["mu"], dtype=float)])
    around = moves(x, PERTURBATIONS)
    base = nqm_horizon.horizon_loss(x[0], x[1], problem.h, planning, raw, K)
    with np.errstate(over="ignore", invalid="ignore"):
        moved = finite(nqm_horizon.horizon_loss(around[0], around[1], problem.h, planning, raw, K))
    moved = np.where(np.abs(around[1]) <= STABLE_MU, moved, np.inf)  # the plans' domain: |mu| <= STABLE_MU
    gain = (base - moved.min(axis=0)) / np.maximum(np.abs(base), 1e-300)
    return gain, around.shape[1]


# A finer grid than the planner's, for certification: alpha = f * 2 (1 + mu) / max h as in GRID_F, GRID_MU.
CHECK_F = np.concatenate([np.geomspace(1.3e-4, 0.45, 20), 1.0 - np.geomspace(0.45, 0.004, 30)[1:]])
CHECK_MU = np.concatenate([np.linspace(-0.6, 0.45, 8), np.linspace(0.52, 0.99, 17)])
CHECK_STARTS = 8


def global_gap(problem, schedule, K, steps, deterministic=False):
    """For each step t in `steps`: (L_K(plan) - L_K(best found)) / L_K(plan), the best found by Newton from
    the CHECK_STARTS lowest local minima of a finer grid (CHECK_F x CHECK_MU, none of the planner's points)
    than the planner's. <= rounding iff no better minimum was found; > 0 names a missed basin."""
    raw, planning = planned_moments(problem, schedule, deterministic)
    gaps = []
    for t in steps:
        moments = tuple(r[t] for r in raw)
        starts, _ = grid_minima(*grid_values(problem.h, planning, moments, K, CHECK_F, CHECK_MU), CHECK_STARTS)
        _, values, _, _, _ = polish(starts, problem.h, planning, moments, K)
        chosen = nqm_horizon.horizon_loss(schedule["alpha"][t], schedule["mu"][t], problem.h, planning, moments, K)
        gaps.append(float((chosen - np.min(finite(values))) / chosen))
    return np.array(gaps)
