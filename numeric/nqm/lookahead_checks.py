"""Certificates for K-step lookahead schedules (numeric/nqm/lookahead.py), independent of the planner: each
recomputes the moments every plan saw by its own rollout of the schedule (the rule's Theorem 1) and evaluates the K-step
loss (numeric/nqm/horizon.py) around each plan.

- perturbation_gain: no perturbation of a plan (alpha x (1 +- e), mu +- e, both; e in PERTURBATIONS) lowers its
  K-step loss: a local minimum at those scales (e = 0.1 also probes the neighbouring basins), over the planner's
  domain |mu| <= STABLE_MU (the paper's meta-optimizers keep mu < 1; over a few steps mu > 1 can lower L_K);
- global_gap: Newton from the lowest local minima of a grid finer than the planner's and disjoint from it finds
  nothing lower: no missed basin at that resolution.

Like the planner they work at curvatures h / c with alpha c (numeric/nqm/greedy.py), for any update rule.

tests/nqm/test_lookahead.py feeds both a plan moved off its minimum and a plan replaced by a worse minimum.
"""
import numpy as np

from shb.numeric.nqm.greedy import curvature_scale
from shb.numeric.nqm.horizon import horizon_loss
from shb.numeric.nqm.lookahead import STABLE_MU, Planning, finite, grid_minima, grid_values, moves, polish
from shb.numeric.nqm.rules import extras_at, generated, spec


def planned(opt, problem, schedule, K, deterministic=False):
    """The planning context of every step of `schedule` (batch axis: the steps), recomputed by an independent
    rollout (the rule's Theorem 1) for certification: the raw moments before each step (T, d), the planning sigma2,
    the curvatures h / c and the extras of the K steps ahead (Planning of numeric/nqm/lookahead.py), and c."""
    alpha, mu = np.asarray(schedule["alpha"], dtype=float), np.asarray(schedule["mu"], dtype=float)
    T = alpha.size
    c = float(curvature_scale(problem.h)[0])
    scaled = problem._replace(h=problem.h / c)  # the planner's problem: the state as it sees it (greedy.py)
    stats = opt.rollout(scaled, alpha * c, mu)
    raw = generated(opt.rule, "raw_moments")(*(stats[k][:-1] for k in opt.statistics()))
    planning = np.zeros_like(problem.sigma2) if deterministic else problem.sigma2
    extras = extras_at(opt.rule, opt.extras(problem, T + K - 1), T + K - 1)
    return [Planning(opt.rule, scaled.h, planning, tuple(r[t] for r in raw), tuple(extras[t:t + K]))
            for t in range(T)], c


def _loss(x, ctx):
    return horizon_loss(ctx.rule, x[0], x[1], ctx.h, ctx.sigma2, ctx.raw, ctx.extras)


def _batched(opt, contexts):
    """One context for all steps at once (raw moments stacked on a leading axis) where the rule has no per-step
    extras, so every step's K steps ahead have the same extras; else None."""
    if spec(opt.rule)["per_step"]:
        return None
    first = contexts[0]
    return first._replace(raw=tuple(np.stack([c.raw[j] for c in contexts]) for j in range(len(first.raw))))


# Relative perturbations of alpha (x (1 +- e)) and absolute ones of mu (+- e) tried around each plan.
PERTURBATIONS = (1e-4, 1e-2, 1e-1)


def perturbation_gain(opt, problem, schedule, K, deterministic=False):
    """Largest relative decrease of L_K found by perturbing each step's (alpha_t, mu_t) (alpha x (1 +- e),
    mu +- e, and both together, e in PERTURBATIONS, within the planner's domain |mu| <= STABLE_MU): <= rounding
    iff every pair is a local minimum at those scales. Returns (gain per step (T,), number of perturbations per
    step)."""
    contexts, c = planned(opt, problem, schedule, K, deterministic)
    x = np.stack([np.asarray(schedule["alpha"], dtype=float) * c, np.asarray(schedule["mu"], dtype=float)])
    around = moves(x, PERTURBATIONS)
    batched = _batched(opt, contexts)
    with np.errstate(over="ignore", invalid="ignore"):
        if batched is not None:
            base, moved = _loss(x, batched), finite(_loss(around, batched))
        else:
            base = np.array([_loss(x[:, t], ctx) for t, ctx in enumerate(contexts)])
            moved = np.stack([finite(_loss(around[:, :, t], ctx)) for t, ctx in enumerate(contexts)], axis=-1)
    moved = np.where(np.abs(around[1]) <= STABLE_MU, moved, np.inf)  # the plans' domain: |mu| <= STABLE_MU
    gain = (base - moved.min(axis=0)) / np.maximum(np.abs(base), 1e-300)
    return gain, around.shape[1]


# A finer grid than the planner's, for certification: alpha = f times the stability limit, as GRID_F, GRID_MU.
CHECK_F = np.concatenate([np.geomspace(1.3e-4, 0.45, 20), 1.0 - np.geomspace(0.45, 0.004, 30)[1:]])
CHECK_MU = np.concatenate([np.linspace(-0.6, 0.45, 8), np.linspace(0.52, 0.99, 17)])
CHECK_STARTS = 8


def global_gap(opt, problem, schedule, K, steps, deterministic=False):
    """For each step t in `steps`: (L_K(plan) - L_K(best found)) / L_K(plan), the best found by Newton from
    the CHECK_STARTS lowest local minima of a finer grid (CHECK_F x CHECK_MU, none of the planner's points)
    than the planner's. <= rounding iff no better minimum was found; > 0 names a missed basin."""
    contexts, c = planned(opt, problem, schedule, K, deterministic)
    gaps = []
    for t in steps:
        ctx = contexts[t]
        starts, _ = grid_minima(*grid_values(ctx, CHECK_F, CHECK_MU), CHECK_STARTS)
        _, values, _, _, _ = polish(starts, ctx)
        chosen = _loss((schedule["alpha"][t] * c, schedule["mu"][t]), ctx)
        gaps.append(float((chosen - np.min(finite(values))) / chosen))
    return np.array(gaps)
