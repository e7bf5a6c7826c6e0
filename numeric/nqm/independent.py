"""Independent references for the NQM figures' evidence: second methods that share no code path with what they check.

- `conjugate_gradient_losses`: textbook conjugate gradient (Hestenes & Stiefel) on the deterministic quadratic
  f(x) = 1/2 sum_i h_i x_i^2 from x_0 = E[theta_0], its loss f(x_t) per step. With sigma2 = 0 and V[theta_0] = 0,
  greedy heavy ball (Theorem 2) is conjugate gradient (Section 2.1), so its loss curve must be this one; the
  greedy schedule comes from the generated greedy sums (symbolic/rule_greedy.py), this from three inner products.
- `second_moments` and `horizon_loss`: heavy ball's raw second moment M = E[z z^T] of its state z = (theta, v), per
  coordinate, propagated by 2 x 2 matrices written here from the update rule itself (Eqs. 1-2 with the NQM's
  gradient h theta - h sqrt(sigma2) xi, xi ~ N(0, 1); the products entry by entry, in numpy):

      v' = mu v - alpha (h theta - h sqrt(sigma2) xi),   theta' = theta + v'
      z' = F z + b xi,   F = [[1 - alpha h, mu], [-alpha h, mu]],   b = alpha h sqrt(sigma2) (1, 1)
      M' = F M F^T + b b^T,   M_0 = [[mean0^2 + var0, 0], [0, 0]]   (v_0 = 0),

  and the K-step lookahead loss L_K(alpha, mu) = 1/2 sum_i h_i M_theta,theta after K steps with the pair held
  constant (numeric/nqm/horizon.py's objective). What it shares with the planner (numeric/nqm/lookahead.py,
  horizon.py) and the certificates (lookahead_checks.py): the problem's arrays, the schedule it is given, the
  reading of the update rule and numpy. What it does not: no symbolic derivation, no generated code
  (numeric/nqm/generated.py), no import of numeric/nqm's engine (rules, dynamics, adjoint, horizon, lookahead),
  and not their algebra: they propagate central moments or run second-order jets through the rank-one adjoint
  (direction_step, noise_form); this multiplies the moment matrix forwards.
- `search_minimum`: a minimiser of such a loss from its values alone, over the lookahead's domain (|mu| <= a
  bound, alpha > 0): a grid, then quasi-Newton (BFGS) on log L_K in (log a, mu), a = alpha / (1 - mu), with
  central-difference gradients, from the grid's lowest points. The planner uses safeguarded Newton on exact jets
  from other starts: the two share neither the objective's code nor the search.
"""
import numpy as np


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


def _transition(alpha, mu, h, sigma2):
    """F = [[F_00, F_01], [F_10, F_11]] and b^2 of heavy ball's update z' = F z + b xi (module docstring), per
    coordinate, as arrays broadcast from alpha, mu, h, sigma2 (b b^T has b^2 in every entry)."""
    alpha, mu, h, sigma2 = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (alpha, mu, h, sigma2)))
    F = [[1.0 - alpha * h, mu],   # theta' = theta + v' = (1 - alpha h) theta + mu v + b xi
         [-alpha * h, mu]]        # v' = -alpha h theta + mu v + b xi
    b = alpha * h * np.sqrt(sigma2)  # the noise enters v' and so theta' alike
    return F, b * b


def _step(M, F, bb):
    """M' = F M F^T + b b^T, the 2 x 2 products written out entry by entry (M, F: nested lists of arrays; numpy's
    matmul over a million 2 x 2 matrices at a time is about six times slower here)."""
    FM = [[F[i][0] * M[0][j] + F[i][1] * M[1][j] for j in range(2)] for i in range(2)]
    return [[FM[i][0] * F[j][0] + FM[i][1] * F[j][1] + bb for j in range(2)] for i in range(2)]


def second_moments(problem, schedule):
    """E[z z^T] of heavy ball's state z = (theta, v) before each step of `schedule` and after the last, under the
    problem's sigma2: an array (T + 1, d, 2, 2)."""
    alpha, mu = np.asarray(schedule["alpha"], dtype=float), np.asarray(schedule["mu"], dtype=float)
    zero = np.zeros(np.shape(problem.h))
    M = [[np.asarray(problem.mean0, dtype=float) ** 2 + problem.var0 + zero, zero], [zero, zero]]  # v_0 = 0
    out = [M]
    for a, m in zip(alpha, mu):
        M = _step(M, *_transition(a, m, problem.h, problem.sigma2))
        out.append(M)
    return np.stack([np.stack([np.stack(row, axis=-1) for row in M], axis=-2) for M in out])


def horizon_loss(M, alpha, mu, h, sigma2, K):
    """L_K at the pairs (alpha, mu) (arrays of one shape) from the second moments M (d, 2, 2) before the K steps: K
    steps of M' = F M F^T + b b^T with the pair held constant and noise sigma2, then 1/2 sum_i h_i E[theta_i^2]."""
    alpha, mu = np.asarray(alpha, dtype=float)[..., None], np.asarray(mu, dtype=float)[..., None]
    F, bb = _transition(alpha, mu, h, sigma2)
    M = [[np.asarray(M)[..., i, j] for j in range(2)] for i in range(2)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(K):
            M = _step(M, F, bb)
        losses = 0.5 * np.sum(np.asarray(h, dtype=float) * M[0][0], axis=-1)
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
