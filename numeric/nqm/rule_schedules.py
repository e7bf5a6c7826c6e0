"""Fixed and optimized schedules for any update rule of the registry (Section 2.3, as numeric/nqm/schedules.py).

The same fits as numeric/nqm/schedules.py's `fixed` and `optimized`, with the rule's own T-step loss
(`Optimizer.final_loss`, differentiated through its generated adjoint) in place of heavy ball's:

- fixed: one (alpha, mu) for all T steps, the best point of nqm_schedules' grid refined by Adam on
  (log alpha, log(1 - mu)) (nqm_schedules.adam_fit, to_params, from_params);
- optimized: one (alpha_t, mu_t) per step from the better admissible start of the rule's greedy schedule
  and the best exponentially decaying schedule alpha0 f^(t/(T-1)) of nqm_schedules' grid, fitted by Adam
  on L(T) plus the safeguard penalty, then each alpha_t capped at the exact bound that keeps every loss
  component at or below its initial value (nqm_schedules.learning_rate_bound with the rule's generated
  one-step loss).

Functions take an `Optimizer` of numeric/nqm/optimizers.py and its options as keywords; `grid` replaces the
starting grid (the fixed fit's (alphas, mus), the decaying start's (alpha0s, mus, finals); nqm_schedules' by
default) where a caller trades the start's quality for time (the `optimizers` figure's quick scale).
"""
import numpy as np

from shb.numeric.nqm import rule_dynamics as nqm_rule_dynamics
from shb.numeric.nqm.schedules import (DECAY_GRID_ALPHA0, DECAY_GRID_FINAL, DECAY_GRID_MU, FIXED_GRID_ALPHA,
                                       FIXED_GRID_MU, adam_fit, from_params, learning_rate_bound, to_params)


def _result(opt, problem, alpha, mu, options, **extra):
    alpha, mu = np.asarray(alpha, dtype=float), np.asarray(mu, dtype=float)
    return {"alpha": alpha, "mu": mu, "loss": opt.loss_curve(problem, alpha, mu, **options), **extra}


def _finite(losses):
    return np.where(np.isfinite(losses), losses, np.inf)


FIXED_GRID = (FIXED_GRID_ALPHA, FIXED_GRID_MU)
DECAY_GRID = (DECAY_GRID_ALPHA0, DECAY_GRID_MU, DECAY_GRID_FINAL)


def fixed(opt, problem, T, steps=500, lr=0.003, grid=FIXED_GRID, **options):
    """One (alpha, mu) for all T steps minimizing the rule's L(T): grid start, then Adam. Extras: "history"."""
    A, M = (x.reshape(-1, 1) for x in np.meshgrid(*grid, indexing="ij"))
    ones = np.ones(T)
    with np.errstate(over="ignore", invalid="ignore"):
        k = int(np.argmin(_finite(opt.final_loss(problem, A * ones, M * ones, **options))))
    x0 = np.array(to_params(A[k, 0], M[k, 0]))

    def objective(x):
        alpha, mu = from_params(x[0], x[1])
        return opt.final_loss(problem, alpha * ones, mu * ones, **options)

    x, _, history = adam_fit(objective, x0, steps, lr, desc="fixed")
    alpha, mu = (float(v) for v in from_params(x[0], x[1]))
    return _result(opt, problem, alpha * ones, mu * ones, options, history=np.array(history))


def decay_start(opt, problem, T, grid=DECAY_GRID, **options):
    """The best admissible alpha_t = alpha0 f^(t/(T-1)), mu_t = mu on the (alpha0, mu, f) grid (nqm_schedules')."""
    A, M, F = (x.reshape(-1, 1) for x in np.meshgrid(*grid, indexing="ij"))
    alphas, mus = A * F ** (np.arange(T) / max(T - 1, 1)), M * np.ones(T)
    losses = np.full(len(alphas), np.inf)
    for lo in range(0, len(alphas), 128):  # 128 schedules at a time bounds the memory
        part = slice(lo, lo + 128)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = _finite(opt.final_loss(problem, alphas[part], mus[part], **options))
            ok = opt.max_component_ratio(problem, alphas[part], mus[part], **options) <= 1.0
        losses[part] = np.where(ok, loss, np.inf)
    k = int(np.argmin(losses))
    if not np.isfinite(losses[k]):  # nothing admissible: start from tiny steps
        return np.full(T, np.min(grid[0]) * 1e-3), np.zeros(T)
    return alphas[k].copy(), mus[k].copy()


def project_safeguard(opt, problem, alpha, mu, **options):
    """Cap each alpha_t at the largest value keeping every loss component at or below its initial value,
    given the capped past (the rule's one-step loss is a quadratic in alpha at a given mu for every rule)."""
    alpha, mu = np.array(alpha, dtype=float), np.asarray(mu, dtype=float)
    rule, T = opt.rule, alpha.size
    extras = nqm_rule_dynamics.extras_at(rule, opt.extras(problem, T, **options), T)
    step, to_raw, one_step = (nqm_rule_dynamics.generated(rule, k) for k in ("step", "raw_moments", "one_step_loss"))
    stats = nqm_rule_dynamics.initial_central(rule, problem.mean0, problem.var0, problem.h.shape)
    start = nqm_rule_dynamics.loss_of(rule, problem.h, to_raw(*stats))
    for t in range(T):
        raw = to_raw(*stats)
        upper, lower = learning_rate_bound(problem, None, mu[t], start, one_step=lambda a: one_step(
            a, mu[t], problem.h, problem.sigma2, *extras[t], *raw))
        if alpha[t] > upper >= lower:
            alpha[t] = max(upper, 0.0)
        stats = step(alpha[t], mu[t], problem.h, problem.sigma2, *extras[t], *stats)
    return alpha


def optimized(opt, problem, T, steps=500, lr=0.003, penalty_weight=1e4, grid=DECAY_GRID, **options):
    """One (alpha_t, mu_t) per step locally minimizing the rule's L(T) under the safeguard (see the module
    docstring). Extras: "history", "init" (the start's L(T)), "violation" (max_{t,i} L_i(t)/L_i(0) - 1)."""
    greedy = opt.greedy(problem, T, **options)
    candidates = [decay_start(opt, problem, T, grid, **options),
                  (np.maximum(greedy["alpha"], 1e-12), np.minimum(greedy["mu"], 0.999))]
    scores = []
    for alpha, mu in candidates:
        with np.errstate(over="ignore", invalid="ignore"):
            loss = float(opt.final_loss(problem, alpha, mu, **options))
        ok = np.isfinite(loss) and opt.max_component_ratio(problem, alpha, mu, **options) <= 1.0
        scores.append(loss if ok else np.inf)
    alpha0, mu0 = candidates[int(np.argmin(scores))]

    def objective(x):
        alpha, mu = from_params(x[:T], x[T:])
        return opt.final_loss(problem, alpha, mu, penalty_weight, **options)

    x, _, history = adam_fit(objective, np.concatenate(to_params(alpha0, mu0)), steps, lr, desc="optimized")
    alpha, mu = (np.asarray(v, dtype=float) for v in from_params(x[:T], x[T:]))
    alpha = project_safeguard(opt, problem, alpha, mu, **options)
    violation = float(opt.max_component_ratio(problem, alpha, mu, **options)) - 1.0
    return _result(opt, problem, alpha, mu, options, history=np.array(history), violation=violation,
                   init=float(opt.final_loss(problem, alpha0, mu0, **options)))
