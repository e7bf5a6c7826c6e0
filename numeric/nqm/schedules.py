"""Learning-rate and momentum schedules for the NQM over a horizon T (Sections 2.2.3 and 2.3).

Every schedule function returns {"alpha": [T], "mu": [T], "loss": [T+1]} (numpy arrays; loss is the
expected excess loss of numeric.nqm.dynamics for t = 0..T), plus a few documented extras.

- greedy: the greedy-optimal (one-step lookahead) alpha_t and mu_t of Theorem 2, from the generated
  greedy_sums / greedy_solution; greedy_sgd: the same with mu = 0 (Theorem 3's one-step form).
- fixed: one (alpha, mu) for all steps: the best point of a grid, refined by Autograd + Adam on L(T).
- optimized: one (alpha_t, mu_t) per step, fitted by Autograd + Adam on L(T) from the best exponentially
  decaying schedule of a grid, with the paper's safeguard (no coordinate's loss component above its
  initial value): a penalty during the fit, then an exact per-step learning-rate bound.
- fixed_then_decay (numeric/nqm/fixed_decay.py): k steps at a fixed alpha, then m steps at alpha r^j
  (Figure 2's dashed curves).

Parameterization of fitted schedules (well conditioned for Adam; the paper, Section 4.1, likewise
optimizes log effective learning rate and log(1 - mu)):

    alpha_t = exp(a_t),  mu_t = 1 - exp(b_t)         (so alpha > 0 and mu < 1; mu may be negative).

Adam as in the paper: learning rate ADAM_LR = 0.003, ADAM_STEPS = 500 (defaults of `fixed`, `optimized`). Because
0.003 x 500 moves a log-parameter by at most ~1.5, the start matters: `fixed` starts from the best
point of a 40 x 24 (alpha, mu) grid; `optimized` from the better (lower L(T), safeguard satisfied) of
the greedy schedule and the best exponentially decaying schedule alpha0 f^(t/(T-1)) on a 14 x 7 x 9
(alpha0, mu, f) grid (the decaying one on the noisy preset, greedy on the deterministic one).
The grids: alpha log-spaced on [1e-3, 8], mu = 0 and 1 - mu log-spaced on [1e-3, 1); alpha0 log-spaced
on [0.01, 4], mu in {0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95}, f log-spaced on [1e-4, 1]. On the `paper`
preset at T = 250 the decaying start is (alpha0, mu, f) = (1.59, 0.8, 1e-3).
"""
import numpy as np
from autograd import value_and_grad
import autograd.numpy as anp

from shb.ground.errors import InputError
from shb.numeric.nqm.dynamics import final_loss, initial_stats, max_component_ratio, rollout
from shb.numeric.nqm.generated import (greedy_sgd_solution, greedy_solution, greedy_sums, loss_component,
                                   nqm_step, one_step_loss, raw_moments)
from shb.numeric.optim import adam

# Relative threshold below which det H = H_aa H_mm - H_am^2 counts as zero (mu not identifiable).
# det H >= 0 always (each coordinate's Hessian is PSD by Cauchy-Schwarz, A(theta) A(v) >= E[theta v]^2),
# so only rounding can make it slightly negative.
DET_RTOL = 1e-12
ADAM_STEPS, ADAM_LR = 500, 0.003  # Adam as in the paper (Section 2.3); the registry's defaults too


def schedule_result(problem, alpha, mu, **extra):
    """The schedule dict: alpha, mu and the loss curve L(0..T) of their rollout (Theorem 1), plus extras."""
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    out = {"alpha": alpha, "mu": mu, "loss": rollout(problem, alpha, mu)["loss"]}
    out.update(extra)
    return out


# ---------------------------------------------------------------------------------------------
# Greedy (Theorem 2)
# ---------------------------------------------------------------------------------------------


