"""Monte-Carlo simulation of SGD with momentum on the NQM: the independent check of Theorem 1.

Each run draws theta_i(0) ~ N(mean0_i, var0_i), sets v(0) = 0, and applies the stochastic update of
Section 2.2 itself (Eqs. 1-3), never the moment recursion:

    c_i ~ N(0, sigma2_i)  (so the stochastic gradient is h_i (theta_i - c_i) = h_i theta_i - h_i sqrt(sigma2_i) xi_i),
    v'     = mu_t v - alpha_t (h theta - h sqrt(sigma2) xi),
    theta' = theta + v'.

Runs are independent and vectorized (an array of shape (runs, d)), processed in chunks to bound
memory; per-chunk moments are merged exactly (Chan, Golub & LeVeque's pairwise update), so the
result does not depend on the chunk size beyond rounding. Seeded with numpy's Generator.
"""
import numpy as np

MOMENTS = ("mean_theta", "var_theta", "mean_v", "var_v")


def _merge(acc, n_b, mean_b, m2_b):
    """Merge (count, mean, sum of squared deviations) of two samples (Chan et al. 1979)."""
    n_a, mean_a, m2_a = acc
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + delta**2 * (n_a * n_b / n)
    return n, mean, m2


def simulate(problem, alpha, mu, runs, seed, steps=None, chunk=None):
    """Sample moments of theta and v over `runs` independent runs of SGD with momentum.

    alpha, mu: the schedule, shape (T,). steps: the steps t in 0..T at which to report (default: [T]).
    Returns a dict with "steps" and arrays "mean_theta", "var_theta", "mean_v", "var_v" of shape
    (len(steps), d): sample means and sample variances with ddof = 1.
    """
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if alpha.ndim != 1 or alpha.shape != mu.shape:
        raise ValueError(f"alpha {alpha.shape} and mu {mu.shape} must both have shape (T,)")
    if not (isinstance(runs, (int, np.integer)) and runs >= 2):
        raise ValueError(f"runs must be an integer >= 2 (a sample variance needs two runs), got {runs!r}")
    T = alpha.size
    steps = [T] if steps is None else sorted(set(int(t) for t in steps))
    if steps and (steps[0] < 0 or steps[-1] > T):
        raise ValueError(f"requested steps must lie in 0..{T}, got {steps}")
    report = {t: k for k, t in enumerate(steps)}
    d = problem.h.size
    if chunk is None:  # about a million samples of (theta, v) per chunk
        chunk = max(1, min(runs, 1_000_000 // d))
    noise_scale = problem.h * np.sqrt(problem.sigma2)
    rng = np.random.default_rng(seed)
    zero = np.zeros((len(steps), d))
    acc = {"theta": (0, zero, zero), "v": (0, zero, zero)}
    for start in range(0, runs, chunk):
        n = min(chunk, runs - start)
        theta = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((n, d))
        v = np.zeros((n, d))
        part = {name: (np.empty((len(steps), d)), np.empty((len(steps), d))) for name in ("theta", "v")}
        for t in range(T + 1):
            if t in report:
                for name, x in (("theta", theta), ("v", v)):
                    mean = x.mean(axis=0)
                    part[name][0][report[t]] = mean
                    part[name][1][report[t]] = ((x - mean) ** 2).sum(axis=0)
            if t == T:
                break
            xi = rng.standard_normal((n, d))
            v = mu[t] * v - alpha[t] * (problem.h * theta - noise_scale * xi)
            theta = theta + v
        for name in ("theta", "v"):
            acc[name] = _merge(acc[name], n, *part[name])
    out = {"steps": np.array(steps)}
    for name in ("theta", "v"):
        n, mean, m2 = acc[name]
        out["mean_" + name] = mean
        out["var_" + name] = m2 / (n - 1)
    return out


# Seconds per (run, step, coordinate) of `simulate`: one normal draw and a few multiply-adds, measured with
# one BLAS thread (an estimate for refusing what would take days, not a promise).
SECONDS_PER_SAMPLE_STEP = 3e-8


def simulate_cost(d, T, runs, n_steps=1):
    """(bytes, seconds) that `simulate` needs: a chunk of about a million (theta, v) samples and its temporaries
    (nine float64 arrays of the chunk's size at the peak, an upper bound), plus the reported moments, and one update
    per run, step and coordinate."""
    chunk = max(1, min(runs, 1_000_000 // d))
    return 8 * (9 * chunk * d + 12 * n_steps * d), SECONDS_PER_SAMPLE_STEP * runs * T * d


def sample_paths(problem, alpha, mu, runs, seed):
    """theta(t) for t = 0..T of `runs` independent runs (shape (runs, T+1, d)): whole trajectories
    of the same stochastic update as `simulate`, for drawing (Figure 1)."""
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    rng = np.random.default_rng(seed)
    d = problem.h.size
    theta = problem.mean0 + np.sqrt(problem.var0) * rng.standard_normal((runs, d))
    v = np.zeros((runs, d))
    path = [theta]
    noise_scale = problem.h * np.sqrt(problem.sigma2)
    for t in range(alpha.size):
        xi = rng.standard_normal((runs, d))
        v = mu[t] * v - alpha[t] * (problem.h * theta - noise_scale * xi)
        theta = theta + v
        path.append(theta)
    return np.stack(path, axis=1)
