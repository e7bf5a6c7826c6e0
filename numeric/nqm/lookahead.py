"""K-step lookahead schedules on the NQM: online meta-optimization computed exactly (Section 3.3, Figures 7-8).

For any update rule of the registry: at every step t the lookahead schedule takes the constant pair
(alpha_t, mu_t) = argmin L_K(alpha, mu), the expected excess loss K steps ahead of the current moments if
(alpha, mu) were kept for those K steps (numeric/nqm/horizon.py), applies it for ONE step of the true dynamics (the
rule's Theorem 1, the problem's sigma2), and
plans again: the receding-horizon form of online SMD with a K-step lookahead (the paper's online SMD uses K = 5
and takes Adam steps on noisy hypergradients; here each plan is solved to convergence on the exact L_K).

- K = 1: L_1 is Eq. 15 summed over coordinates, a convex quadratic in (alpha, mu) for a joint rule, so the plan
  is Theorem 2's greedy step and the schedule is the greedy schedule (for a rule whose one-step loss is not a
  quadratic, the greedy pair at its registry's momentum is the first start).
- stochastic lookahead plans with the problem's sigma2; deterministic lookahead plans with sigma2 = 0 (the
  paper's lookahead on one repeated mini-batch, Figure 8) and is then evaluated under the true sigma2.

Finding the minimum. For K > 1, L_K is a polynomial of degree 2K in (alpha, mu): finite everywhere (the
"feasible region" is all of R^2 in exact arithmetic; in floating point it overflows only for |alpha h| of order
10^(300 / 2K)), nonnegative and growing without bound, so a global minimum exists. It is not convex, and
planning without noise it has several local minima, crowded near the stability limit of the stiffest
coordinate (the rule's generated `stability_limit`: for heavy ball alpha max h = 2 (1 + mu)). The plan is the
lowest minimum found:

1. starts: Theorem 2's greedy pair from the current moments (planning sigma2; for K > 1 moved into the stable
   region), the TRACK lowest distinct minima of the previous step, the last plan extrapolated along its last
   move, and at t = 0, REGRID, 2 REGRID, ... the GRID_STARTS lowest local minima of a grid alpha = f times the
   stability limit over GRID_F x GRID_MU (dense in 1 - f near the limit);
2. safeguarded Newton (`minimize`) on (alpha, mu): the Hessian's eigenvalues replaced by their absolute values,
   floored (a descent direction even where L_K is not convex), an Armijo line search where the full step
   fails, full steps near the minimum, to STEP_RTOL; on grid steps from every start (`polish`: SCREEN steps
   each, then only the PROMISING ones), otherwise from the start with the lowest L_K (the other tracked minima
   wait, unpolished, for the next grid step);
3. the lowest result is the plan (ties within TIE go to the first start, the greedy pair, so K = 1 gives
   Theorem 2's closed form exactly); for K > 1 then `escape`: Newton continued in (alpha, mu), and where a pair
   of `moves(plan, ESCAPE)` lies lower (a neighbouring basin), Newton from it; the certificate per step: L_K,
   the Hessian's eigenvalues (> 0: a strict local minimum) and, on grid steps, the grid's lowest L_K.

For K > 1 Newton works in (a, mu), a = alpha / (1 - mu) (the effective learning rate of Section 3.3), where the
valleys of L_K mostly run straight (near mu = 1 they run along constant alpha instead: hence `escape`'s Newton
in (alpha, mu)), and stays in |mu| <= STABLE_MU, the domain of the plans (the paper's meta-optimizers keep
mu < 1): towards mu = 1 (alpha -> 0 at fixed a) L_K flattens to the loss of not moving, a plateau Newton would
crawl along. Certification, independent of the planner: numeric/nqm/lookahead_checks.py.

Everything is batched over leading axes: h, sigma2, mean0, var0 of shape (B, d) give B schedules at once
(the atlas of experiments/figures/atlas.py; the rule's extras are shared by the batch); one Problem gives one
schedule. Plans are computed at curvatures h / c, c a power of two near max h, with alpha scaled by c (exact, and
finite for every accepted problem: numeric/nqm/greedy.py).
"""
from collections import namedtuple