def greedy_step(problem, stats, momentum=True):
    """The greedy-optimal (alpha*, mu*) for the next step given the five statistics at step t.

    Minimizes the summed one-step loss (Eq. 15), a convex quadratic in (alpha, mu) with Hessian H and
    gradient at the origin g (generated greedy_sums): (alpha*, mu*) = -H^{-1} g (Theorem 2). When
    det H <= 0 (t = 0, where A(v) = 0 for every coordinate and mu is not identifiable), or without
    momentum, mu* = 0 and alpha* = -g_a / H_aa. If H_aa = 0 (every A(theta) = sigma2 = 0: the
    optimum is reached), alpha* = 0.
    """
    A_theta, A_v, E_theta_v = raw_moments(*stats)
    H_aa, H_am, H_mm, g_a, g_m = greedy_sums(problem.h, problem.sigma2, A_theta, A_v, E_theta_v)
    det = H_aa * H_mm - H_am**2
    if momentum and det > DET_RTOL * H_aa * H_mm:
        alpha, mu = greedy_solution(H_aa, H_am, H_mm, g_a, g_m)
        return float(alpha), float(mu)
    if H_aa <= 0:
        return 0.0, 0.0
    return float(greedy_sgd_solution(H_aa, g_a)), 0.0


def greedy(problem, T, momentum=True):
    """The greedy-optimal schedule over T steps (Theorem 2; `momentum=False`: SGD, mu = 0)."""
    stats = initial_stats(problem)
    alpha, mu = [], []
    for _ in range(T):
        a, m = greedy_step(problem, stats, momentum)
        alpha.append(a)
        mu.append(m)
        stats = nqm_step(a, m, problem.h, problem.sigma2, *stats)
    return schedule_result(problem, alpha, mu)


def greedy_sgd(problem, T):
    """The greedy-optimal learning rates without momentum (mu = 0)."""
    return greedy(problem, T, momentum=False)


# ---------------------------------------------------------------------------------------------
# Parameterization shared by the fitted schedules
# ---------------------------------------------------------------------------------------------


def to_params(alpha, mu):
    """(a, b) = (log alpha, log(1 - mu)); requires alpha > 0 and mu < 1."""
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    return np.log(np.maximum(alpha, 1e-12)), np.log(np.maximum(1.0 - mu, 1e-12))


def from_params(a, b):
    """alpha = exp(a), mu = 1 - exp(b) (works on numpy arrays and Autograd boxes)."""
    return anp.exp(a), 1.0 - anp.exp(b)


def adam_fit(objective, x0, steps, lr, desc="adam"):
    """Minimize objective(x) from x0 by `steps` Adam steps on Autograd's gradient; returns the best x seen.

    The best iterate (lowest objective value among those evaluated) is returned, so the result is
    never worse than the initialisation. Returns (x, value, history of values).
    """
    from shb.ground.progress import progress

    vg = value_and_grad(objective)
    init, update = adam(lr)
    x = np.array(x0, dtype=float)
    state = init(x)
    best_x, best_v, history = x.copy(), np.inf, []
    for _ in progress(range(steps), total=steps, desc=desc):
        value, g = vg(x)
        history.append(float(value))
        if np.isfinite(value) and value < best_v:
            best_x, best_v = x.copy(), float(value)
        if not np.all(np.isfinite(g)):
            break
        x, state = update(g, state, x)
    value = float(objective(x))
    history.append(value)
    if np.isfinite(value) and value < best_v:
        best_x, best_v = x.copy(), value
    return best_x, best_v, history


# ---------------------------------------------------------------------------------------------
# Fixed (alpha, mu)
# ---------------------------------------------------------------------------------------------

FIXED_GRID_ALPHA = np.geomspace(1e-3, 8.0, 40)
FIXED_GRID_MU = np.concatenate([[0.0], 1.0 - np.geomspace(1e-3, 1.0, 24)[:-1]])


def fixed_grid(problem, T, alphas=FIXED_GRID_ALPHA, mus=FIXED_GRID_MU):
    """The best constant (alpha, mu) on a grid, by one batched rollout of L(T) (the Adam fit's start)."""
    A, M = np.meshgrid(alphas, mus, indexing="ij")
    ones = np.ones((A.size, T))
    with np.errstate(over="ignore", invalid="ignore"):
        losses = final_loss(problem, A.reshape(-1, 1) * ones, M.reshape(-1, 1) * ones)
    losses = np.where(np.isfinite(losses), losses, np.inf)
    k = int(np.argmin(losses))
    return float(A.flat[k]), float(M.flat[k])


