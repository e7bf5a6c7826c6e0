"""Independent references for the NQM figures' evidence: second methods that share no code path with what they check.

- `conjugate_gradient_losses`: textbook conjugate gradient (Hestenes & Stiefel) on the deterministic quadratic
  f(x) = 1/2 sum_i h_i x_i^2 from x_0 = E[theta_0], its loss f(x_t) per step. With sigma2 = 0 and V[theta_0] = 0,
  greedy heavy ball (Theorem 2) is conjugate gradient (Section 2.1), so its loss curve must be this one; the
  greedy schedule comes from the generated greedy sums of symbolic/greedy.py, this from three inner products.
- `engine_horizon_loss`: the K-step lookahead loss L_K(alpha, mu) (numeric/nqm/horizon.py's objective) from the
  rule engine's heavy-ball moment step (numeric/nqm/generated_rules.py, derived by symbolic/rule_moments.py from
  the update itself), K steps of the central moments with a constant pair; horizon.py instead runs jets through
  the rank-one adjoint of symbolic/adjoint.py. `engine_moments` gives the moments each plan saw, by the rule
  engine's rollout.
- `search_minimum`: a minimiser of such a loss from its values alone, over the lookahead's domain (|mu| <= a
  bound, alpha > 0): a grid, then quasi-Newton (BFGS) on log L_K in (log a, mu), a = alpha / (1 - mu), with
  central-difference gradients, from the grid's lowest points. The planner (numeric/nqm/lookahead.py) uses
  safeguarded Newton on exact jets from other starts: the two share neither the objective's code nor the search.
"""
import numpy as np

from shb.numeric.nqm import rule_dynamics as nqm_rule_dynamics

RULE = "heavy_ball"


def conjugate_gradient_losses(h, x0, T):
    """f(x_t) = 1/2 sum h x_t^2 for t = 0..T of conjugate gradient on diag(h) from x0 (stops moving once the
    residual is exactly 0)."""
    h, x = np.asarray(h, dtype=float), np.array(x0, dtype=float)
    r = -h * x
    p = r.copy()
    losses = [0.5 * np.sum(h * x * x)]
    for _ in range(T):
        rr = r @ r
        if rr == 0:
            losses.append(losses[-1])
            continue
        hp = h * p
        step = rr / (p @ hp)
        x = x + step * p
        r = r - step * hp
        p = r + (r @ r) / rr * p
        losses.append(0.5 * np.sum(h * x * x))
    return np.array(losses)


def engine_moments(problem, schedule):
    """The central moments (mean_theta, mean_v, var_theta, var_v, cov_theta_v) before each step of `schedule`
    under the problem's sigma2, by the rule engine's rollout: a tuple of arrays (T + 1, d)."""
    out = nqm_rule_dynamics.rollout(RULE, problem, np.asarray(schedule["alpha"], dtype=float),
                                    np.asarray(schedule["mu"], dtype=float), {})
    return tuple(out[name] for name in nqm_rule_dynamics.spec(RULE)["central"])


def engine_horizon_loss(stats, alpha, mu, h, sigma2, K):
    """L_K at the pairs (alpha, mu) (arrays of one shape) from the central moments `stats` (d,): K steps of the
    rule engine's heavy-ball moment step with the pair held constant, then 1/2 sum_i h_i E[theta_i^2]."""
    alpha, mu = np.asarray(alpha, dtype=float)[..., None], np.asarray(mu, dtype=float)[..., None]
    step, to_raw = nqm_rule_dynamics.generated(RULE, "step"), nqm_rule_dynamics.generated(RULE, "raw_moments")
    state = tuple(np.broadcast_to(s, np.broadcast_shapes(alpha.shape, np.shape(s))) for s in stats)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(K):
            state = step(alpha, mu, h, sigma2, *state)
        losses = nqm_rule_dynamics.loss_of(RULE, h, to_raw(*state)).sum(axis=-1)
    return np.where(np.isfinite(losses), losses, np.inf)


# The search's grid: alpha = f * 2 (1 + mu) / max h (a fraction of the stiffest coordinate's stability limit) and
# mu; then quasi-Newton (BFGS) on log L_K in (log a, mu) with central-difference gradients of step EPS, a line
# search over the step lengths LENGTHS, until a step moves less than MIN_STEP or ITERATIONS.
SEARCH_F = np.concatenate([np.geomspace(1e-4, 0.4, 12), 1.0 - np.geomspace(0.6, 0.002, 20)])
SEARCH_MU = np.linspace(-0.5, 0.98, 25)
SEARCH_STARTS = 8
EPS, MIN_STEP, ITERATIONS = 1e-6, 1e-11, 200
LENGTHS = 0.5 ** np.arange(16)
_AXES = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])


def search_minimum(loss, h_max, mu_bound):
    """(alpha, mu, value): the lowest point found by the grid and quasi-Newton search (module docstring) of
    loss(alpha, mu) (vectorized over arrays of pairs) within |mu| <= mu_bound, alpha > 0."""
    F, M = np.meshgrid(SEARCH_F, SEARCH_MU[np.abs(SEARCH_MU) <= mu_bound], indexing="ij")
    alpha, mu = (F * 2 * (1 + M) / h_max).ravel(), M.ravel()
    values = loss(alpha, mu)
    best = np.argsort(values)[:SEARCH_STARTS]
    x = np.stack([np.log(alpha[best] / (1 - mu[best])), mu[best]], axis=1)  # (starts, 2) in (log a, mu)

    def f(points):  # log L_K at points (..., 2) in (log a, mu), mu clipped to the domain
        m = np.clip(points[..., 1], -mu_bound, mu_bound)
        with np.errstate(divide="ignore", over="ignore"):
            return np.log(loss(np.exp(points[..., 0]) * (1 - m), m))

    def gradient(points):
        v = f(points[:, None, :] + EPS * _AXES[None])
        return np.stack([v[:, 0] - v[:, 1], v[:, 2] - v[:, 3]], axis=1) / (2 * EPS)

    value, g = f(x), gradient(x)
    inverse = np.broadcast_to(np.eye(2), (len(x), 2, 2)).copy()
    active = np.isfinite(value)
    for _ in range(ITERATIONS):
        if not active.any():
            break
        direction = -np.einsum("sij,sj->si", inverse, g)
        trial = x[:, None, :] + LENGTHS[None, :, None] * direction[:, None, :]
        trial_value = f(trial)
        k = np.argmin(trial_value, axis=1)
        lower = active & (trial_value[np.arange(len(k)), k] < value)
        step = np.where(lower[:, None], trial[np.arange(len(k)), k] - x, 0.0)
        x = x + step
        value = np.where(lower, trial_value[np.arange(len(k)), k], value)
        new_g = gradient(x)
        y = new_g - g
        sy = np.einsum("si,si->s", step, y)
        update = lower & (sy > 0)
        rho = np.where(update, 1 / np.where(update, sy, 1.0), 0.0)
        eye = np.eye(2)[None]
        left = eye - rho[:, None, None] * step[:, :, None] * y[:, None, :]
        refreshed = left @ inverse @ np.swapaxes(left, 1, 2) + rho[:, None, None] * step[:, :, None] * step[:, None, :]
        inverse = np.where(update[:, None, None], refreshed, inverse)
        g = new_g
        active = lower & (np.abs(step).max(axis=1) > MIN_STEP)
    j = int(np.argmin(value))
    m = float(np.clip(x[j, 1], -mu_bound, mu_bound))
    with np.errstate(over="ignore"):
        alpha = float(np.exp(x[j, 0]) * (1 - m))
    return alpha, m, float(loss(alpha, m))
