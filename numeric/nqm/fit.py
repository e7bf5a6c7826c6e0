"""Per-step schedules fitted for a batch of problems at once, for any update rule: the search for the best schedule
of each cell of the atlas (experiments/figures/atlas.py).

Each schedule b minimizes the log of its own problem's final loss, log L_b(T) (Theorem 1; the log makes the fit
scale-free, so a cell whose loss is 1e-20 is fitted as well as one whose loss is 1e2), over alpha_t = exp(a_t),
mu_t = 1 - exp(b_t) (the parameterization of numeric/nqm/schedules.py), by Adam (numeric/optim.py), without the
safeguard: the atlas asks for the lowest final loss any schedule reaches. The gradient is the generated rank-one
adjoint (numeric/nqm/adjoint.py, `rank_one`), which broadcasts over a leading batch of problems: a Problem whose
h, sigma2, mean0, var0 have shape (B, d), with schedules (B, T); the rule's extras are shared by the batch. The best iterate of each schedule is kept, so no fit ends
above its start.
"""
import numpy as np

from shb.numeric.nqm import adjoint
from shb.numeric.nqm.schedules import from_params, to_params
from shb.numeric.optim import adam


def final_losses(opt, problem, alpha, mu):
    """L_b(T) of each schedule b of shape (B, T) on its own problem (B, d) (plain numpy, no gradient)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return opt.final_loss(problem, alpha, mu)


def fit(opt, problem, alpha0, mu0, steps, lr):
    """Adam on log L_b(T) from the schedules (alpha0, mu0) (B, T): returns (alpha, mu, L(T)) of each schedule's
    best iterate. A schedule whose loss or gradient is not finite keeps its best iterate so far."""
    a, b = to_params(alpha0, mu0)
    x = np.stack([a, b])
    init, update = adam(lr)
    state = init(x)
    best_x, best = x.copy(), np.full(x.shape[1], np.inf)
    extras = opt.extras(problem, x.shape[-1])
    for step in range(steps + 1):
        alpha, mu = from_params(x[0], x[1])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, grad_alpha, grad_mu = adjoint.rank_one(opt.rule, alpha, mu, *problem, extras)
            better = np.isfinite(loss) & (loss < best)
            best_x[:, better], best[better] = x[:, better], loss[better]
            if step == steps:
                break
            # d log L / d a = (dL/dalpha) alpha / L, d log L / d b = -(dL/dmu) exp(b) / L
            grad = np.stack([grad_alpha * alpha, -grad_mu * np.exp(x[1])]) / loss[:, None]
        grad = np.where(np.isfinite(grad) & np.isfinite(loss)[:, None], grad, 0.0)
        x, state = update(grad, state, x)
    alpha, mu = from_params(best_x[0], best_x[1])
    return alpha, mu, best