import numpy as np

from shb.ground.errors import InputError
from shb.ground.progress import progress_if_long
from shb.numeric.nqm import horizon as nqm_horizon
from shb.numeric.nqm.greedy import curvature_scale, greedy_pair
from shb.numeric.nqm.rules import extras_at, generated, initial_central, spec

# The grid of starts: alpha = f times the stability limit of the stiffest coordinate (heavy ball's mean dynamics are
# stable iff 0 < alpha h < 2 (1 + mu), |mu| < 1), log-spaced in f and, near the limit where the minima of long
# deterministic lookaheads crowd, in 1 - f.
GRID_F = np.concatenate([np.geomspace(1e-4, 0.5, 14), 1.0 - np.geomspace(0.5, 0.005, 20)[1:]])
GRID_MU = np.array([-0.5, -0.25, 0.0, 0.2, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98])
STABLE_MU = 0.99         # for K > 1 the starts are moved into |mu| <= STABLE_MU, 0 <= alpha <= the stability limit,
                         # and Newton stays in |mu| <= STABLE_MU
GRID_STARTS = 6          # the lowest local minima of the grid that Newton starts from
TRACK = 3                # distinct local minima carried from step to step
REGRID = 25              # the grid joins the starts at t = 0, REGRID, 2 REGRID, ...
QUADRATIC = 1e-10        # full Newton steps once the predicted decrease -g.p <= QUADRATIC * L_K (H > 0)
STEP_RTOL = 1e-13        # stop when |step| <= STEP_RTOL * |alpha| in alpha and STEP_RTOL * max(|mu|, 1) in mu
FINAL_STEP = 1e-7        # ... or after a full Newton step below FINAL_STEP of that (its error is of order 1e-14)
NEWTON_STEPS = 100       # at most this many Newton steps per plan
ESCAPE, ESCAPES = (1e-4, 0.01, 0.1, 0.3), 6  # after Newton, look for lower L_K this far around the plan
                                            # (alpha x (1 +- e), mu +- e), at most ESCAPES times
SCREEN, PROMISING = 10, 1.5  # from many starts: SCREEN steps each, then on only those within PROMISING x the lowest
LINE_SEARCH = 0.5 ** np.arange(24)
ARMIJO = 1e-4
EIGEN_FLOOR = 1e-10      # |eigenvalue| floored at EIGEN_FLOOR * the largest |eigenvalue| of the Hessian
TIE = 1e-12              # L_K values this close (relative) count as equal; the first start wins
SAME = 1e-7              # two minima are the same when alpha agrees to SAME relative and mu to SAME absolute

SECONDS_PER_STEP = 4e-6  # per (step, lookahead step, coordinate): an order of magnitude, measured (the progress's)

# What a plan is made from: the rule, the curvatures h (scaled), the planning noise sigma2 and the raw moments (each
# (..., d)), and the extras of the K steps ahead (tuples, shared by the batch); K = len(extras).
Planning = namedtuple("Planning", ["rule", "h", "sigma2", "raw", "extras"])


def _loss(x, ctx, effective=False):
    return nqm_horizon.horizon_loss(ctx.rule, x[0], x[1], ctx.h, ctx.sigma2, ctx.raw, ctx.extras, effective)


def _pick(ctx, index):
    """The planning context of the plans `index` of a flattened batch."""
    return ctx._replace(h=ctx.h[index], sigma2=ctx.sigma2[index], raw=tuple(r[index] for r in ctx.raw))


def limit(ctx, mu):
    """The stability limit of the stiffest coordinate at momentum mu (broadcasting against the batch shape)."""
    extra = ctx.extras[0] if ctx.extras else ()
    with np.errstate(divide="ignore", invalid="ignore"):  # no eigenvalue -1 at this mu: no limit (inf)
        per_coordinate = generated(ctx.rule, "stability_limit")(None, np.asarray(mu)[..., None], ctx.h, ctx.sigma2,
                                                                *extra)
    return np.min(np.where(np.isnan(per_coordinate), np.inf, per_coordinate), axis=-1)


