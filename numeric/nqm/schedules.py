"""Fitted learning-rate and momentum schedules for any update rule over a horizon T (Section 2.3).

Every function takes an `UpdateRule` (numeric/nqm/optimizers.py) and returns {"alpha": [T], "mu": [T], "loss":
[T+1]} (numpy arrays; loss is the rule's expected excess loss L(t), t = 0..T, numeric/nqm/dynamics.py), plus a few
documented extras. The greedy schedule (Theorem 2 for the rule) is numeric/nqm/greedy.py's.

- fixed: one (alpha, mu) for all steps: the best point of a grid, refined by Adam on L(T) through the generated
  adjoint (numeric/nqm/adjoint.py).
- optimized: one (alpha_t, mu_t) per step, fitted by Adam on L(T) from the better of the rule's greedy schedule and
  the best exponentially decaying schedule of a grid, with the paper's safeguard (no coordinate's loss component
  above its initial value): a penalty during the fit, then an exact per-step learning-rate bound
  (numeric/nqm/safeguard.py).

Parameterization of fitted schedules (well conditioned for Adam; the paper, Section 4.1, likewise optimizes log
effective learning rate and log(1 - mu)):

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
import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

from shb.ground.errors import InputError
from shb.numeric.nqm.safeguard import constraint_violation, project_safeguard
from shb.numeric.optim import adam

ADAM_STEPS, ADAM_LR = 500, 0.003  # Adam as in the paper (Section 2.3); the registry's defaults too
FIXED_GRID_ALPHA = np.geomspace(1e-3, 8.0, 40)
FIXED_GRID_MU = np.concatenate([[0.0], 1.0 - np.geomspace(1e-3, 1.0, 24)[:-1]])
DECAY_GRID_ALPHA0 = np.geomspace(0.01, 4.0, 14)
DECAY_GRID_MU = np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
DECAY_GRID_FINAL = np.geomspace(1e-4, 1.0, 9)
FIXED_GRID = (FIXED_GRID_ALPHA, FIXED_GRID_MU)
DECAY_GRID = (DECAY_GRID_ALPHA0, DECAY_GRID_MU, DECAY_GRID_FINAL)


def schedule_result(opt, problem, alpha, mu, **extra):
    """The schedule dict: alpha, mu and the loss curve L(0..T) of their rollout, plus extras."""
    alpha, mu = np.asarray(alpha, dtype=float), np.asarray(mu, dtype=float)
    return {"alpha": alpha, "mu": mu, "loss": opt.loss_curve(problem, alpha, mu), **extra}


def to_params(alpha, mu):
    """(a, b) = (log alpha, log(1 - mu)); requires alpha > 0 and mu < 1."""
    alpha, mu = np.asarray(alpha, dtype=float), np.asarray(mu, dtype=float)
    return np.log(np.maximum(alpha, 1e-12)), np.log(np.maximum(1.0 - mu, 1e-12))


def from_params(a, b):
    """alpha = exp(a), mu = 1 - exp(b) (works on numpy arrays and Autograd boxes)."""
    return anp.exp(a), 1.0 - anp.exp(b)


def adam_fit(objective, x0, steps, lr, desc="adam"):
    """Minimize objective(x) from x0 by `steps` Adam steps on Autograd's gradient; returns the best x seen.

    The best iterate (lowest objective value among those evaluated) is returned, so the result is never worse than
    the initialisation. Returns (x, value, history of values).
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


def _finite(losses):
    return np.where(np.isfinite(losses), losses, np.inf)


def fixed_grid(opt, problem, T, alphas=FIXED_GRID_ALPHA, mus=FIXED_GRID_MU):
    """The best constant (alpha, mu) on a grid, by one batched rollout of L(T) (the Adam fit's start)."""
    A, M = np.meshgrid(alphas, mus, indexing="ij")
    ones = np.ones((A.size, T))
    with np.errstate(over="ignore", invalid="ignore"):
        k = int(np.argmin(_finite(opt.final_loss(problem, A.reshape(-1, 1) * ones, M.reshape(-1, 1) * ones))))
    return float(A.flat[k]), float(M.flat[k])