def fixed(problem, T, steps=ADAM_STEPS, lr=ADAM_LR, init=None, momentum=True):
    """One (alpha, mu) for all T steps minimizing L(T): a grid start, then Adam on (log alpha, log(1 - mu)).

    `init` = (alpha, mu) skips the grid. `momentum=False` fits alpha alone with mu = 0.
    Extras in the result: "history" (L(T) per Adam step).
    """
    if init is None:
        init = fixed_grid(problem, T, mus=FIXED_GRID_MU if momentum else np.array([0.0]))
    a0, b0 = to_params(*init)
    ones = np.ones(T)

    if momentum:
        def objective(x):
            alpha, mu = from_params(x[0], x[1])
            return final_loss(problem, alpha * ones, mu * ones)
        x0 = np.array([a0, b0])
    else:
        def objective(x):
            return final_loss(problem, anp.exp(x[0]) * ones, 0.0 * ones)
        x0 = np.array([a0])
    x, _, history = adam_fit(objective, x0, steps, lr, desc="fixed")
    alpha = float(np.exp(x[0]))
    mu = float(1.0 - np.exp(x[1])) if momentum else 0.0
    return schedule_result(problem, alpha * ones, mu * ones, history=np.array(history))


# ---------------------------------------------------------------------------------------------
# The safeguard (Section 2.3): no coordinate's loss component above its initial value
# ---------------------------------------------------------------------------------------------


def initial_components(problem):
    """L_i(0) = 1/2 h_i (mean0_i^2 + var0_i)."""
    return loss_component(problem.h, problem.mean0, problem.var0)


def constraint_violation(problem, alpha, mu):
    """max over t and i of L_i(t) / L_i(0) - 1: > 0 iff some coordinate's loss component rises above its
    initial value. Coordinates starting at the optimum (L_i(0) = 0) are exempt (with noise no step
    can keep them at 0)."""
    return float(max_component_ratio(problem, alpha, mu)) - 1.0


SAFEGUARD_MARGIN = 1e-12  # relative slack below L_i(0) that the learning-rate bound aims for (rounding)