def newton_direction(gradient, hessian):
    """p = -|H|^{-1} g with |H| = V |Lambda| V^T, |lambda| floored at EIGEN_FLOOR * max |lambda|: a descent
    direction (g.p < 0 unless g = 0) that is Newton's step where H is positive definite. Shapes (2, ...),
    (2, 2, ...). Where g or H is not finite (an overflowing plan) the step is 0."""
    ok = np.all(np.isfinite(hessian), axis=(0, 1)) & np.all(np.isfinite(gradient), axis=0)
    H = np.moveaxis(np.where(ok, hessian, np.eye(2).reshape((2, 2) + (1,) * ok.ndim)), (0, 1), (-2, -1))
    g = np.moveaxis(np.where(ok, gradient, 0.0), 0, -1)
    lam, V = np.linalg.eigh(H)
    size = np.abs(lam)
    size = np.maximum(size, EIGEN_FLOOR * size.max(axis=-1, keepdims=True))
    size = np.where(size > 0, size, 1.0)
    coefficients = np.einsum("...ki,...k->...i", V, g) / size
    return -np.moveaxis(np.einsum("...ki,...i->...k", V, coefficients), -1, 0)


def _line_search(x, p, value, slope, ctx, lengths, effective):
    """(x + l p, L_K there, Armijo met) per plan (2, N) for the first (longest) l of `lengths` meeting
    Armijo's condition, else the one with the lowest L_K (x in `minimize`'s coordinates)."""
    trial = x[:, None] + lengths[None, :, None] * p[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        losses = finite(_loss(trial, ctx, effective))
    if len(ctx.extras) > 1:  # |mu| <= STABLE_MU: towards mu = 1 (alpha -> 0 at fixed a) L_K flattens to "do not move"
        losses = np.where(np.abs(trial[1]) <= STABLE_MU, losses, np.inf)
    armijo = losses <= value + ARMIJO * lengths[:, None] * slope
    first = np.where(armijo.any(axis=0), np.argmax(armijo, axis=0), np.argmin(losses, axis=0))
    return (np.take_along_axis(trial, first[None, None], axis=1)[:, 0],
            np.take_along_axis(losses, first[None], axis=0)[0], armijo.any(axis=0))


def minimize(x, ctx, steps=NEWTON_STEPS, active=None, effective=None):
    """Safeguarded Newton from x = (alpha, mu) (shape (2, ...)) on L_K from the raw moments (..., d): returns
    (x, L_K(x), gradient (2, ...) and Hessian (2, 2, ...) at the last point evaluated (x, or at most a step
    of FINAL_STEP before it), the most Newton steps any plan took). For K > 1 Newton works in (a, mu), a =
    alpha / (1 - mu) (the paper's effective learning rate), and the derivatives returned are in (a, mu);
    every start must then have mu < 1 (effective=False: Newton in (alpha, mu) whatever K). `active` (bool, the
    batch shape): only those plans run (the others come back unmoved, with NaN value and derivatives).

    Each plan stops on its own, and only the plans still running are computed. Far from a minimum (predicted
    decrease -g.p above QUADRATIC * L_K, or the Hessian not positive definite) the full step is tried first
    and, where it fails Armijo's condition, all of LINE_SEARCH in one batched pass; a step is taken only if it
    lowers L_K. Near a minimum the quadratic model is exact to rounding and full Newton steps are taken while
    they shrink the predicted decrease. A plan stops after a full step below FINAL_STEP relative to (alpha,
    mu) (Newton's quadratic convergence leaves an error of order its square), when its step is below
    STEP_RTOL, no step lowers L_K, or (near the minimum) the predicted decrease no longer falls by 4x."""
    effective = len(ctx.extras) > 1 if effective is None else effective
    batch = np.shape(x)[1:]
    n = int(np.prod(batch))
    x = np.array(x, dtype=float).reshape(2, n)
    if effective:  # Newton in (a, mu), a = alpha / (1 - mu): the valleys of L_K are straight there
        x[0] = x[0] / (1.0 - x[1])
    flat = lambda a: np.broadcast_to(a, batch + np.shape(a)[-1:]).reshape(n, -1)  # noqa: E731
    ctx = ctx._replace(h=flat(ctx.h), sigma2=flat(ctx.sigma2), raw=tuple(flat(r) for r in ctx.raw))
    value, gradient, hessian = np.full(n, np.nan), np.full((2, n), np.nan), np.full((2, 2, n), np.nan)
    decrease = np.full(n, np.inf)
    live = np.arange(n) if active is None else np.flatnonzero(np.broadcast_to(active, batch))
    taken = 0
    for step in range(steps + 1):
        xs, sub = x[:, live], _pick(ctx, live)
        v, g, H = nqm_horizon.horizon_derivatives(sub.rule, xs[0], xs[1], sub.h, sub.sigma2, sub.raw, sub.extras,
                                                  effective=effective)
        value[live], gradient[:, live], hessian[:, :, live] = v, g, H
        if step == steps:
            break
        p = newton_direction(g, H)
        slope = np.sum(g * p, axis=0)  # <= 0
        convex = (H[0, 0] > 0) & (H[0, 0] * H[1, 1] > H[0, 1] ** 2)
        local = convex & (-slope <= QUADRATIC * np.abs(v))
        scale = np.stack([np.abs(xs[0]), np.maximum(np.abs(xs[1]), 1.0)])
        tiny = np.all(np.abs(p) <= STEP_RTOL * scale, axis=0)
        going = (slope < 0) & ~tiny & ~(local & (-slope > decrease[live] / 4))
        decrease[live] = -slope
        trial, chosen, accepted = _line_search(xs, p, v, slope, sub, LINE_SEARCH[:1], effective)
        retry = going & ~accepted & ~local
        if retry.any():
            r = np.flatnonzero(retry)
            trial[:, r], chosen[r], _ = _line_search(xs[:, r], p[:, r], v[r], slope[r], _pick(sub, r), LINE_SEARCH,
                                                     effective)
        moved = going & np.isfinite(chosen) & (local | (chosen < v))
        x[:, live[moved]] = trial[:, moved]
        # a full step this short leaves an error of order its square: take it, keep its value, and stop
        last = moved & local & np.all(np.abs(p) <= FINAL_STEP * scale, axis=0)
        value[live[last]] = chosen[last]
        live = live[moved & ~last]
        taken = step + 1 if moved.any() else taken
        if live.size == 0:
            break
    if effective:
        x[0] = x[0] * (1.0 - x[1])
    shape = lambda a: a.reshape(a.shape[:-1] + batch)  # noqa: E731
    return shape(x), shape(value), shape(gradient), shape(hessian), taken


def finite(values):
    return np.where(np.isfinite(values), values, np.inf)


def lowest(values):
    """Index (along axis 0) of the lowest value, the first among those within TIE of it (rounding): the greedy
    start comes first, so for K = 1, where every start ends at Theorem 2's pair, the plan is its closed form."""
    values = finite(values)
    return np.argmax(values <= values.min(axis=0) + TIE * np.abs(values.min(axis=0)), axis=0)


def polish(starts, ctx):
    """Newton from many starts (2, S, ...) per plan: SCREEN steps for all, then to convergence for those within
    PROMISING of the plan's lowest L_K (the others, abandoned, come back with L_K = inf)."""
    x, value, _, _, _ = minimize(starts, ctx, steps=SCREEN)
    value = finite(value)
    promising = value <= value.min(axis=0) * PROMISING
    x, polished, gradient, hessian, newton = minimize(x, ctx, active=promising)
    return x, np.where(promising, polished, np.inf), gradient, hessian, newton + SCREEN


def grid_values(ctx, fractions=GRID_F, mus=GRID_MU):
    """(alpha, mu, L_K) on the grid alpha = f times the stability limit at mu (shapes (F, M, ...)), one batched
    pass."""
    F, M = np.meshgrid(fractions, mus, indexing="ij")
    lift = (slice(None), slice(None)) + (None,) * (np.ndim(ctx.h) - 1)
    alphas = F[lift] * limit(ctx, M[lift])
    mus = np.broadcast_to(M[lift], alphas.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        return alphas, mus, finite(_loss((alphas, mus), ctx))


def grid_minima(alphas, mus, values, n):
    """The n lowest local minima of a grid (a point no higher than its 8 neighbours) as starts (2, n, ...),
    and the grid's lowest value (...)."""
    padded = np.pad(values, [(1, 1), (1, 1)] + [(0, 0)] * (values.ndim - 2), constant_values=np.inf)
    F, M = values.shape[:2]
    neighbours = np.min([padded[1 + i:F + 1 + i, 1 + j:M + 1 + j] for i in (-1, 0, 1) for j in (-1, 0, 1)], axis=0)
    flat = lambda a: a.reshape((F * M,) + a.shape[2:])  # noqa: E731
    score = flat(np.where((values <= neighbours) & np.isfinite(values), values, np.inf))
    order = np.argsort(score, axis=0)[:n]
    pick = lambda a: np.take_along_axis(flat(a), order, axis=0)  # noqa: E731
    return np.stack([pick(alphas), pick(mus)]), flat(values).min(axis=0)


def greedy_pairs(ctx, mu=None):
    """Theorem 2's greedy (alpha, mu) for the rule from the raw moments, per plan (numeric.nqm.greedy.greedy_pair;
    mu: the momentum of a rule whose greedy step is alpha at a given mu)."""
    shape = np.shape(ctx.raw[0])[:-1]
    out = np.empty((2,) + shape)
    extra = ctx.extras[0] if ctx.extras else ()
    for index in np.ndindex(shape):
        h = ctx.h[index] if np.ndim(ctx.h) > 1 else ctx.h
        sigma2 = ctx.sigma2[index] if np.ndim(ctx.sigma2) > 1 else ctx.sigma2
        out[(slice(None),) + index] = greedy_pair(ctx.rule, h, sigma2, extra, tuple(r[index] for r in ctx.raw), mu)
    return out


def distinct(x, values, n):
    """The n lowest distinct pairs among candidates x (2, S, ...) with L_K `values` (S, ...), as (2, n, ...)
    (slots without a distinct candidate repeat the lowest)."""
    order = np.argsort(finite(values), axis=0)
    x = np.take_along_axis(x, order[None], axis=1)
    usable = np.take_along_axis(np.isfinite(values), order, axis=0)
    out = np.repeat(x[:, :1], n, axis=1)
    count = np.ones(values.shape[1:], dtype=int)
    for j in range(1, x.shape[1]):
        candidate = x[:, j]
        same = (np.abs(out[0] - candidate[0][None]) <= SAME * np.abs(candidate[0][None])) & (
            np.abs(out[1] - candidate[1][None]) <= SAME)
        new = usable[j] & ~same.any(axis=0) & (count < n)
        slot = np.minimum(count, n - 1)[None, None]
        np.put_along_axis(out, slot, np.where(new, candidate, np.take_along_axis(out, slot, axis=1)[:, 0])[:, None],
                          axis=1)
        count += new
    return out


def plan(ctx, tracked=None, grid=True, previous=None, greedy_mu=None):
    """The K-step lookahead pair from the raw moments, its certificate, and the minima to track.

    Starts: Theorem 2's greedy pair (for K > 1 moved into the stable region of the mean dynamics), the TRACK
    minima tracked from the previous step (tracked[:, 0] is the last plan; it is also extrapolated along its
    move from the plan `previous` before it) and, with `grid`, the GRID_STARTS lowest local minima of the grid.
    With `grid`, Newton runs from every start at once (an extra batch axis); otherwise from the start with the
    lowest L_K only, and the other tracked minima are carried as they are, to be polished at the next grid
    step. The lowest result is the plan."""
    K = len(ctx.extras)
    starts = [greedy_pairs(ctx, greedy_mu)[:, None]] + ([] if tracked is None else [tracked])
    if previous is not None:
        starts.append((2 * tracked[:, 0] - previous)[:, None])
    grid_value = np.full(np.shape(ctx.raw[0])[:-1], np.nan)
    if grid:
        grid_x, grid_value = grid_minima(*grid_values(ctx), GRID_STARTS)
        starts.append(grid_x)
    starts = np.concatenate(starts, axis=1)
    if K > 1:  # into the stable region (greedy's mu > 1 happens): there Newton would crawl down a huge L_K
        mu = np.clip(starts[1], -STABLE_MU, STABLE_MU)
        starts = np.stack([np.clip(starts[0], 0.0, limit(ctx, mu)), mu])
    if grid:
        x, value, gradient, hessian, newton = polish(starts, ctx)
        candidates, values = x, value
    else:
        values = _loss(starts, ctx)
        first = lowest(values)[None, None]
        x, value, gradient, hessian, newton = minimize(np.take_along_axis(starts, first, axis=1), ctx)
        candidates = x if tracked is None else np.concatenate([x, tracked], axis=1)
        values = value if tracked is None else np.concatenate([value, _loss(tracked, ctx)])
    best = lowest(value)[None]
    pick = lambda a, axis: np.squeeze(np.take_along_axis(a, np.expand_dims(best, tuple(range(axis))), axis), axis)  # noqa: E731
    x, value, hessian = pick(x, 1), pick(value, 0), pick(hessian, 2)
    if K > 1:
        x, value, hessian, candidates, values = escape(x, value, hessian, candidates, values, ctx)
    with np.errstate(invalid="ignore"):
        eigen = np.linalg.eigvalsh(np.moveaxis(np.where(np.isfinite(hessian), hessian, np.nan), (0, 1), (-2, -1)))
    certificate = {"value": value, "grid": grid_value, "min_eigenvalue": eigen[..., 0],
                   "max_eigenvalue": eigen[..., -1], "newton_steps": newton}
    return x, certificate, distinct(candidates, values, TRACK)


def moves(x, scales):
    """The pairs around x (2, ...): alpha x (1 + i e), mu + j e for i, j in {-1, 0, 1}, not both 0, e in scales:
    shape (2, 8 len(scales), ...)."""
    steps = [(i * e, j * e) for e in scales for i in (-1, 0, 1) for j in (-1, 0, 1) if i or j]
    lift = (slice(None),) + (None,) * (np.ndim(x) - 1)
    relative, shift = (np.array(column)[lift] for column in zip(*steps))
    return np.stack([x[0][None] * (1 + relative), x[1][None] + shift])


def escape(x, value, hessian, candidates, values, ctx):
    """Up to ESCAPES rounds: where a pair of `moves(x, ESCAPE)` has a lower L_K than the plan, Newton from the
    lowest such pair, and keep the result if it is lower (a neighbouring basin the starts missed). Each round
    first continues Newton in (alpha, mu): near mu = 1 the valleys of L_K run along constant alpha, where Newton
    in (a, mu) crawls. The minima found join the candidates to track."""
    for _ in range(ESCAPES):
        found, found_value, _, found_hessian, _ = minimize(x, ctx, effective=False)
        better = found_value < value
        x, value = np.where(better, found, x), np.where(better, found_value, value)
        hessian = np.where(better, found_hessian, hessian)
        around = moves(x, ESCAPE)
        around[1] = np.clip(around[1], -STABLE_MU, STABLE_MU)
        with np.errstate(over="ignore", invalid="ignore"):
            trial = finite(_loss(around, ctx))
        k = np.argmin(trial, axis=0)
        lower = np.take_along_axis(trial, k[None], axis=0)[0] < value * (1 - TIE)
        if not lower.any():
            break
        start = np.take_along_axis(around, k[None, None], axis=1)[:, 0]
        found, found_value, _, found_hessian, _ = minimize(start, ctx, active=lower)
        better = lower & (found_value < value)
        x, value = np.where(better, found, x), np.where(better, found_value, value)
        hessian = np.where(better, found_hessian, hessian)
        candidates = np.concatenate([candidates, x[:, None]], axis=1)
        values = np.concatenate([values, value[None]])
    return x, value, hessian, candidates, values


def lookahead_batch(opt, problem, T, K, planning=None, to_end=False):
    """The K-step lookahead schedules of the rule `opt` (an UpdateRule, numeric/nqm/optimizers.py) on a batch of
    problems (a Problem whose arrays have shape (..., d)): alpha, mu of shape (..., T) and per-step certificates
    (..., T) ("value", "grid" (the grid's lowest L_K; NaN between grid steps), "min_eigenvalue", "max_eigenvalue"
    (of the Hessian of L_K in the planning coordinates: alpha scaled by c), "newton_steps"). `planning`: the sigma2
    the plans use (default: sigma2, the stochastic lookahead; zeros: the deterministic one); the steps taken always
    use the true sigma2. The rule's extras must be shared by the batch (numbers, or one per coordinate).
    to_end: plan to the end of the run instead, K = T - t at step t (the receding horizon; K is not used).
    """
    h, sigma2, mean0, var0 = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in problem))
    planning = sigma2 if planning is None else np.broadcast_to(np.asarray(planning, dtype=float), h.shape)
    rule = opt.rule
    K = T if to_end else K
    extras = opt.extras(problem._replace(h=h, sigma2=sigma2, mean0=mean0, var0=var0), T + K - 1)
    if h.ndim > 1 and any(np.ndim(value) > 1 for value in extras.values()):
        raise InputError(f"a batch of problems needs the extras of {opt.name} shared by the batch, one per coordinate")
    extras = extras_at(rule, extras, T + K - 1)  # the steps ahead of the last plan too
    scale = curvature_scale(h)  # (..., 1): plans at h / c with alpha c (module docstring)
    h_scaled, c = h / scale, scale[..., 0]
    step, to_raw = generated(rule, "step"), generated(rule, "raw_moments")
    stats = initial_central(rule, mean0, var0, h.shape)
    pairs, certificates, tracked = [], [], None
    seconds = SECONDS_PER_STEP * T * K * h.size
    for t in progress_if_long(range(T), T, "lookahead", seconds):
        ctx = Planning(rule, h_scaled, planning, to_raw(*stats), tuple(extras[t:T if to_end else t + K]))
        x, certificate, tracked = plan(ctx, tracked, grid=t % REGRID == 0, previous=pairs[-2] if t > 1 else None,
                                       greedy_mu=opt.entry.greedy_mu)
        pairs.append(x)
        certificates.append(certificate)
        stats = step(x[0][..., None], x[1][..., None], h_scaled, sigma2, *extras[t], *stats)
    pairs = np.stack(pairs, axis=-1)
    out = {"alpha": pairs[0] / c[..., None], "mu": pairs[1]}
    for key in ("value", "grid", "min_eigenvalue", "max_eigenvalue", "newton_steps"):
        out[key] = np.stack([np.broadcast_to(cert[key], pairs.shape[1:-1]) for cert in certificates], axis=-1)
    out["value"], out["grid"] = out["value"] * c[..., None], out["grid"] * c[..., None]
    return out


def lookahead(opt, problem, T, K=1, deterministic=False, to_end=False):
    """The K-step lookahead schedule of one problem for the rule `opt` (to_end: the receding horizon, K = T - t):
    {"alpha", "mu", "loss" (the rule's Theorem 1, true sigma2)} plus the per-step certificates of
    `lookahead_batch`."""
    out = lookahead_batch(opt, problem, T, K, 0.0 * problem.sigma2 if deterministic else problem.sigma2, to_end)
    with np.errstate(over="ignore", invalid="ignore"):
        out["loss"] = opt.rollout(problem, out["alpha"], out["mu"])["loss"]
    return out