def fixed(opt, problem, T, steps=ADAM_STEPS, lr=ADAM_LR, init=None, momentum=True, grid=FIXED_GRID):
    """One (alpha, mu) for all T steps minimizing L(T): a grid start, then Adam on (log alpha, log(1 - mu)).

    `init` = (alpha, mu) skips the grid; `grid` = (alphas, mus) replaces it. `momentum=False` fits alpha alone with
    mu = 0. Extras in the result: "history" (L(T) per Adam step).
    """
    if init is None:
        init = fixed_grid(opt, problem, T, grid[0], grid[1] if momentum else np.array([0.0]))
    a0, b0 = to_params(*init)
    ones = np.ones(T)

    def objective(x):
        alpha, mu = from_params(x[0], x[1]) if momentum else (anp.exp(x[0]), 0.0)
        return opt.final_loss(problem, alpha * ones, mu * ones)

    x, _, history = adam_fit(objective, np.array([a0, b0] if momentum else [a0]), steps, lr, desc="fixed")
    alpha = float(np.exp(x[0]))
    mu = float(1.0 - np.exp(x[1])) if momentum else 0.0
    return schedule_result(opt, problem, alpha * ones, mu * ones, history=np.array(history))


def decay_grid(opt, problem, T, safeguard=True, alpha0s=DECAY_GRID_ALPHA0, mus=DECAY_GRID_MU,
               finals=DECAY_GRID_FINAL):
    """The best exponentially decaying schedule alpha_t = alpha0 f^(t/(T-1)), mu_t = mu on a grid of (alpha0, mu, f)
    (f = 1: constant), by batched rollouts; with `safeguard`, only among schedules that keep every loss component
    at or below its initial value. The start of `optimized`; tiny steps when nothing on the grid is admissible."""
    A, M, F = (x.reshape(-1, 1) for x in np.meshgrid(alpha0s, mus, finals, indexing="ij"))
    alphas, mu_t = A * F ** (np.arange(T) / max(T - 1, 1)), M * np.ones(T)
    losses = np.full(len(alphas), np.inf)
    for lo in range(0, len(alphas), 128):  # 128 schedules at a time bounds the memory
        part = slice(lo, lo + 128)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = _finite(opt.final_loss(problem, alphas[part], mu_t[part]))
            if safeguard:
                loss = np.where(opt.max_component_ratio(problem, alphas[part], mu_t[part]) <= 1.0, loss, np.inf)
        losses[part] = loss
    k = int(np.argmin(losses))
    if not np.isfinite(losses[k]):
        return np.full(T, np.min(alpha0s) * 1e-3), np.zeros(T)
    return alphas[k].copy(), mu_t[k].copy()


def start_decay_grid(opt, problem, T, momentum, safeguard, grid=DECAY_GRID):
    """The best exponentially decaying schedule of `decay_grid` (mu = 0 without momentum)."""
    alpha0s, mus, finals = grid
    return decay_grid(opt, problem, T, safeguard, alpha0s, mus if momentum else np.array([0.0]), finals)


def start_fixed_grid(opt, problem, T, momentum, safeguard, grid=DECAY_GRID):
    """The best constant (alpha, mu) of `fixed_grid`, for all T steps."""
    a, m = fixed_grid(opt, problem, T, mus=FIXED_GRID_MU if momentum else np.array([0.0]))
    return np.full(T, a), np.full(T, m)


def start_greedy(opt, problem, T, momentum, safeguard, grid=DECAY_GRID):
    """The rule's greedy schedule (at mu = 0 without momentum), alpha floored at 1e-12 and mu capped at 0.999 (log
    parameters)."""
    g = opt.greedy(problem, T, mu=None if momentum else 0.0)
    return np.maximum(g["alpha"], 1e-12), np.minimum(g["mu"], 0.999)