def learning_rate_bound(problem, stats, mu, start, one_step=None):
    """The largest alpha such that, with momentum mu, no coordinate's loss after this step exceeds start_i.

    Coordinate i's one-step loss (Eq. 15, the generated one_step_loss) is a convex quadratic in alpha,
    l_i(alpha) = c2 alpha^2 + c1 alpha + c0 (coefficients read off three evaluations); the bound is the
    smallest upper root of l_i(alpha) = start_i (1 - margin) over coordinates with start_i > 0 and
    c2 > 0. Returns (upper, lower): the feasible set is [lower, upper] (empty if lower > upper;
    upper = +inf if nothing binds). `one_step` (alpha -> l_i(alpha) per coordinate) replaces heavy ball's
    one-step loss at `stats` for another update rule (numeric/nqm/rule_schedules.py); its loss must be a
    quadratic in alpha at this mu as well.
    """
    if one_step is None:
        A = raw_moments(*stats)

        def one_step(a):
            return one_step_loss(a, mu, problem.h, problem.sigma2, *A)
    s = 1.0 / problem.h.max()
    l0, lp, lm = (one_step(a) for a in (0.0, s, -s))
    c2 = (lp + lm - 2 * l0) / (2 * s * s)
    c1 = (lp - lm) / (2 * s)
    c0 = l0 - start * (1 - SAFEGUARD_MARGIN)
    binds = (start > 0) & (c2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(np.where(binds, c1 * c1 - 4 * c2 * c0, -1.0))
        upper = np.where(binds, (-c1 + root) / (2 * c2), np.inf)
        lower = np.where(binds, (-c1 - root) / (2 * c2), -np.inf)
    if np.any(np.isnan(upper[binds])):  # some coordinate exceeds start_i for every alpha
        return -np.inf, np.inf
    return float(np.min(upper)), float(np.max(lower))


def project_safeguard(problem, alpha, mu):
    """Cap each alpha_t at the learning-rate bound of the statistics it meets (the paper's safeguard):
    alpha_t <- min(alpha_t, learning_rate_bound(...)), stepping forward so later bounds see the capped
    past. Where no alpha can keep every component down (momentum alone overshoots), alpha_t is left
    as it is, and `constraint_violation` reports the excess."""
    alpha = np.array(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    start = initial_components(problem)
    stats = initial_stats(problem)
    for t in range(alpha.size):
        upper, lower = learning_rate_bound(problem, stats, mu[t], start)
        if alpha[t] > upper >= lower:
            alpha[t] = max(upper, 0.0)
        stats = nqm_step(alpha[t], mu[t], problem.h, problem.sigma2, *stats)
    return alpha


# ---------------------------------------------------------------------------------------------
# Optimized (alpha_t, mu_t) per step
# ---------------------------------------------------------------------------------------------

DECAY_GRID_ALPHA0 = np.geomspace(0.01, 4.0, 14)
DECAY_GRID_MU = np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
DECAY_GRID_FINAL = np.geomspace(1e-4, 1.0, 9)


def decay_grid(problem, T, safeguard=True, alpha0s=DECAY_GRID_ALPHA0, mus=DECAY_GRID_MU, finals=DECAY_GRID_FINAL):
    """The best exponentially decaying schedule alpha_t = alpha0 f^(t/(T-1)), mu_t = mu on a grid of
    (alpha0, mu, f) (f = 1: constant), by batched rollouts; with `safeguard`, only among schedules that
    keep every loss component at or below its initial value. The start of `optimized`."""
    A, M, F = (x.reshape(-1, 1) for x in np.meshgrid(alpha0s, mus, finals, indexing="ij"))
    t = np.arange(T) / max(T - 1, 1)
    alphas, mu_t = A * F**t, M * np.ones(T)
    best_loss, best = np.inf, None
    for lo in range(0, alphas.shape[0], 128):
        a, m = alphas[lo:lo + 128], mu_t[lo:lo + 128]
        with np.errstate(over="ignore", invalid="ignore"):
            losses = final_loss(problem, a, m)
            if safeguard:
                ok = max_component_ratio(problem, a, m) <= 1.0
                losses = np.where(ok, losses, np.inf)
        losses = np.where(np.isfinite(losses), losses, np.inf)
        k = int(np.argmin(losses))
        if losses[k] < best_loss:
            best_loss, best = losses[k], (a[k], m[k])
    if best is None:  # nothing on the grid is admissible: start from tiny steps
        return np.full(T, alpha0s[0] * 1e-3), np.zeros(T)
    return best[0].copy(), best[1].copy()


def start_decay_grid(problem, T, momentum, safeguard):
    """The best exponentially decaying schedule of `decay_grid` (mu = 0 without momentum)."""
    return decay_grid(problem, T, safeguard=safeguard, mus=DECAY_GRID_MU if momentum else np.array([0.0]))


def start_fixed_grid(problem, T, momentum, safeguard):
    """The best constant (alpha, mu) of `fixed_grid`, for all T steps."""
    a, m = fixed_grid(problem, T, mus=FIXED_GRID_MU if momentum else np.array([0.0]))
    return np.full(T, a), np.full(T, m)


def start_greedy(problem, T, momentum, safeguard):
    """The greedy schedule (Theorem 2), alpha floored at 1e-12 and mu capped at 0.999 (log parameters)."""
    g = greedy(problem, T, momentum=momentum)
    return np.maximum(g["alpha"], 1e-12), np.minimum(g["mu"], 0.999)


def start_auto(problem, T, momentum, safeguard):
    """Whichever of the decay-grid and greedy starts has the lower L(T), among those that are finite and
    (with `safeguard`) keep every loss component at or below its initial value (the first on a tie)."""
    candidates = [STARTS[name](problem, T, momentum, safeguard) for name in ("decay-grid", "greedy")]
    scores = []
    for alpha, mu in candidates:
        with np.errstate(over="ignore", invalid="ignore"):
            loss = float(final_loss(problem, alpha, mu))
        ok = np.isfinite(loss) and (not safeguard or max_component_ratio(problem, alpha, mu) <= 1.0)
        scores.append(loss if ok else np.inf)
    return candidates[int(np.argmin(scores))]


# The named starts of `optimized`: name -> function (problem, T, momentum, safeguard) -> (alpha0 [T], mu0 [T]).
STARTS = {"auto": start_auto, "decay-grid": start_decay_grid, "fixed-grid": start_fixed_grid, "greedy": start_greedy}


def _start(problem, T, init, momentum, safeguard):
    """The starting schedule (alpha0, mu0) of `optimized`: a named start of STARTS, or a pair (alpha, mu)."""
    if not isinstance(init, str):
        return tuple(np.broadcast_to(np.asarray(x, dtype=float), (T,)).copy() for x in init)
    if init not in STARTS:
        names = ", ".join(repr(name) for name in STARTS)
        raise InputError(f"init must be {names} or (alpha, mu), got {init!r}")
    return STARTS[init](problem, T, momentum, safeguard)


def optimized(problem, T, steps=ADAM_STEPS, lr=ADAM_LR, init="auto", momentum=True, safeguard=True,
              penalty_weight=1e4):
    """One (alpha_t, mu_t) per step, t < T, locally minimizing L(T) (Section 2.3, "optimized schedule").

    Parameters (a_t, b_t) with alpha_t = exp(a_t), mu_t = 1 - exp(b_t) (mu = 0 if momentum=False), fitted
    by `steps` Adam steps of learning rate `lr` (the paper: 500 steps at 0.003) on the gradient from
    Autograd through the T-step rollout of Theorem 1; the best iterate is kept.

    init, a name in STARTS: "auto" (default: whichever of "decay-grid" and "greedy" has the lower L(T)
    among those that satisfy the safeguard), "decay-grid" (the best exponentially decaying schedule of
    `decay_grid`), "fixed-grid" (the best constant (alpha, mu) of `fixed_grid`), "greedy" (the greedy
    schedule, alpha floored at 1e-12 and mu capped at 0.999 for the parameterization); or a pair (alpha, mu).

    safeguard (the paper's bound, Section 2.3): no coordinate's loss component may exceed its initial
    value, L_i(t) <= L_i(0) for all t, i. During the fit: the penalty
    penalty_weight * sum_{t,i} relu(L_i(t)/L_i(0) - 1)^2 added to L(T); afterwards the learning-rate
    bound `project_safeguard` caps each alpha_t so that the constraint holds exactly.
    Extras: "history" (objective per Adam step), "violation" (max_{t,i} L_i(t)/L_i(0) - 1; <= 0 iff the
    constraint holds), "init" (the starting schedule's final loss).
    """
    alpha0, mu0 = _start(problem, T, init, momentum, safeguard)
    a0, b0 = to_params(alpha0, mu0)
    zeros = np.zeros(T)

    def schedule(x):
        if momentum:
            return from_params(x[:T], x[T:])
        return anp.exp(x), zeros

    def objective(x):
        alpha, mu = schedule(x)
        return final_loss(problem, alpha, mu, penalty_weight if safeguard else 0.0)

    x0 = np.concatenate([a0, b0]) if momentum else a0
    x, _, history = adam_fit(objective, x0, steps, lr, desc="optimized")
    alpha, mu = (np.asarray(v, dtype=float) for v in schedule(x))
    if safeguard:
        alpha = project_safeguard(problem, alpha, mu)
    init_loss = float(final_loss(problem, np.asarray(alpha0, float), np.asarray(mu0, float)))
    return schedule_result(problem, alpha, mu, history=np.array(history), init=init_loss,
                           violation=constraint_violation(problem, alpha, mu))