def start_auto(opt, problem, T, momentum, safeguard, grid=DECAY_GRID):
    """Whichever of the decay-grid and greedy starts has the lower L(T), among those that are finite and (with
    `safeguard`) keep every loss component at or below its initial value (the first on a tie)."""
    candidates = [STARTS[name](opt, problem, T, momentum, safeguard, grid) for name in ("decay-grid", "greedy")]
    scores = []
    for alpha, mu in candidates:
        with np.errstate(over="ignore", invalid="ignore"):
            loss = float(opt.final_loss(problem, alpha, mu))
        ok = np.isfinite(loss) and (not safeguard or opt.max_component_ratio(problem, alpha, mu) <= 1.0)
        scores.append(loss if ok else np.inf)
    return candidates[int(np.argmin(scores))]


# The named starts of `optimized`: name -> function (opt, problem, T, momentum, safeguard, grid) -> (alpha0, mu0).
STARTS = {"auto": start_auto, "decay-grid": start_decay_grid, "fixed-grid": start_fixed_grid, "greedy": start_greedy}


def start(opt, problem, T, init="auto", momentum=True, safeguard=True, grid=DECAY_GRID):
    """The starting schedule (alpha0, mu0) of `optimized`: a named start of STARTS, or a pair (alpha, mu)."""
    if not isinstance(init, str):
        return tuple(np.broadcast_to(np.asarray(x, dtype=float), (T,)).copy() for x in init)
    if init not in STARTS:
        names = ", ".join(repr(name) for name in STARTS)
        raise InputError(f"init must be {names} or (alpha, mu), got {init!r}")
    return STARTS[init](opt, problem, T, momentum, safeguard, grid)


def optimized(opt, problem, T, steps=ADAM_STEPS, lr=ADAM_LR, init="auto", momentum=True, safeguard=True,
              penalty_weight=1e4, grid=DECAY_GRID):
    """One (alpha_t, mu_t) per step, t < T, locally minimizing L(T) (Section 2.3, "optimized schedule").

    Parameters (a_t, b_t) with alpha_t = exp(a_t), mu_t = 1 - exp(b_t) (mu = 0 if momentum=False), fitted by `steps`
    Adam steps of learning rate `lr` (the paper: 500 steps at 0.003) on the gradient from the generated adjoint
    through the T-step rollout; the best iterate is kept.

    init, a name in STARTS: "auto" (default: whichever of "decay-grid" and "greedy" has the lower L(T) among those
    that satisfy the safeguard), "decay-grid" (the best exponentially decaying schedule of `decay_grid` on `grid`),
    "fixed-grid" (the best constant (alpha, mu) of `fixed_grid`), "greedy" (the greedy schedule, alpha floored at
    1e-12 and mu capped at 0.999 for the parameterization); or a pair (alpha, mu).

    safeguard (the paper's bound, Section 2.3): no coordinate's loss component may exceed its initial value,
    L_i(t) <= L_i(0) for all t, i. During the fit: the penalty penalty_weight * sum_{t,i} relu(L_i(t)/L_i(0) - 1)^2
    added to L(T); afterwards the learning-rate bound `project_safeguard` caps each alpha_t so that the constraint
    holds exactly. Extras: "history" (objective per Adam step), "violation" (max_{t,i} L_i(t)/L_i(0) - 1; <= 0 iff
    the constraint holds), "init" (the starting schedule's final loss).
    """
    alpha0, mu0 = start(opt, problem, T, init, momentum, safeguard, grid)
    a0, b0 = to_params(alpha0, mu0)
    zeros = np.zeros(T)

    def schedule(x):
        return from_params(x[:T], x[T:]) if momentum else (anp.exp(x), zeros)

    def objective(x):
        alpha, mu = schedule(x)
        return opt.final_loss(problem, alpha, mu, penalty_weight if safeguard else 0.0)

    x, _, history = adam_fit(objective, np.concatenate([a0, b0]) if momentum else a0, steps, lr, desc="optimized")
    alpha, mu = (np.asarray(v, dtype=float) for v in schedule(x))
    if safeguard:
        alpha = project_safeguard(opt, problem, alpha, mu)
    init_loss = float(opt.final_loss(problem, np.asarray(alpha0, float), np.asarray(mu0, float)))
    return schedule_result(opt, problem, alpha, mu, history=np.array(history), init=init_loss,
                           violation=constraint_violation(opt, problem, alpha, mu))
